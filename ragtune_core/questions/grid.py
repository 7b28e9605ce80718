"""The review grid of a draft, for thousands of rows: the question first, flags to filter by, pages, and
bulk actions on a selection.

The page shows one page of the filtered rows in an editable grid; `merge_page` puts that page's edits
back into the whole table (rows on other pages untouched, rows deleted on the page dropped, rows added on
it at the end), which `curation.apply_table` then turns into the draft.
"""

from __future__ import annotations

import pandas as pd

from .curation import questions_table
from .qa_dataset import QADataset
from .queue import build_queue

FLAGS, WHY, SELECT = "flags", "why", "select"
# The grid's columns, question first; the query id stays in the data (apply_table needs it), not on screen.
SHOWN_COLUMNS = [SELECT, "question", "chunk_id", FLAGS, WHY, "document", "passage", "page", "section"]
PAGE_SIZE = 100


def review_table(dataset: QADataset, chunks_by_id: dict | None = None) -> pd.DataFrame:
    """`questions_table` with a selection column and each question's flags (duplicate, wording,
    ambiguous: what the text alone shows) and why, in words."""
    table = questions_table(dataset, chunks_by_id).drop(columns="duplicate")
    reasons = {item.query_id: item.reasons for item in build_queue(dataset)}
    table[FLAGS] = [", ".join(r.code for r in reasons.get(qid, [])) for qid in table["query_id"]]
    table[WHY] = ["; ".join(r.detail for r in reasons.get(qid, [])) for qid in table["query_id"]]
    table.insert(0, SELECT, False)
    return table


def flag_codes(table: pd.DataFrame) -> list[str]:
    """The flags some row of the table has, in order of first appearance."""
    return list(dict.fromkeys(code for flags in table[FLAGS] for code in flags.split(", ") if code))


def matching(table: pd.DataFrame, flags: list[str]) -> pd.DataFrame:
    """The rows with any of `flags` (every row when none is given)."""
    if not flags:
        return table
    return table[[bool(set(row.split(", ")) & set(flags)) for row in table[FLAGS]]]


def page_of(table: pd.DataFrame, page: int, size: int = PAGE_SIZE) -> pd.DataFrame:
    """Rows of the 1-based `page`."""
    return table.iloc[(page - 1) * size : page * size]


def merge_page(table: pd.DataFrame, page_ids: list[str], edited: pd.DataFrame) -> pd.DataFrame:
    """The whole table with one page's edits: the page's rows replaced by their edited version in place,
    those deleted on the page gone, those added on it (no query id) at the end."""
    edited_by_id = {row["query_id"]: row for _, row in edited.iterrows() if _known(row["query_id"])}
    on_page = set(page_ids)
    rows = [
        edited_by_id[qid] if qid in on_page else row
        for qid, (_, row) in zip(table["query_id"], table.iterrows(), strict=True)
        if qid not in on_page or qid in edited_by_id
    ]
    rows += [row for _, row in edited.iterrows() if not _known(row["query_id"])]
    return pd.DataFrame(rows, columns=table.columns).reset_index(drop=True)


def selected_ids(page: pd.DataFrame, shown: pd.DataFrame) -> list[str]:
    """The query ids of the rows ticked on the page; of every row the filter shows (on any page) when none is."""
    ticked = page[page[SELECT].fillna(False).astype(bool)]
    return [qid for qid in (ticked if len(ticked) else shown)["query_id"] if _known(qid)]


def drop_rows(table: pd.DataFrame, ids: list[str]) -> pd.DataFrame:
    return table[~table["query_id"].isin(ids)].reset_index(drop=True)


def set_answer(table: pd.DataFrame, ids: list[str], passage_id: str) -> pd.DataFrame:
    """The table with `passage_id` as the answer of the questions `ids` (a bulk relabel)."""
    relabelled = table.copy()
    relabelled.loc[relabelled["query_id"].isin(ids), "chunk_id"] = passage_id
    return relabelled


def _known(qid) -> bool:
    return isinstance(qid, str) and bool(qid)
