"""Questions page, review: edit a generated draft, drop duplicates, then accept it as a split dataset."""

import streamlit as st

from app_pages.basics import literal, workspace
from app_pages.questions_accept import accept_form
from app_pages.questions_grid import Grid, draft_grid
from app_pages.widgets.errors import errors_shown
from app_pages.widgets.flash import show_flashed
from app_pages.widgets.pickers import pick
from ragtune_core.corpus import load_chunks
from ragtune_core.questions import (
    DatasetError,
    DraftResult,
    QADataset,
    apply_table,
    coverage,
    draft_path,
    drop_duplicates,
    find_duplicates,
    load_draft,
    pending_draft,
    save_draft,
)
from ragtune_core.questions.grid import SELECT, drop_rows, selected_ids, set_answer
from ragtune_core.questions.queue import passage_names
from ragtune_core.routing import counts_per_tool
from ragtune_core.store import RunRecord, WorkspaceError, version_of


def review_drafts(generation_kinds: tuple[str, ...]) -> None:
    """Pick a generated question set not yet accepted, edit it, keep the edits or accept it."""
    ws = workspace()
    runs = sorted((r for kind in generation_kinds for r in ws.list_runs(kind)), key=lambda r: r.created, reverse=True)
    with errors_shown():  # a run's result of another shape is named
        drafts = [r for r in runs if pending_draft(r)]
    show_flashed()  # what the last accept saved, once its draft has left the review
    if not drafts:
        st.info("Generated questions appear here for review before they are saved as a dataset.")
        return
    run = pick("Draft", drafts, key="draft_run", help="Generated question sets not yet accepted.")
    with errors_shown():
        draft = _opened_draft(run)
    grid = _draft_editor(run, draft)
    try:
        curated = apply_table(draft, grid.table)
    except DatasetError as exc:
        st.error(literal(exc))
        curated = None
    _save_buttons(run, curated, has_duplicates=bool(find_duplicates(draft.queries)))
    if curated is not None:
        _bulk_actions(run, draft, grid)
    accept_form(run, curated, draft.kind)


def _opened_draft(run: RunRecord) -> QADataset:
    """The draft as this session opened it. The grid's edits apply to that version even when another
    tab or a command saved the draft since: saving over theirs is then refused, and Reload shows it."""
    key = f"opened-draft-{run.id}"
    opened = st.session_state.get(key)
    if opened is None:
        opened = st.session_state[key] = load_draft(workspace(), run.id)
    elif opened.version != version_of(draft_path(workspace(), run.id).read_bytes()):
        st.warning(
            "This draft was changed elsewhere (another tab or a command) since you opened it: your edits "
            "here cannot be saved over that version. Reload shows it (edits not saved here are dropped).",
            icon=":material/sync_problem:",
        )
        if st.button("Reload the draft", icon=":material/refresh:"):
            st.session_state[key] = load_draft(workspace(), run.id)
            st.rerun()
    return opened


def _chunks_of(run: RunRecord) -> dict | None:
    """The chunks of the draft's corpus by id, for their page and section; None, said in a warning,
    when that corpus is gone (the questions and passages are all in the draft)."""
    try:
        return {c.chunk_id: c for c in load_chunks(workspace(), run.params["corpus_id"])}
    except WorkspaceError as exc:
        st.warning(f"Pages and sections are not shown: {literal(exc)}")
        return None


def _draft_editor(run: RunRecord, draft: QADataset) -> Grid:
    """The draft as an editable grid (one row per question) with its counts and coverage."""
    is_router = draft.kind == "router"
    grid = draft_grid(run.id, draft, None if is_router else _chunks_of(run))
    flagged = (grid.table["flags"] != "").sum()
    result = DraftResult.of_run(run)
    st.caption(
        f"{len(draft.queries)} questions over {len(set(grid.table['chunk_id']))} "
        f"{'tool' if is_router else 'chunk'}s · {flagged} flagged · failures: {result.failures}{_spent(result)}"
    )
    with st.expander("Questions per tool" if is_router else "Coverage per document"):
        st.dataframe(counts_per_tool(draft) if is_router else coverage(draft), hide_index=True, width="stretch")
    return grid


def _spent(result: DraftResult) -> str:
    """What an LLM generation used and cost; empty for the offline generator."""
    usage = result.usage
    spent = (
        f" · used {usage.prompt_tokens:,} prompt + {usage.completion_tokens:,} completion tokens"
        if usage.prompt_tokens
        else ""
    )
    cost = f" (≈ ${result.cost_usd:.4f})" if result.cost_usd is not None else ""
    return spent + cost


def _save_buttons(run: RunRecord, curated: QADataset | None, has_duplicates: bool) -> None:
    save_col, dedupe_col, _ = st.columns([1, 1, 3])
    if save_col.button("Save draft", disabled=curated is None, help="Keep your edits without accepting yet."):
        _save(run, curated)
    if dedupe_col.button("Drop flagged duplicates", disabled=curated is None or not has_duplicates):
        _save(run, drop_duplicates(curated, find_duplicates(curated.queries)))


def _bulk_actions(run: RunRecord, draft: QADataset, grid: Grid) -> None:
    """Drop, or give one answer to, the ticked questions (none ticked: every question the filter shows)."""
    ids = selected_ids(grid.page, grid.shown)
    which = f"{len(ids)} {'ticked' if grid.page[SELECT].any() else 'shown'}"
    names = passage_names(draft)
    # Dropping every question, or giving them all one answer, is never curation: a click away, it would undo the draft.
    every = len(ids) == len(grid.table)
    why = "Tick the questions, or filter them, first: this would change every question of the draft." if every else None
    drop, answer, give = st.columns([1, 2, 1], vertical_alignment="bottom")
    if drop.button(f"Drop the {which}", icon=":material/delete:", disabled=not ids or every, help=why):
        _save(run, apply_table(draft, drop_rows(grid.table, ids)))
    passage = answer.selectbox(f"Answer for the {which}", sorted(draft.corpus, key=names.get), format_func=names.get)
    if give.button("Set the answer", disabled=not ids or every, help=why):
        _save(run, apply_table(draft, set_answer(grid.table, ids, passage)))


def _save(run: RunRecord, draft: QADataset) -> None:
    """Save the draft over the version this session opened (refused, said, if another saved since)."""
    with errors_shown(stop=False):
        save_draft(workspace(), run.id, draft)
        st.session_state[f"opened-draft-{run.id}"] = draft
        st.rerun()
