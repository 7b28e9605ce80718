"""Compare page, retrievers: embedding models (with or without a reranker) on a question → passage dataset,
then the kept evaluation, its queries and its held-out sets."""

import streamlit as st

from app_pages.basics import workspace
from app_pages.compare_results import pick_comparison, show_comparison, show_held_out, show_trend, style_gains
from app_pages.kept_choices import kept_selection
from app_pages.state import State
from app_pages.widgets.errors import errors_shown
from app_pages.widgets.job_panel import run_panel
from app_pages.widgets.pickers import models_by_name
from ragtune_core import jobs
from ragtune_core.evaluation import RERANK_TOP_K, per_query_comparison
from ragtune_core.evaluation.corpus_vectors import kept_files
from ragtune_core.evaluation.duration import estimate_evaluation
from ragtune_core.questions import EVALUATION_ONLY, QADataset, load_dataset
from ragtune_core.questions.pickers import models_for_dataset
from ragtune_core.reporting import RETRIEVAL
from ragtune_core.store import DEFAULT_BASE_MODEL, DatasetRecord


@st.cache_data(show_spinner="Measuring how fast this machine encodes (once, a few seconds)…", max_entries=64)
def estimated_evaluation(
    dataset_id: str, part: str, models: list, rerankers: list, held_out: list[str], kept: frozenset[str]
) -> str:
    """The evaluation's estimate in words: the dataset's part, then every question of each held-out set;
    estimated again once corpus vectors are kept (`kept`: corpus_vectors.kept_files)."""
    sets = [(d, load_dataset(workspace(), d), "all" if d in held_out else part) for d in [dataset_id, *held_out]]
    return estimate_evaluation(sets, models, rerankers, RERANK_TOP_K).describe()


def compare_retrievers(record: DatasetRecord, dataset: QADataset, datasets: list[DatasetRecord], part: str) -> None:
    st.caption(
        (
            "How well each model retrieves a passage holding the question's evidence phrase (hand-written "
            "questions, never trained on). "
            if dataset.evaluation_only
            else "How well each model retrieves the passage a question was written from. "
        )
        + "Bars show bootstrap 95% intervals."
    )
    held_out = _evaluate_form(record, dataset, datasets, part)
    run_panel([jobs.JobKind.EVALUATE], State.EVALUATION_RUN)
    _evaluation(record, dataset, part, held_out)


def _evidence_sets(record: DatasetRecord, dataset: QADataset) -> dict[str, str]:
    """The evaluation-only sets a question → passage dataset can be evaluated beside, by id; their names."""
    if dataset.evaluation_only:
        return {}
    qa_sets = workspace().list_datasets("qa")
    return {d.id: d.name for d in qa_sets if d.params.get(EVALUATION_ONLY) and d.id != record.id}


def _evaluate_form(record: DatasetRecord, dataset: QADataset, datasets: list[DatasetRecord], part: str) -> dict:
    """Models, rerankers and held-out sets to evaluate, the estimate, and Evaluate; the held-out sets chosen."""
    embedders, cross_encoders = models_by_name("embedding"), models_by_name("cross_encoder")
    suited = [m.name for m in models_for_dataset(record, workspace().list_models("embedding"), datasets)]
    chosen = st.multiselect(
        "Embedding models",
        list(embedders),
        key=kept_selection("compare-embedders", embedders, [DEFAULT_BASE_MODEL, *suited][:4]),
    )
    rerankers = (
        st.multiselect(
            "Rerank the first model's top 20 with",
            list(cross_encoders),
            help="Cross-encoders trained on the Fine-tune page. A reranker trained on a QA "
            "dataset blends its score with the embedder's and with word match (BM25) at "
            "the shares its training picked. Where word match has a share, the same blend "
            "without the reranker's score is shown too (\"+ word match\"): the reranker's "
            "own gain is what it adds to that.",
        )
        if cross_encoders
        else []
    )
    evidence_sets = _evidence_sets(record, dataset)
    held_out = (
        st.multiselect(
            "Also evaluate every question of",
            list(evidence_sets),
            default=list(evidence_sets),
            format_func=evidence_sets.get,
            help="Evidence-phrase sets imported on the Questions "
            "page, such as questions people wrote: generated validation questions follow the "
            "generator's wording, so these show what users get. Reported apart, per style.",
        )
        if evidence_sets
        else []
    )
    if chosen:
        with errors_shown(stop=False):
            estimate = estimated_evaluation(
                record.id,
                part,
                [embedders[c] for c in chosen],
                [cross_encoders[r] for r in rerankers],
                held_out,
                kept_files(),
            )
            st.caption(f"Estimated time on this machine: {estimate}.")
    if st.button("Evaluate", type="primary", disabled=not chosen, icon=":material/play_arrow:"):
        params = {
            "dataset_id": record.id,
            "part": part,
            "models": [{"label": c, "path": embedders[c]} for c in chosen],
            "rerankers": [{"label": r, "path": cross_encoders[r]} for r in rerankers],
            "held_out": held_out,
        }
        status = jobs.start_job(
            workspace(), jobs.JobKind.EVALUATE, params, name=f"evaluate · {record.name}", dataset_id=record.id
        )
        st.session_state[State.EVALUATION_RUN] = status.run_id
    return {d: evidence_sets[d] for d in held_out}


def _evaluation(record: DatasetRecord, dataset: QADataset, part: str, held_out: dict[str, str]) -> None:
    """The evaluation picked among those kept: its figures, gains per style, each query, held-out sets, trend."""
    ws = workspace()
    entry = pick_comparison(ws, record.id, part, RETRIEVAL, key="retrieval_comparison")
    if entry is None:
        st.info("No evaluation of this dataset yet: pick models and press Evaluate.")
        return
    view = show_comparison(ws, entry, dataset)
    if not view.reports:
        return
    style_gains(view.reports, dataset.styles)
    st.subheader("Per query")
    st.caption(
        "Rank of the expected passage per model (empty: not in the top 100). "
        "Sort a column to find where fine-tuning helped or hurt."
    )
    st.dataframe(per_query_comparison(view.reports), hide_index=True, width="stretch")
    show_held_out(
        ws,
        held_out,
        RETRIEVAL,
        "All {n} questions of this evidence-phrase "
        "set, never trained on: a passage is right when it holds the question's evidence phrase.",
    )
    show_trend(ws, record.id, part, RETRIEVAL)
