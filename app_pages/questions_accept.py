"""Questions page, accept: a reviewed draft saved as a split dataset, and what was saved said once after."""

import streamlit as st

from app_pages.basics import literal, workspace
from app_pages.state import State
from app_pages.widgets.flash import flash
from ragtune_core.questions import SPLIT_MODES, DatasetError, QADataset, accept_draft, draft_path
from ragtune_core.store import RunRecord, WorkspaceError, version_of


def accept_form(run: RunRecord, curated: QADataset | None, kind: str) -> None:
    """Name and split the reviewed draft, then save it as a dataset (refused when the draft changed elsewhere)."""
    with st.form("accept"):
        name = st.text_input(
            "Dataset name", value=f"{run.name.split(' · ')[-1]} {'router' if kind == 'router' else 'questions'}"
        )
        by, ratio, seed = st.columns(3)
        split_by = by.selectbox(
            "Split by", SPLIT_MODES, help="By document: validation documents are never trained on (the honest test)."
        )
        val_ratio = ratio.slider("Validation share", 0.05, 0.5, 0.2, 0.05)
        split_seed = seed.number_input("Seed", 0, 10_000, 42)
        if st.form_submit_button("Accept and save dataset", type="primary", disabled=curated is None):
            try:
                if curated.version != version_of(draft_path(workspace(), run.id).read_bytes()):
                    raise DatasetError("the draft was changed by someone else since you opened it; reload it first")
                record = accept_draft(workspace(), run.id, name, curated, split_by, val_ratio, int(split_seed))
            except (DatasetError, WorkspaceError) as exc:
                st.error(literal(exc))
            else:  # the accepted draft leaves the review at once; the message outlives the rerun
                st.session_state[State.DATASET] = record.id
                note = record.params.get("split_note")
                flash(
                    f"Saved dataset **{literal(record.name)}** ({record.n_queries} "
                    "questions)." + (f" {literal(note.capitalize())}." if note else "")
                )
                st.rerun()
