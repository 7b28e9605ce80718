"""Widget choices that outlive their page.

Streamlit forgets the state of a widget that a run does not draw, so leaving a page resets its pickers.
`kept(key)` mirrors a widget's value into a session key no widget owns, and puts it back when the page is
drawn again: pass it as the widget's key (a multiselect's: `kept_selection`)."""

from collections.abc import Collection

import streamlit as st

_MIRROR = "kept:"


def kept(key: str, options: Collection | None = None) -> str:
    """`key`, its widget's last value restored when Streamlit dropped it (its page was not drawn); a value
    no longer among `options` (a deleted record) is forgotten, so the widget starts at its default."""
    mirror = _MIRROR + key
    if key in st.session_state:
        st.session_state[mirror] = st.session_state[key]
    elif mirror in st.session_state:
        st.session_state[key] = st.session_state[mirror]
    if options is not None and key in st.session_state and st.session_state[key] not in options:
        del st.session_state[key], st.session_state[mirror]
    return key


def kept_selection(key: str, options: Collection, default: list) -> str:
    """`kept(key)` for a multiselect: its last selection, less what is no longer among `options`, and `default`
    on a first visit. Give the widget no `default` of its own: Streamlit warns of one beside a value in the session."""
    kept(key)
    st.session_state[key] = [option for option in st.session_state.get(key, default) if option in options]
    return key
