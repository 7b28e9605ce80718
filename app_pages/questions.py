"""Questions: generate synthetic questions per chunk, curate them, save a split dataset."""

import json
from pathlib import Path

import pandas as pd
import streamlit as st

from app_pages.basics import literal, workspace
from app_pages.kept_choices import kept
from app_pages.questions_qa import qa_form
from app_pages.questions_queue import curation_panel
from app_pages.questions_review import review_drafts
from app_pages.questions_round import round_panel
from app_pages.questions_router import router_form
from app_pages.state import State
from app_pages.widgets.errors import errors_shown
from app_pages.widgets.job_panel import run_panel
from app_pages.widgets.pickers import pick
from ragtune_core.jobs import JobKind
from ragtune_core.questions import (
    EVALUATION_ONLY,
    SPLIT_MODES,
    TEST_RATIO,
    DatasetError,
    QADataset,
    import_evidence_set,
    is_evidence_file,
    load_dataset,
    parse_evidence_set,
    plan_split,
    reported_part,
    save_dataset,
    update_dataset,
)
from ragtune_core.questions.import_kind import GUESS, IMPORT_KINDS, refuse_router_evidence, resolve_kind
from ragtune_core.store import WorkspaceError
from ragtune_core.store.files import parse_json
from ragtune_core.timing import when

ws = workspace()
st.title("Questions")
st.caption("Synthetic questions, one set per chunk: the training and test data of your retriever.")

corpora = ws.list_corpora()
if not corpora:
    st.info("Create a corpus on the Corpus page first.")
    st.stop()

# --- generate -------------------------------------------------------------------------------
KINDS = {"qa": "Question → passage pairs", "router": "Router: question → tool"}
IMPORT_KIND_LABELS = {GUESS: "As the file says, else guess", "qa": "Question → passage", "router": "Router"}
GENERATION_KINDS = (JobKind.GENERATE_QUESTIONS, JobKind.GENERATE_ROUTER_QUESTIONS)

with st.expander("Generate questions", expanded=True):
    corpus = pick("Corpus", corpora, key=kept(State.CORPUS, [c.id for c in corpora]))
    kind = st.segmented_control("Dataset", list(KINDS), format_func=KINDS.get, default="qa", key="dataset_kind")
    (router_form if kind == "router" else qa_form)(corpus)
run_panel(GENERATION_KINDS, State.GENERATION_RUN)

# --- curate ---------------------------------------------------------------------------------
st.subheader("Review and accept")
review_drafts(GENERATION_KINDS)

# --- datasets -------------------------------------------------------------------------------
st.divider()
st.subheader("Datasets")
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
            help="Whose chunks hold the evidence phrases. A LlamaIndex file brings its own passages and ignores it.",
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
            name = import_name or Path(upload.name).stem
            try:
                data = parse_json(upload.getvalue(), upload.name, error=DatasetError)
                if is_evidence_file(data):
                    refuse_router_evidence(import_kind, upload.name)
                    record, match = import_evidence_set(
                        ws, parse_evidence_set(data, upload.name), name, evidence_corpus, upload.name
                    )
                else:
                    imported = resolve_kind(data, QADataset.from_json_dict(data, upload.name), import_kind, upload.name)
                    record, match = save_dataset(ws, name, imported.dataset, None, {"imported": upload.name}), None
                    st.caption(f"Kind {imported.note}.")
            except (DatasetError, WorkspaceError) as exc:
                st.error(literal(exc))
            else:
                st.success(
                    f"Imported **{literal(record.name)}** ({record.n_queries} questions"
                    + (
                        f" of {match.total} with their evidence phrase in a chunk; evaluation only)"
                        if match is not None
                        else ")"
                    )
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

datasets = ws.list_datasets()
if not datasets:
    st.info("No dataset yet.")
    st.stop()
st.dataframe(
    pd.DataFrame(
        [
            {
                "name": d.name,
                "kind": d.kind,
                "questions": d.n_queries,
                "split by": d.params.get("split_by", ""),
                "use": "evaluation only" if d.params.get(EVALUATION_ONLY) else "",
                "created": when(d.created),
            }
            for d in datasets
        ]
    ),
    hide_index=True,
    width="stretch",
)
record = pick("Dataset", datasets, key=kept(State.DATASET, [d.id for d in datasets]))
dataset = load_dataset(ws, record.id)
parts = pd.Series(dataset.split).value_counts().to_dict() if dataset.split else {}
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
else:
    caveat = reported_part(dataset)[1]
    split_note = record.params.get("split_note")
    st.caption(
        f"train {parts.get('train', 0)} · validation {parts.get('val', 0)} · test {parts.get('test', 0)} "
        f"questions{' (' + split_note + ')' if split_note else ''}{' · ' + caveat if caveat else ''}"
        if parts
        else "Not split yet: the Fine-tune page needs a train/validation split."
    )
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
            try:
                split = plan_split(dataset, ratio, by, int(seed), test_ratio)
                dataset.split = split.parts
                update_dataset(
                    ws,
                    record.id,
                    dataset,
                    {
                        "split_by": split.by,
                        "val_ratio": ratio,
                        "test_ratio": test_ratio,
                        "seed": int(seed),
                        "split_note": split.note,
                    },
                )
            except DatasetError as exc:
                st.error(literal(exc))
            else:
                if split.note:
                    st.toast(split.note[0].upper() + split.note[1:] + ".", icon=":material/info:")
                st.rerun()
with st.popover("Delete this dataset", icon=":material/delete:"):
    st.markdown(
        f"Delete **{literal(record.name)}** and its questions? Models trained on it, saved reports and chat "
        "data built from it stay."
    )
    if st.button("Delete", type="primary", key="delete-dataset"):
        with errors_shown():  # a job started using it meanwhile: the refusal names it
            ws.delete_dataset(record.id)
        st.session_state.pop(State.DATASET, None)
        st.rerun()
download = st.columns(4)
for column, part in zip(download, [None, "train", "val", "test"], strict=True):
    if part and part not in dataset.split.values():
        continue
    data = json.dumps(dataset.subset(part).to_json_dict(llama_index_only=True), ensure_ascii=False)
    column.download_button(
        f"Download {part or 'all'} (LlamaIndex JSON)",
        data,
        file_name=f"{record.name}-{part or 'all'}.json",
        mime="application/json",
    )

curation_panel(record, dataset)
round_panel(record)
