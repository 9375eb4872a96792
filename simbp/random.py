"""Seeds as a tree: one `SeedSequence` per run, one child stream per named component.

A stream's numbers depend only on the run's seed and the stream's name, so adding a producer or
switching a buffer's policy leaves every other component's draws unchanged. Draws are made in
numpy blocks and handed out one by one through a C-level iterator (no Python call per draw).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from itertools import chain
from typing import Any

import numpy as np

from .scenario.distributions import _Constant, _Distribution, _Empirical, _Erlang, _Exponential, _Gamma, _Lognormal, _Pareto, _Uniform

__all__ = ["SeedTree", "sampler", "block_sampler", "BLOCK"]

BLOCK = 4096


class SeedTree:
    """Named, independent random generators derived from one run seed."""

    def __init__(self, seed: int):
        self.seed = int(seed)

    def generator(self, name: str) -> np.random.Generator:
        """The generator for stream `name` (stable across processes and Python versions)."""
        key = zlib.crc32(name.encode("utf-8"))
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence(self.seed, spawn_key=(key,))))


def block_sampler(draw: Callable[[int], np.ndarray], block: int = BLOCK) -> Iterator[float]:
    """An endless iterator of Python floats drawn `block` at a time by `draw(n)`."""
    return chain.from_iterable(iter(lambda: draw(block).tolist(), None))


def draw_function(dist: _Distribution, rng: np.random.Generator, base_dir: Any = None) -> Callable[[int], np.ndarray]:
    """A function drawing `n` values of `dist` from `rng` (numpy, vectorised)."""
    if isinstance(dist, _Constant):
        value = float(dist.value)
        return lambda n: np.full(n, value)
    if isinstance(dist, _Exponential):
        mean = dist.mean
        return lambda n: rng.exponential(mean, n)
    if isinstance(dist, _Uniform):
        low, high = dist.low, dist.high
        return lambda n: rng.uniform(low, high, n)
    if isinstance(dist, _Lognormal):
        sigma = dist.sigma
        mu = float(np.log(dist.mean) - sigma * sigma / 2)
        return lambda n: rng.lognormal(mu, sigma, n)
    if isinstance(dist, _Gamma):
        shape, scale = dist.shape, dist.mean / dist.shape
        return lambda n: rng.gamma(shape, scale, n)
    if isinstance(dist, _Erlang):
        k, scale = dist.k, dist.mean / dist.k
        return lambda n: rng.gamma(k, scale, n)
    if isinstance(dist, _Pareto):
        alpha, scale = dist.alpha, dist.scale
        return lambda n: scale * (1.0 + rng.pareto(alpha, n))
    if isinstance(dist, _Empirical):
        values = np.asarray(empirical_values(dist, base_dir), dtype=float)
        return lambda n: rng.choice(values, n)
    raise TypeError(f"no sampler for {dist!r}")


def sampler(dist: _Distribution, rng: np.random.Generator, base_dir: Any = None) -> Iterator[float]:
    """An endless iterator of draws from `dist`; a constant costs nothing per draw."""
    if isinstance(dist, _Constant):
        from itertools import repeat

        return repeat(float(dist.value))
    return block_sampler(draw_function(dist, rng, base_dir))


def empirical_values(dist: _Empirical, base_dir: Any) -> list[float]:
    """The values of an empirical distribution, reading its CSV once."""
    if dist.values is not None:
        return list(dist.values)
    if dist._loaded is None:
        from pathlib import Path

        from .scenario.rates import read_column

        values = read_column(Path(base_dir or "."), str(dist.file), dist.column)
        dist._loaded = [dist._parse(v) for v in values.tolist()]
    return dist._loaded
