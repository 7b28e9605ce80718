"""The review grid: flags to filter by, pages, a page's edits merged back, bulk actions."""

import pandas as pd

from ragtune_core.questions.curation import apply_table
from ragtune_core.questions.grid import (
    SELECT,
    drop_rows,
    flag_codes,
    matching,
    merge_page,
    page_of,
    review_table,
    selected_ids,
    set_answer,
)
from tests.questions.test_queue import dataset


def test_the_question_comes_with_its_flags_and_why():
    table = review_table(dataset())
    row = table.set_index("query_id").loc["offline"]
    assert (row["flags"], row["why"]) == ("wording", "'United States' without 'the'")
    assert table.set_index("query_id").loc["clean", "flags"] == ""
    assert set(flag_codes(table)) == {"wording", "duplicate", "ambiguous"}
    assert list(matching(table, ["duplicate"])["query_id"]) == ["duplicate"]
    assert len(matching(table, [])) == len(table)


def test_pages_and_merging_a_pages_edits_back():
    table = review_table(dataset())
    page = page_of(table, 2, size=3)
    assert list(page["query_id"]) == list(table["query_id"][3:6])
    edited = page.copy()
    edited.loc[edited.index[0], "question"] = "Edited?"
    edited = edited.drop(index=edited.index[1])  # deleted on the page
    edited = pd.concat([edited, pd.DataFrame([{"query_id": None, "question": "New?", "chunk_id": "etna"}])])
    merged = merge_page(table, list(page["query_id"]), edited)
    assert list(merged["query_id"][:3]) == list(table["query_id"][:3])  # other pages untouched
    assert merged.loc[3, "question"] == "Edited?" and table["query_id"][4] not in set(merged["query_id"])
    assert merged.iloc[-1]["question"] == "New?" and len(merged) == len(table)
    curated = apply_table(dataset(), merged)
    assert len(curated.queries) == len(table) and "New?" in curated.queries.values()


def test_bulk_actions_act_on_the_ticked_rows_or_else_on_every_shown_row():
    table = review_table(dataset())
    shown = matching(table, ["duplicate", "wording"])
    page = page_of(shown, 1, size=2)
    assert set(selected_ids(page, shown)) == {"duplicate", "offline", "mislabelled"}  # none ticked: every shown
    ticked = page.copy()
    ticked[SELECT] = ticked["query_id"] == "offline"
    assert selected_ids(ticked, shown) == ["offline"]
    assert "duplicate" not in set(drop_rows(table, ["duplicate"])["query_id"])
    relabelled = apply_table(dataset(), set_answer(table, ["mislabelled", "clean"], "vesuvius"))
    assert relabelled.relevant_docs["mislabelled"] == relabelled.relevant_docs["clean"] == ["vesuvius"]
