"""Questions: generate synthetic questions per chunk, curate them, save a split dataset."""

import json
from pathlib import Path

import pandas as pd
import streamlit as st

from app_pages.common import job_panel, llm_settings, pick, when, workspace
from ragtune_core import jobs
from ragtune_core.questions.curation import apply_table, coverage, drop_duplicates, find_duplicates, questions_table
from ragtune_core.questions.generation import select_chunks
from ragtune_core.questions.generators import MAX_QUESTIONS_PER_CHUNK
from ragtune_core.questions.llm_generator import estimate_llm_usage
from ragtune_core.questions.prompts import DEFAULT_QA_PROMPT
from ragtune_core.llm.client import LLMConfig
from ragtune_core.llm.pricing import estimate_cost
from ragtune_core.routing.datasets import DEFAULT_ROUTER_QA_PROMPT, DEFAULT_SUMMARY_PROMPT, DEFAULT_SUMMARY_QUESTION, MAX_SUMMARY_VARIATIONS, RouterPrompts, RouterRequest
from ragtune_core.routing.tables import counts_per_tool
from ragtune_core.routing.tools import make_tools, tools_from_dicts, tools_to_dicts
from ragtune_core.questions.qa_dataset import DatasetError, QADataset, split_dataset
from ragtune_core.store.workspace import WorkspaceError
from ragtune_core.corpus.documents import load_chunks
from ragtune_core.questions.qa_dataset import load_dataset
from ragtune_core.corpus.documents import load_documents
from ragtune_core.questions.qa_dataset import save_dataset
from ragtune_core.questions.qa_dataset import update_dataset

ws = workspace()
st.title("Questions")
st.caption("Synthetic questions, one set per chunk: the training and test data of your retriever.")

corpora = ws.list_corpora()
if not corpora:
    st.info("Create a corpus on the Corpus page first.")
    st.stop()

# --- generate -------------------------------------------------------------------------------
KINDS = {"qa": "Question → passage pairs", "router": "Router: question → tool"}


def generator_settings(n_items: int, per_item: int, key: str) -> tuple[str, LLMConfig | None]:
    """The offline/LLM choice with the LLM's settings; reports what a run will ask for."""
    generator = st.radio("Generator", ["offline", "llm"], horizontal=True, key=f"{key}-generator",
                         format_func={"offline": "Offline (no LLM, no key)", "llm": "LLM (OpenAI-compatible)"}.get,
                         help="The offline generator phrases questions from each chunk's key terms with templates. "
                              "An LLM writes more natural questions.")
    if generator == "offline":
        st.caption(f"Offline generator · about {n_items * per_item} questions.")
        return generator, None
    return generator, llm_settings(key)


def cost_caption(config: LLMConfig, usage) -> None:
    cost = estimate_cost(config, usage.prompt_tokens, usage.completion_tokens)
    st.caption(f"About {usage.prompt_tokens:,} prompt + {usage.completion_tokens:,} completion tokens"
               + (f" · estimated cost ${cost:.4f}" if cost is not None else " · no price known for this model"))


def qa_form(corpus) -> None:
    left, right = st.columns(2)
    n_per_chunk = left.number_input("Questions per chunk", 1, MAX_QUESTIONS_PER_CHUNK, 2)
    max_chunks = right.number_input("Chunks to use (0 = all)", 0, corpus.n_chunks, 0,
                                    help="Try a few chunks first to check the prompt and the cost.")
    chunks = select_chunks(load_chunks(ws, corpus.id), int(max_chunks) or None)
    generator, config = generator_settings(len(chunks), int(n_per_chunk), "qgen")
    params = {"corpus_id": corpus.id, "n_per_chunk": int(n_per_chunk), "generator": generator,
              "max_chunks": int(max_chunks) or None}
    if generator == "llm":
        prompt = st.text_area("Prompt ({context_str} is the chunk, {num_questions_per_chunk} the count)",
                              value=DEFAULT_QA_PROMPT, height=220)
        if config is None:
            return
        cost_caption(config, estimate_llm_usage(chunks, int(n_per_chunk), prompt))
        params.update(llm=config.to_public_dict(), prompt_template=prompt)
    launch("generate_questions", params, f"questions · {corpus.name}", config)


def router_form(corpus) -> None:
    documents = load_documents(ws, corpus.id)
    titles = {d.doc_id: d.title for d in documents}
    chosen = st.multiselect("Documents", list(titles), default=list(titles), format_func=titles.get)
    st.caption("Tools: each document gets a vector tool (specific facts) and a summary tool. Edit names and "
               "descriptions, add your own tools, or delete rows: the selectors choose among exactly these.")
    defaults = pd.DataFrame(tools_to_dicts(make_tools([d for d in documents if d.doc_id in chosen])))
    edited = st.data_editor(defaults, num_rows="dynamic", hide_index=True, width="stretch",
                            key=f"tools-{corpus.id}-{'-'.join(chosen)}",
                            column_config={"description": st.column_config.TextColumn(width="large"),
                                           "document_id": st.column_config.SelectboxColumn("document", options=chosen),
                                           "kind": st.column_config.SelectboxColumn(options=["vector", "summary", "custom"])})
    left, right = st.columns(2)
    per_document = left.number_input("Specific questions per document", 1, 200, 10)
    variations = right.number_input("Summary requests per document", 0, MAX_SUMMARY_VARIATIONS, 5)
    generator, config = generator_settings(len(chosen), int(per_document) + int(variations), "rgen")
    prompts = RouterPrompts()
    if generator == "llm":
        prompts = RouterPrompts(
            questions=st.text_area("Prompt for specific questions", value=DEFAULT_ROUTER_QA_PROMPT, height=160),
            summary=st.text_area("Prompt for summary requests", value=DEFAULT_SUMMARY_PROMPT, height=160),
            summary_question=st.text_input("Base summary request", value=DEFAULT_SUMMARY_QUESTION))
        if config is None:
            return
    try:
        tools = tools_from_dicts(edited.where(edited.notna(), None).to_dict("records"))
        request = RouterRequest(corpus.id, chosen, tools, int(per_document), int(variations), generator, config, prompts)
    except ValueError as exc:
        st.error(str(exc))
        return
    if not chosen:
        st.warning("Pick at least one document.")
        return
    launch("generate_router_questions", request.to_params(), f"router questions · {corpus.name}", config)


def launch(kind: str, params: dict, name: str, config: LLMConfig | None) -> None:
    if st.button("Generate", type="primary", icon=":material/play_arrow:"):
        status = jobs.start_job(ws, kind, params, name=name, secret_env=config.secret_env() if config else None)
        st.session_state["generation_run"] = status.run_id


with st.expander("Generate questions", expanded=True):
    corpus = pick("Corpus", corpora, key="corpus_id")
    kind = st.segmented_control("Dataset", list(KINDS), format_func=KINDS.get, default="qa", key="dataset_kind")
    (router_form if kind == "router" else qa_form)(corpus)

GENERATION_KINDS = ("generate_questions", "generate_router_questions")
runs = sorted((r for k in GENERATION_KINDS for r in ws.list_runs(k)), key=lambda r: r.created, reverse=True)
active = [r for r in runs if r.state in jobs.ACTIVE_STATES]
watched = st.session_state.get("generation_run") or (active[0].id if active else None)
if watched:
    job_panel(watched)

# --- curate ---------------------------------------------------------------------------------
drafts = [r for r in runs if r.state == "succeeded" and not r.result.get("accepted_dataset_id")]
st.subheader("Review and accept")
if not drafts:
    st.info("Generated questions appear here for review before they are saved as a dataset.")
else:
    run = pick("Draft", drafts, key="draft_run", help="Generated question sets not yet accepted.")
    draft_path = Path(run.result["draft"])
    draft = QADataset.load(draft_path)
    is_router = draft.kind == "router"
    chunks_by_id = None if is_router else {c.chunk_id: c for c in load_chunks(ws, run.params["corpus_id"])}
    duplicates = find_duplicates(draft.queries)
    table = questions_table(draft, chunks_by_id, duplicates)
    passage_label = "tool" if is_router else "chunk"
    usage = run.result.get("usage") or {}
    spent = (f" · used {usage.get('prompt_tokens', 0):,} prompt + {usage.get('completion_tokens', 0):,} completion tokens"
             if usage.get("prompt_tokens") else "")
    cost = f" (≈ ${run.result['cost_usd']:.4f})" if run.result.get("cost_usd") is not None else ""
    st.caption(f"{len(draft.queries)} questions over {len(set(table['chunk_id']))} {passage_label}s · "
               f"{len(duplicates)} flagged as duplicates · failures: {run.result.get('failures', 0)}{spent}{cost}")
    editor_key = f"editor-{run.id}-{draft_path.stat().st_mtime_ns}"
    edited = st.data_editor(
        table, key=editor_key, num_rows="dynamic", hide_index=True, width="stretch",
        disabled=["query_id", "document", "passage", "duplicate", "page", "section"],
        column_config={
            "question": st.column_config.TextColumn(width="large", required=True),
            "chunk_id": st.column_config.SelectboxColumn(passage_label, options=sorted(draft.corpus), required=True),
            "passage": st.column_config.TextColumn(width="large"),
        },
    )
    with st.expander("Questions per tool" if is_router else "Coverage per document"):
        st.dataframe(counts_per_tool(draft) if is_router else coverage(draft), hide_index=True, width="stretch")

    def persist(dataset: QADataset) -> None:
        dataset.save(draft_path)
        st.rerun()

    try:
        curated = apply_table(draft, edited)
    except DatasetError as exc:
        st.error(str(exc))
        curated = None
    save_col, dedupe_col, _ = st.columns([1, 1, 3])
    if save_col.button("Save draft", disabled=curated is None, help="Keep your edits without accepting yet."):
        persist(curated)
    if dedupe_col.button("Drop flagged duplicates", disabled=curated is None or not duplicates):
        persist(drop_duplicates(curated, find_duplicates(curated.queries)))

    with st.form("accept"):
        name = st.text_input("Dataset name", value=f"{run.name.split(' · ')[-1]} {'router' if is_router else 'questions'}")
        by, ratio, seed = st.columns(3)
        split_by = by.selectbox("Split by", ["document", "query"],
                                help="By document: validation documents are never trained on (the honest test).")
        val_ratio = ratio.slider("Validation share", 0.05, 0.5, 0.2, 0.05)
        split_seed = seed.number_input("Seed", 0, 10_000, 42)
        if st.form_submit_button("Accept and save dataset", type="primary", disabled=curated is None):
            try:
                curated.split = split_dataset(curated, val_ratio, split_by, int(split_seed))
                record = save_dataset(ws, name, curated, run.params["corpus_id"],
                                         {"split_by": split_by, "val_ratio": val_ratio, "seed": int(split_seed),
                                          "generator": run.params.get("generator"), "run_id": run.id})
            except (DatasetError, WorkspaceError) as exc:
                st.error(str(exc))
            else:
                ws.update_run(run.id, result={**run.result, "accepted_dataset_id": record.id})
                st.session_state["dataset_id"] = record.id
                st.success(f"Saved dataset **{record.name}** ({record.n_queries} questions).")

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
                st.error(f"{upload.name} is not a JSON file.")
            except (DatasetError, WorkspaceError) as exc:
                st.error(f"{upload.name}: {exc}")
            else:
                st.success(f"Imported **{record.name}** ({record.n_queries} questions).")

datasets = ws.list_datasets()
if not datasets:
    st.info("No dataset yet.")
    st.stop()
st.dataframe(pd.DataFrame([{"name": d.name, "kind": d.kind, "questions": d.n_queries, "split by": d.params.get("split_by", ""),
                            "created": when(d.created)} for d in datasets]), hide_index=True, width="stretch")
record = pick("Dataset", datasets, key="dataset_id")
dataset = load_dataset(ws, record.id)
parts = pd.Series(dataset.split).value_counts().to_dict() if dataset.split else {}
st.caption(f"train {parts.get('train', 0)} · validation {parts.get('val', 0)} questions"
           if parts else "Not split yet: the Fine-tune page needs a train/validation split.")
with st.popover("Split again" if dataset.split else "Split", icon=":material/call_split:"):
    with st.form("resplit"):
        by = st.selectbox("Split by", ["document", "query"], key="resplit-by")
        ratio = st.slider("Validation share", 0.05, 0.5, float(record.params.get("val_ratio", 0.2)), 0.05, key="resplit-ratio")
        seed = st.number_input("Seed", 0, 10_000, int(record.params.get("seed", 42)), key="resplit-seed")
        if st.form_submit_button("Split"):
            try:
                dataset.split = split_dataset(dataset, ratio, by, int(seed))
                update_dataset(ws, record.id, dataset, {"split_by": by, "val_ratio": ratio, "seed": int(seed)})
            except DatasetError as exc:
                st.error(str(exc))
            else:
                st.rerun()
download = st.columns(3)
for column, part in zip(download, [None, "train", "val"]):
    if part and not dataset.split:
        continue
    data = json.dumps(dataset.subset(part).to_json_dict(llama_index_only=True), ensure_ascii=False)
    column.download_button(f"Download {part or 'all'} (LlamaIndex JSON)", data,
                           file_name=f"{record.name}-{part or 'all'}.json", mime="application/json")
