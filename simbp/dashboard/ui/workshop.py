"""Workshop mode: a lesson path through the library, with predict-then-reveal.

Attendees read the question, commit to a prediction (the verdict, or a number), and only then see
the results, how close they were, what to look at, and the lesson; buttons set up what to try
next. The run is started while they think, so the reveal is instant.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from ... import dashboard
from ...scenario import VERDICTS
from .. import urlstate, workshop
from .common import POOL, run_page
from .setup import Setup, apply_link
from .whatif import show_results

__all__ = ["choose_lesson", "show_lesson"]


def _go(lesson_id: str) -> None:
    lesson = workshop.lesson_by_id(lesson_id)
    if lesson is not None:
        apply_link(urlstate.ShareState(scenario=lesson.file, view="workshop", lesson=lesson.id,
                                       present=bool(st.session_state.get("present"))))


def _chosen() -> None:
    _go(st.session_state["lesson"])


def choose_lesson() -> workshop.Lesson:
    """The lesson chooser (before the sidebar picks the scenario: the lesson decides it)."""
    ids = [lesson.id for lesson in workshop.LESSONS]
    if st.session_state.get("lesson") not in ids:
        st.session_state["lesson"] = ids[0]
        _go(ids[0])
    titles = {lesson.id: f"{number}. {lesson.title}" for number, lesson in enumerate(workshop.LESSONS, 1)}
    chosen = st.selectbox("lesson", ids, key="lesson", format_func=titles.__getitem__, on_change=_chosen)
    lesson = workshop.lesson_by_id(chosen)
    assert lesson is not None
    return lesson


def _try(params: dict[str, str], lesson: workshop.Lesson) -> None:
    state = urlstate.decode_state({"scenario": lesson.file, "view": "whatif", **params})
    state.lesson = lesson.id if state.view == "workshop" else None
    apply_link(state)


def show_lesson(setup: Setup, lesson: workshop.Lesson) -> None:
    number = workshop.LESSONS.index(lesson) + 1
    parts = workshop.split_description(setup.whatif.description)
    st.caption(f"Lesson {number} of {len(workshop.LESSONS)} · about {lesson.minutes} minutes · "
               f"scenario `{lesson.file}`")
    st.markdown(f"## {lesson.title}")
    st.markdown(f"### {parts.question or lesson.predict.label}")
    if parts.setup:
        st.markdown(parts.setup)
    key = dashboard.run_key(setup.whatif_text, setup.seed, setup.mode) + (setup.base_dir,)
    if POOL.get(key) is None:  # start the run while the room thinks
        POOL.submit(key, lambda deadline: dashboard.run_guarded(setup.whatif_text, setup.seed, base_dir=setup.base_dir,
                                                                 label=setup.label, mode=setup.mode, deadline=deadline,
                                                                 allow_slow=False))
    revealed: dict[str, Any] = st.session_state.setdefault("revealed", {})
    if lesson.id not in revealed:
        _predict(lesson)
        return
    results = run_page(setup.whatif_text, setup.seed, setup.base_dir, setup.label, setup.mode,
                       f"simulating {setup.whatif.name}…", confirm_key="lesson")
    if results is None:
        return
    guess = revealed[lesson.id]
    if guess is None:
        st.info(f"No prediction this time: it was **{workshop.shown_actual(lesson.predict, results.summary)}**.")
    else:
        judgement = workshop.judge(lesson.predict, guess, results.summary)
        shown = str(guess).replace("_", " ") if lesson.predict.kind == "verdict" else f"{guess:,.4g}"
        (st.success if judgement.close else st.warning)(f"You predicted **{shown}**. {judgement.words}.")
    if parts.look_at:
        st.info(f"**What to look at.** {parts.look_at}")
    show_results(results, key=key, heading="##")
    if parts.lesson:
        st.success(f"**Lesson.** {parts.lesson}")
    st.markdown("**Try next**")
    buttons = [*lesson.try_next]
    for column, (label, params) in zip(st.columns(max(len(buttons) + 1, 2)), buttons):
        column.button(label, key=f"try:{lesson.id}:{label}", on_click=_try, args=(params, lesson), wrap=True,
                      width="stretch")
    if number < len(workshop.LESSONS):
        following = workshop.LESSONS[number]
        st.button(f"Next lesson: {following.title} →", type="primary", on_click=_go, args=(following.id,))
    if st.button("Predict again", key=f"again:{lesson.id}"):
        revealed.pop(lesson.id, None)
        st.rerun()


def _predict(lesson: workshop.Lesson) -> None:
    prediction = lesson.predict
    with st.form(f"predict:{lesson.id}"):
        st.markdown(f"**Predict first:** {prediction.label}")
        if prediction.kind == "verdict":
            guess: Any = st.radio("your prediction", VERDICTS, index=None, horizontal=True,
                                  format_func=lambda v: v.replace("_", " "), label_visibility="collapsed")
        else:
            unit = f" ({prediction.unit})" if prediction.unit else ""
            guess = st.number_input(f"your estimate{unit}", min_value=0.0, value=None, step=1.0,
                                    placeholder="a number")
        submitted = st.form_submit_button("Reveal", type="primary")
    st.caption("The results stay hidden until you reveal them, so everyone commits to a guess first.")
    if submitted:
        st.session_state["revealed"][lesson.id] = guess
        st.rerun()
