"""Questions: generate synthetic questions per chunk, curate them, save a split dataset."""

import json
from pathlib import Path

import pandas as pd
import streamlit as st

from app_pages.basics import literal, workspace
from app_pages.components import errors_shown, pick, run_panel, when
from app_pages.questions_qa import qa_form
from app_pages.questions_review import review_drafts
from app_pages.questions_router import router_form
from app_pages.state import State
from ragtune_core.jobs import JobKind
from ragtune_core.questions import SPLIT_MODES, DatasetError, QADataset, load_dataset, save_dataset, split_dataset, update_dataset
from ragtune_core.store import WorkspaceError

ws = workspace()
st.title("Questions")
st.caption("Synthetic questions, one set per chunk: the training and test data of your retriever.")

corpora = ws.list_corpora()
if not corpora:
    st.info("Create a corpus on the Corpus page first.")
    st.stop()

# --- generate -------------------------------------------------------------------------------
KINDS = {"qa": "Question → passage pairs", "router": "Router: question → tool"}
GENERATION_KINDS = (JobKind.GENERATE_QUESTIONS, JobKind.GENERATE_ROUTER_QUESTIONS)

with st.expander("Generate questions", expanded=True):
    corpus = pick("Corpus", corpora, key=State.CORPUS)
    kind = st.segmented_control("Dataset", list(KINDS), format_func=KINDS.get, default="qa", key="dataset_kind")
    (router_form if kind == "router" else qa_form)(corpus)
run_panel(GENERATION_KINDS, State.GENERATION_RUN)

# --- curate ---------------------------------------------------------------------------------
st.subheader("Review and accept")
review_drafts(GENERATION_KINDS)

# --- datasets -------------------------------------------------------------------------------
st.divider()
st.subheader("Datasets")
with st.popover("Import a LlamaIndex dataset", icon=":material/upload:"):
    with st.form("import", clear_on_submit=True):
        upload = st.file_uploader("EmbeddingQAFinetuneDataset JSON", type=["json"])
        import_name = st.text_input("Name")
        if st.form_submit_button("Import") and upload is not None:
            try:
                imported = QADataset.from_json_dict(json.loads(upload.getvalue()))
                record = save_dataset(ws, import_name or Path(upload.name).stem, imported, None, {"imported": upload.name})
            except (json.JSONDecodeError, UnicodeDecodeError):
                st.error(f"{literal(upload.name)} is not a JSON file.")
            except (DatasetError, WorkspaceError) as exc:
                st.error(literal(f"{upload.name}: {exc}"))
            else:
                st.success(f"Imported **{literal(record.name)}** ({record.n_queries} questions).")

datasets = ws.list_datasets()
if not datasets:
    st.info("No dataset yet.")
    st.stop()
st.dataframe(pd.DataFrame([{"name": d.name, "kind": d.kind, "questions": d.n_queries, "split by": d.params.get("split_by", ""),
                            "created": when(d.created)} for d in datasets]), hide_index=True, width="stretch")
record = pick("Dataset", datasets, key=State.DATASET)
dataset = load_dataset(ws, record.id)
parts = pd.Series(dataset.split).value_counts().to_dict() if dataset.split else {}
st.caption(f"train {parts.get('train', 0)} · validation {parts.get('val', 0)} questions"
           if parts else "Not split yet: the Fine-tune page needs a train/validation split.")
with st.popover("Split again" if dataset.split else "Split", icon=":material/call_split:"):
    with st.form("resplit"):
        by = st.selectbox("Split by", SPLIT_MODES, key="resplit-by")
        ratio = st.slider("Validation share", 0.05, 0.5, float(record.params.get("val_ratio", 0.2)), 0.05, key="resplit-ratio")
        seed = st.number_input("Seed", 0, 10_000, int(record.params.get("seed", 42)), key="resplit-seed")
        if st.form_submit_button("Split"):
            try:
                dataset.split = split_dataset(dataset, ratio, by, int(seed))
                update_dataset(ws, record.id, dataset, {"split_by": by, "val_ratio": ratio, "seed": int(seed)})
            except DatasetError as exc:
                st.error(literal(exc))
            else:
                st.rerun()
with st.popover("Delete this dataset", icon=":material/delete:"):
    st.markdown(f"Delete **{literal(record.name)}** and its questions? Models trained on it, saved reports and chat "
                "data built from it stay.")
    if st.button("Delete", type="primary", key="delete-dataset"):
        with errors_shown():  # a job started using it meanwhile: the refusal names it
            ws.delete_dataset(record.id)
        st.session_state.pop(State.DATASET, None)
        st.rerun()
download = st.columns(3)
for column, part in zip(download, [None, "train", "val"]):
    if part and not dataset.split:
        continue
    data = json.dumps(dataset.subset(part).to_json_dict(llama_index_only=True), ensure_ascii=False)
    column.download_button(f"Download {part or 'all'} (LlamaIndex JSON)", data,
                           file_name=f"{record.name}-{part or 'all'}.json", mime="application/json")
