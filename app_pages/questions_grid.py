"""Questions page, the review grid of a draft: the question first, tools by name, filters for every flag,
pages of 100 rows, and bulk actions on the ticked rows (or on every row the filter shows)."""

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from ragtune_core.questions import QADataset
from ragtune_core.questions.grid import (
    PAGE_SIZE,
    SELECT,
    SHOWN_COLUMNS,
    flag_codes,
    matching,
    merge_page,
    page_of,
    review_table,
)
from ragtune_core.questions.queue import passage_names

ROW_HEIGHT = 35  # pixels: the grid grows with its rows up to this many of them, then scrolls
ROWS_ON_SCREEN = 20


@dataclass
class Grid:
    table: pd.DataFrame  # every row of the draft, this page's edits merged in
    page: pd.DataFrame  # this page's rows as edited (with the selection column)
    shown: pd.DataFrame  # every row the filter shows, on any page
    dirty: bool  # edits on the page not saved yet: filter and page are locked until they are


def draft_grid(run_id: str, draft: QADataset, chunks_by_id: dict | None) -> Grid:
    table = review_table(draft, chunks_by_id)
    controls = st.container()  # above the grid, filled once the grid says whether it holds edits
    flags_key, page_key = f"grid-flags-{run_id}", f"grid-page-{run_id}"
    codes = flag_codes(table)
    st.session_state[flags_key] = [f for f in st.session_state.get(flags_key, []) if f in codes]
    shown = matching(table, st.session_state[flags_key])
    pages = max(1, -(-len(shown) // PAGE_SIZE))
    st.session_state[page_key] = min(st.session_state.get(page_key, 1), pages)
    page = page_of(shown, st.session_state[page_key])
    # A saved draft, another filter or page gets a new grid: the old one's edits are in the file, or dropped.
    editor_key = f"editor-{run_id}-{draft.version}-{'+'.join(st.session_state[flags_key])}-{st.session_state[page_key]}"
    edited = st.data_editor(
        page,
        key=editor_key,
        num_rows="dynamic",
        hide_index=True,
        width="stretch",
        height=ROW_HEIGHT * (min(len(page), ROWS_ON_SCREEN) + 2),
        column_order=[c for c in SHOWN_COLUMNS if c in page.columns],
        disabled=[c for c in SHOWN_COLUMNS if c not in (SELECT, "question", "chunk_id")],
        column_config=_columns(draft),
    )
    changes = st.session_state.get(editor_key) or {}
    dirty = not _only_ticks(changes)
    with controls:
        left, right = st.columns([3, 1])
        left.multiselect(
            "Show the questions flagged",
            codes,
            key=flags_key,
            disabled=dirty,
            placeholder="Every question",
            help="duplicate: repeats an earlier question; wording: ill-formed (a name without its "
            "article, one its passage never mentions...); ambiguous: other passages hold all its "
            "words.",
        )
        right.number_input(f"Page (of {pages})", 1, pages, key=page_key, disabled=dirty or pages == 1)
        if dirty:
            st.caption("Save the draft to change the filter or the page.")
    return Grid(merge_page(table, list(page["query_id"]), edited), edited, shown, dirty)


def _columns(draft: QADataset) -> dict:
    names = passage_names(draft)
    label = "tool" if draft.kind == "router" else "chunk"
    return {
        SELECT: st.column_config.CheckboxColumn(
            "✓", help="Bulk actions act on the ticked rows (none: every row the filter shows)."
        ),
        "question": st.column_config.TextColumn(width="large", required=True),
        "chunk_id": st.column_config.SelectboxColumn(
            label, options=sorted(draft.corpus, key=names.get), format_func=names.get, required=True
        ),
        "passage": st.column_config.TextColumn(width="large"),
    }


def _only_ticks(changes: dict) -> bool:
    """Whether the grid's only edits are ticks in the selection column (no edit of the draft)."""
    edited = changes.get("edited_rows") or {}
    return (
        not changes.get("added_rows")
        and not changes.get("deleted_rows")
        and all(set(row) <= {SELECT} for row in edited.values())
    )
