"""Questions page, the dataset picked: what it holds, split it (again), delete it, download its parts."""

import json
from collections import Counter

import pandas as pd
import streamlit as st

from app_pages.basics import literal, workspace
from app_pages.state import State
from app_pages.widgets.errors import errors_shown
from ragtune_core.questions import (
    SPLIT_MODES,
    TEST_RATIO,
    DatasetError,
    QADataset,
    plan_split,
    reported_part,
    update_dataset,
)
from ragtune_core.store import DatasetRecord


def dataset_summary(record: DatasetRecord, dataset: QADataset) -> None:
    """A caption: an evaluation-only set's questions per style, else the size of each split part."""
    if dataset.evaluation_only:
        styles = " · ".join(f"{style} {n}" for style, n in pd.Series(dataset.styles).value_counts(sort=False).items())
        left_out = len(dataset.extra.get("left_out") or {})
        st.caption(
            literal(
                f"Evaluation only: hand-written questions scored by evidence phrases, never split or trained "
                f"on; the Compare page reports them apart. {len(dataset.queries)} questions"
                + (f" ({styles})" if styles else "")
                + (f"; {left_out} left out at import, their phrase in no chunk" if left_out else "")
                + "."
            )
        )
        return
    parts = pd.Series(dataset.split).value_counts().to_dict() if dataset.split else {}
    caveat = reported_part(dataset)[1]
    split_note = record.params.get("split_note")
    st.caption(
        f"train {parts.get('train', 0)} · validation {parts.get('val', 0)} · test {parts.get('test', 0)} "
        f"questions{' (' + split_note + ')' if split_note else ''}{' · ' + caveat if caveat else ''}"
        if parts
        else "Not split yet: the Fine-tune page needs a train/validation split."
    )


def split_popover(record: DatasetRecord, dataset: QADataset) -> None:
    with st.popover(
        "Split again" if dataset.split else "Split", icon=":material/call_split:", disabled=dataset.evaluation_only
    ):
        with st.form("resplit"):
            by = st.selectbox("Split by", SPLIT_MODES, key="resplit-by")
            ratio = st.slider(
                "Validation share", 0.05, 0.5, float(record.params.get("val_ratio", 0.2)), 0.05, key="resplit-ratio"
            )
            test_ratio = st.slider(
                "Test share",
                0.0,
                0.4,
                float(record.params.get("test_ratio", TEST_RATIO)),
                0.05,
                key="resplit-test-ratio",
                help="Held out from training and from choosing the model kept: the figures to report. 0: no test part.",
            )
            seed = st.number_input("Seed", 0, 10_000, int(record.params.get("seed", 42)), key="resplit-seed")
            if st.form_submit_button("Split"):
                _split(record, dataset, ratio, by, int(seed), test_ratio)


def _split(record: DatasetRecord, dataset: QADataset, ratio: float, by: str, seed: int, test_ratio: float) -> None:
    """Split the dataset again and save it in place; the parts' sizes are toasted, with a note on how it was
    split where there is one: the same seed gives the same parts, and without it nothing would seem to happen."""
    try:
        split = plan_split(dataset, ratio, by, seed, test_ratio)
        dataset.split = split.parts
        params = {"split_by": split.by, "val_ratio": ratio, "test_ratio": test_ratio, "seed": seed}
        update_dataset(workspace(), record.id, dataset, {**params, "split_note": split.note})
    except DatasetError as exc:
        st.error(literal(exc))
        return
    counts = Counter(split.parts.values())
    said = f"Split (seed {seed}): train {counts['train']} · validation {counts['val']} · test {counts['test']}"
    st.toast(said + (f"; {split.note}" if split.note else "") + ".", icon=":material/call_split:")
    st.rerun()


def delete_popover(record: DatasetRecord) -> None:
    with st.popover("Delete this dataset", icon=":material/delete:"):
        st.markdown(
            f"Delete **{literal(record.name)}** and its questions? Models trained on it, saved reports and chat "
            "data built from it stay."
        )
        if st.button("Delete", type="primary", key="delete-dataset"):
            with errors_shown():  # a job started using it meanwhile: the refusal names it
                workspace().delete_dataset(record.id)
            st.session_state.pop(State.DATASET, None)
            st.rerun()


PART_WORDS = {None: "All questions", "train": "Train part", "val": "Validation part", "test": "Test part"}


def download_buttons(record: DatasetRecord, dataset: QADataset) -> None:
    """The whole dataset and each of its split parts as LlamaIndex JSON, side by side."""
    st.caption("Download as LlamaIndex JSON (`EmbeddingQAFinetuneDataset`):")
    for column, part in zip(st.columns(4), [None, "train", "val", "test"], strict=True):
        if part and part not in dataset.split.values():
            continue
        data = json.dumps(dataset.subset(part).to_json_dict(llama_index_only=True), ensure_ascii=False)
        column.download_button(
            f"{PART_WORDS[part]} (.json)",
            data,
            file_name=f"{record.name}-{part or 'all'}.json",
            mime="application/json",
            icon=":material/download:",
        )
