"""Policy comparison: the same scenario and seed under each declared buffer policy on one buffer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from .. import semantics
from ..errors import Problem, ScenarioError
from ..results import Results
from ..scenario import Scenario
from ..units import format_bytes, format_duration
from .knobs import DEFAULT_CAPACITY
from .library import load_text, problem_lines, read_data, write_yaml
from .running import run_text

__all__ = ["comparison_figures", "compared_policies", "buffer_names", "policy_variants", "split_valid", "compare_policies",
           "comparison_table"]


def compared_policies() -> tuple[str, ...]:
    """Every declared policy, the failure modes in teaching order: those that drop, those that block,
    then those with no bound (`simbp.semantics`; declaration order within each)."""
    names = semantics.policy_names()
    return tuple(sorted(names, key=lambda name: (not semantics.policy(name).bounded, semantics.policy(name).blocks)))


def buffer_names(scenario: Scenario) -> list[str]:
    """Buffers a policy comparison can be applied to, in file order."""
    return [b.name for b in scenario.buffers]


def policy_variants(text: str, buffer: str | None = None, capacity: int | None = None) -> dict[str, str]:
    """The scenario YAML once per policy (`compared_policies()`) on one buffer.

    The buffer defaults to the first; bounded variants of an unbounded buffer get `capacity`
    (default `DEFAULT_CAPACITY`); an unbounded policy removes the capacity, and every policy that
    does not block removes `block_timeout`.
    """
    data = read_data(text)
    buffers = data.get("buffers") or []
    names = [b.get("name") for b in buffers if isinstance(b, dict)]
    if not names:
        raise ScenarioError([Problem("buffers", "the scenario has no buffer to compare policies on", None, None)])
    name = buffer if buffer is not None else names[0]
    if name not in names:
        raise ScenarioError([Problem("buffers", f"no buffer named {name!r} (buffers: {', '.join(map(str, names))})", None, None)])
    index = names.index(name)
    original = buffers[index]
    bound = capacity if capacity is not None else original.get("capacity", DEFAULT_CAPACITY)
    variants: dict[str, str] = {}
    for policy in compared_policies():
        variant = dict(original)
        variant["policy"] = policy
        meaning = semantics.policy(policy)
        if meaning.bounded:
            variant["capacity"] = int(bound)
        else:
            variant.pop("capacity", None)
        if not meaning.blocks:
            variant.pop("block_timeout", None)
        copy = dict(data)
        copy["buffers"] = [*buffers[:index], variant, *buffers[index + 1:]]
        variants[policy] = text if variant == original else write_yaml(copy)
    return variants


def split_valid(variants: dict[str, str], *, base_dir: Path | str | None = None) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Variants that validate, and the problems of those that do not (a Node.js writable only
    allows `unbounded`; a caller timeout rules out `drop_oldest`, …)."""
    valid: dict[str, str] = {}
    invalid: dict[str, list[str]] = {}
    for policy, variant in variants.items():
        try:
            load_text(variant, base_dir=base_dir)
        except ScenarioError as error:
            invalid[policy] = problem_lines(error)
        else:
            valid[policy] = variant
    return valid, invalid


def compare_policies(text: str, seed: int | None = None, *, buffer: str | None = None, capacity: int | None = None,
                     base_dir: Path | str | None = None, runner: Callable[[str, int | None], Results] | None = None,
                     progress: Callable[[float], None] | None = None) -> dict[str, Results]:
    """Run the same scenario and seed under each policy on one buffer (see `policy_variants`).

    Policies the scenario does not allow on that buffer are left out (`split_valid` says why).
    `runner(text, seed)` runs one variant (the dashboard passes its cached runner); `progress`
    gets the overall fraction done.
    """
    variants, _ = split_valid(policy_variants(text, buffer, capacity), base_dir=base_dir)
    results: dict[str, Results] = {}
    for number, (policy, variant) in enumerate(variants.items()):
        if runner is not None:
            results[policy] = runner(variant, seed)
        else:
            part = (lambda f, n=number: progress((n + f) / len(variants))) if progress else None
            results[policy] = run_text(variant, seed, base_dir=base_dir, progress=part)
        if progress is not None:
            progress((number + 1) / len(variants))
    return results


def comparison_table(results: dict[str, Results]) -> pd.DataFrame:
    """One row per policy: verdict, loss, peak memory, p99 latency, blocking, crashes."""
    rows = []
    for policy, result in results.items():
        summary = result.summary
        latency = summary.get("latency_s") or {}
        rows.append({
            "policy": policy,
            "verdict": summary["verdict"],
            "produced": summary["produced"],
            "consumed": summary["consumed"],
            "dropped": summary["dropped"],
            "timed_out": summary["timed_out"],
            "lost_in_crash": summary["lost_in_crash"],
            "loss_ratio": summary["loss_ratio"],
            "peak_queue_depth": summary["peak_queue_depth"],
            "peak_memory_bytes": summary["peak_memory_bytes"],
            "p99_latency_s": latency.get("p99"),
            "producer_blocked_fraction": summary["producer_blocked_fraction"],
            "crashes": summary["crashes"],
        })
    return pd.DataFrame(rows).set_index("policy")


_SHOWN: tuple[tuple[str, str, Callable[[Any], str]], ...] = (("verdict", "verdict", str), ("loss", "loss_ratio", lambda v: f"{v:.2%}"),
          ("produced", "produced", lambda v: f"{v:,}"), ("consumed", "consumed", lambda v: f"{v:,}"),
          ("dropped", "dropped", lambda v: f"{v:,}"), ("timed out", "timed_out", lambda v: f"{v:,}"),
          ("lost in crash", "lost_in_crash", lambda v: f"{v:,}"), ("peak queue depth", "peak_queue_depth",
                                                                   lambda v: f"{v:,}"),
          ("peak memory", "peak_memory_bytes", lambda v: format_bytes(v)),
          ("p99 latency", "p99_latency_s", lambda v: "n/a" if v is None or v != v else format_duration(v)),
          ("producers blocked", "producer_blocked_fraction", lambda v: f"{v:.1%}"),
          ("crashes", "crashes", lambda v: f"{v:,}"))


def comparison_figures(table: pd.DataFrame) -> pd.DataFrame:
    """`comparison_table` for reading: a column per policy, a row per figure, in the headline figures'
    units (7.27%, 9.77MiB, 2.16s): short enough that nothing is cut on a projector. The CSV stays raw."""
    rows = {label: {policy: shown(table.loc[policy, column]) for policy in table.index}
            for label, column, shown in _SHOWN if column in table.columns}
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(table.index))
