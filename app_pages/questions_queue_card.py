"""Questions page, curation queue: one flagged question as a card, and the decisions taken on it (kept in a
Curation until saved)."""

import pandas as pd
import streamlit as st

from app_pages.basics import literal
from ragtune_core.questions.queue import Curation, QueueItem


def question_card(dataset_id: str, item: QueueItem, curation: Curation) -> None:
    """One flagged question: its reasons, its candidates' scores, and a button per decision (answer, drop,
    reword), the decision taken said below."""
    qid = item.query_id
    with st.container(border=True):
        st.markdown(f"**{literal(item.question)}**" + (f" · {item.part}" if item.part else ""))
        st.caption(literal(" · ".join(f"{r.code}: {r.detail}" for r in item.reasons)))
        table = pd.DataFrame(
            [
                {"answer": "✓ labelled" if c.labelled else "", "candidate": c.name, **c.scores, "text": c.text}
                for c in item.candidates
            ]
        )
        st.dataframe(table, hide_index=True, width="stretch")
        buttons = st.columns(len(item.candidates) + 1)
        # More columns than other answers: the labelled candidate has none, and the last column holds Drop.
        for column, candidate in zip(buttons, (c for c in item.candidates if not c.labelled), strict=False):
            column.button(
                f"Answer: {candidate.name}",
                key=f"relabel-{dataset_id}-{qid}-{candidate.id}",
                on_click=_decide,
                args=(curation, "relabel", qid, candidate.id),
            )
        buttons[-1].button(
            "Drop",
            key=f"drop-{dataset_id}-{qid}",
            icon=":material/delete:",
            on_click=_decide,
            args=(curation, "drop", qid, None),
        )
        st.text_input(
            "Wording",
            item.question,
            key=f"reword-{dataset_id}-{qid}",
            on_change=_reword,
            args=(curation, dataset_id, item),
            help="Fix the question as it should read; Enter keeps it.",
        )
        decided = _decision(curation, item)
        if decided:
            st.info(literal(decided), icon=":material/edit_note:")


def _decide(curation: Curation, action: str, qid: str, value: str | None) -> None:
    if action == "drop":
        curation.drop.add(qid)
    else:
        curation.relabel[qid] = value


def _reword(curation: Curation, dataset_id: str, item: QueueItem) -> None:
    text = st.session_state[f"reword-{dataset_id}-{item.query_id}"].strip()
    if text and text != item.question:
        curation.reword[item.query_id] = text
    else:
        curation.reword.pop(item.query_id, None)


def _decision(curation: Curation, item: QueueItem) -> str:
    names = {c.id: c.name for c in item.candidates}
    if item.query_id in curation.drop:
        return "To be dropped."
    said = [
        f"answer: {names[curation.relabel[item.query_id]]}" if item.query_id in curation.relabel else "",
        f"worded: {curation.reword[item.query_id]}" if item.query_id in curation.reword else "",
    ]
    return "; ".join(s for s in said if s)
