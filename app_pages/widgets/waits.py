"""A wait the user sees where its result will appear: work that can take over 2 s on a laptop (loading
a model, reading a big dataset, estimating) runs under a spinner in a slot of its own, drawn anew on
every run, so the last result never stands in for the one being made."""

from collections.abc import Callable
from typing import TypeVar

import streamlit as st

T = TypeVar("T")


def waited(message: str, compute: Callable[[], T]) -> T:
    """compute()'s output, with a spinner in its place while it runs."""
    slot = st.empty()
    with slot, st.spinner(message):
        return compute()
