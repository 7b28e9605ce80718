"""A message that outlives the rerun after an action: what a save did, shown once on the page drawn next,
while the form it came from is gone (a saved corpus's staged documents, an accepted draft's review)."""

import streamlit as st

_FLASHED = "flashed_messages"  # session key: (is a warning, text) to show once


def flash(text: str, warning: bool = False) -> None:
    """Show `text` once, on the next run of the page (call st.rerun() after)."""
    st.session_state.setdefault(_FLASHED, []).append((warning, text))


def show_flashed() -> None:
    """The flashed messages, each once, where this is called."""
    for warning, text in st.session_state.pop(_FLASHED, []):
        (st.warning if warning else st.success)(text)
