"""Questions page, curation queue: the questions of a dataset worth a look, each a click from its fix,
and the decisions saved as the dataset's next version (the one shown stays as it is)."""

import streamlit as st

from app_pages.basics import literal, workspace
from app_pages.questions_queue_card import question_card
from app_pages.state import State
from app_pages.widgets.errors import errors_shown
from ragtune_core.questions import DatasetError, QADataset
from ragtune_core.questions.queue import WEIGHTS, Curation, curated
from ragtune_core.questions.versions import changes_of, save_version, versions_of
from ragtune_core.routing.queue_scores import curation_queue
from ragtune_core.store import DatasetRecord, WorkspaceError

QUEUES = "curation-queues"  # {dataset id: (queue items, scorer names)} built this session
CURATIONS = "curations"  # {dataset id: Curation}: the decisions not saved yet
SAVED = "curation-saved"  # ("success" | "error", message) of the last save, shown once after its rerun
PAGE_SIZE = 10


def curation_panel(record: DatasetRecord, dataset: QADataset) -> None:
    st.subheader("Curation queue")
    _versions_caption(record)
    if SAVED in st.session_state:
        shown, message = st.session_state.pop(SAVED)
        getattr(st, shown)(message)
    queues = st.session_state.setdefault(QUEUES, {})
    if st.button(
        "Rebuild the queue" if record.id in queues else "Build the queue",
        icon=":material/checklist:",
        help="Scores every question with a word-overlap scorer, the base model and the models fine-tuned "
        "on this dataset: a few seconds per thousand questions.",
    ):
        with st.spinner("Scoring every question…"), errors_shown(stop=False):
            queues[record.id] = curation_queue(workspace(), record.id)
    if record.id not in queues:
        st.caption(
            "The questions worth a look, most telling first: scorers that disagree or all pick another "
            "answer, close scores, a fine-tuned model's misroute, several passages that could answer, "
            "duplicates, ill-formed wording."
        )
        return
    items, scorers = queues[record.id]
    curation = st.session_state.setdefault(CURATIONS, {}).setdefault(record.id, Curation())
    st.caption(literal(f"{len(items)} of {len(dataset.queries)} questions flagged · scored by {', '.join(scorers)}"))
    wanted = st.multiselect("Reasons", list(WEIGHTS), placeholder="Every reason", key=f"queue-reasons-{record.id}")
    shown = [item for item in items if not wanted or {r.code for r in item.reasons} & set(wanted)]
    pages = max(1, -(-len(shown) // PAGE_SIZE))
    page = st.number_input(f"Page (of {pages})", 1, pages, 1, key=f"queue-page-{record.id}") if pages > 1 else 1
    for item in shown[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]:
        question_card(record.id, item, curation)
    _save_button(record, dataset, curation)


def _versions_caption(record: DatasetRecord) -> None:
    lineage = versions_of(workspace(), record.id)
    if len(lineage) > 1:
        said = [
            f"v{d.params.get('version', 1)} {d.name}: " + (c.describe() if (c := changes_of(d)) else "first")
            for d in lineage
        ]
        st.caption(literal("Versions · " + " · ".join(said)))


def _save_button(record: DatasetRecord, dataset: QADataset, curation: Curation) -> None:
    decisions = len(curation.relabel) + len(curation.reword) + len(curation.drop)
    left, right = st.columns(2)
    left.button(
        f"Save as a new version ({decisions} decisions)",
        type="primary",
        disabled=not curation,
        on_click=_save,
        args=(record, dataset, curation),
        key=f"save-version-{record.id}",
        help=f"{literal(record.name)} stays as it is (models trained on it keep it); the new version is selected.",
    )
    right.button(
        "Forget the decisions",
        disabled=not curation,
        key=f"forget-{record.id}",
        on_click=lambda: st.session_state[CURATIONS].pop(record.id, None),
    )


def _save(record: DatasetRecord, dataset: QADataset, curation: Curation) -> None:
    """Save the decisions as the next version and select it (a callback: it runs before the picker)."""
    try:
        saved = save_version(workspace(), record.id, curated(dataset, curation))
    except (DatasetError, WorkspaceError) as exc:
        st.session_state[SAVED] = ("error", literal(exc))
        return
    st.session_state[CURATIONS].pop(record.id, None)
    st.session_state[State.DATASET] = saved.id
    st.session_state[SAVED] = (
        "success",
        f"Saved **{literal(saved.name)}**: {changes_of(saved).describe()}; {literal(record.name)} is kept as it was.",
    )
