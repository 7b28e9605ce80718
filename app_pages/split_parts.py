"""Which split part a page measures on: the test part where the dataset has one, chosen nothing; a
validation figure says it chose the models kept."""

import streamlit as st

from app_pages.kept_choices import kept
from ragtune_core.questions import TEST, TRAIN, VAL, QADataset, part_caveat, reported_part

PART_LABELS = {TEST: "test split (held out)", VAL: "validation split", TRAIN: "training split", "all": "all"}


def part_picker(dataset: QADataset, key: str) -> str:
    """A radio over the dataset's parts, the reported one first; a caption when the pick is validation."""
    reported, _ = reported_part(dataset)
    present = set(dataset.split.values())
    parts = [reported] + [
        part for part in (TEST, VAL, TRAIN, "all") if part != reported and (part in present or part == "all")
    ]
    part = st.radio("Queries", parts, horizontal=True, format_func=PART_LABELS.get, key=kept(key, parts))
    caveat = part_caveat(dataset, part)
    if caveat:
        st.caption(caveat[0].upper() + caveat[1:] + ".")
    return part
