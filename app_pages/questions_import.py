"""Questions page, import: a LlamaIndex QA dataset file, or an evidence-phrase set scored on a corpus's chunks."""

from pathlib import Path

import streamlit as st

from app_pages.basics import literal, workspace
from app_pages.state import State
from app_pages.widgets.waits import waited
from ragtune_core.questions import (
    DatasetError,
    QADataset,
    import_evidence_set,
    is_evidence_file,
    parse_evidence_set,
    save_dataset,
)
from ragtune_core.questions.import_kind import GUESS, IMPORT_KINDS, refuse_router_evidence, resolve_kind
from ragtune_core.store import CorpusRecord, WorkspaceError
from ragtune_core.store.files import parse_json

IMPORT_KIND_LABELS = {GUESS: "As the file says, else guess", "qa": "Question → passage", "router": "Router"}


def import_popover(corpora: list[CorpusRecord]) -> None:
    with st.popover("Import a dataset", icon=":material/upload:"):
        st.caption(
            "A LlamaIndex `EmbeddingQAFinetuneDataset` JSON file, or an evidence-phrase set: hand-written "
            'questions, each with a verbatim phrase of its right passage (`{"questions": [{"id", '
            '"question", "evidence", "style"}]}`), scored on the chunks of the corpus below that hold '
            "the phrase. An evidence-phrase set is for evaluation only: never split, never trained on."
        )
        with st.form("import", clear_on_submit=True):
            upload = st.file_uploader("Dataset JSON", type=["json"])
            import_name = st.text_input("Name")
            corpus_ids = [c.id for c in corpora]
            current = st.session_state.get(State.CORPUS)
            evidence_corpus = st.selectbox(
                "Corpus (evidence-phrase sets)",
                corpus_ids,
                index=corpus_ids.index(current) if current in corpus_ids else 0,
                format_func={c.id: c.name for c in corpora}.get,
                help="Whose chunks hold the evidence phrases. A LlamaIndex file brings its own passages and "
                "ignores it.",
            )
            import_kind = st.segmented_control(
                "Kind",
                IMPORT_KINDS,
                default=GUESS,
                format_func=IMPORT_KIND_LABELS.get,
                help="What the file holds. A kind the file names (ragtune.kind) always "
                "wins; choosing another is refused. Guess: from the passage ids.",
            )
            if st.form_submit_button("Import") and upload is not None:
                _import(upload, import_name or Path(upload.name).stem, evidence_corpus, import_kind)


def _import(upload, name: str, evidence_corpus: str, import_kind: str) -> None:
    """Save the uploaded file as a dataset and say what was kept; a refusal is shown, not raised."""
    ws = workspace()
    try:
        data = parse_json(upload.getvalue(), upload.name, error=DatasetError)
        if is_evidence_file(data):
            refuse_router_evidence(import_kind, upload.name)
            evidence = parse_evidence_set(data, upload.name)
            record, match = waited(
                "Matching each evidence phrase against the corpus's chunks…",
                lambda: import_evidence_set(ws, evidence, name, evidence_corpus, upload.name),
            )
        else:
            imported = resolve_kind(data, QADataset.from_json_dict(data, upload.name), import_kind, upload.name)
            record, match = save_dataset(ws, name, imported.dataset, None, {"imported": upload.name}), None
            st.caption(f"Kind {imported.note}.")
    except (DatasetError, WorkspaceError) as exc:
        st.error(literal(exc))
        return
    st.success(
        f"Imported **{literal(record.name)}** ({record.n_queries} questions"
        + (f" of {match.total} with their evidence phrase in a chunk; evaluation only)" if match is not None else ")")
        + "."
    )
    if match is not None and match.left_out:
        shown = "; ".join(f"{q.id}: {q.evidence}" for q in match.left_out[:5])
        st.warning(
            literal(
                f"{len(match.left_out)} of {match.total} questions were left out: no chunk "
                f"holds their evidence phrase (e.g. {shown})."
            )
        )
