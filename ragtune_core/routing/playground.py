"""Run a routed query through its tool: retrieve from a document, summarise it, answer from sources.

What the Playground page shows after a selector has picked a tool. Without an LLM the summary is
extractive (sentences nearest the document's centroid) and there is no generated answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..corpus.chunking import split_sentences
from ..corpus.documents import Chunk, Document
from ..evaluation.retrieval import corpus_and_progress
from ..llm.client import Completion, complete_many
from ..llm.config import LLMConfig
from ..questions.router.tools import RoutingError

SUMMARY_SENTENCES = 5
_SENTENCE_END = re.compile(r"[.!?][\"')\]”’]*$")
_BACK_REFERENCES = {"it", "its", "this", "these", "those", "they", "their", "he", "she", "his", "her", "such"}
ENCODE_BATCH = 64
MAX_SUMMARY_INPUT_CHARS = 12_000  # what an LLM summary reads of a long document
ANSWER_PROMPT = (
    "Answer the question using only the sources below. Cite sources as [1], [2]... "
    "If the sources do not contain the answer, say so.\n\n{sources}\n\nQuestion: {query}\nAnswer:"
)
SUMMARY_PROMPT = "Write a concise summary (at most 8 sentences) of everything this document covers.\n\n{text}"


@dataclass
class Source:
    chunk: Chunk
    score: float


@dataclass
class Summary:
    text: str
    method: str  # "llm" | "extractive"


def retrieve(embedder, chunks: list[Chunk], query: str, top_k: int = 5) -> list[Source]:
    """The `top_k` chunks most similar (cosine) to the query, best first."""
    from torch.nn.functional import normalize

    if not chunks:
        return []
    texts = [c.text for c in chunks]  # a document's vectors are kept: the next query encodes only itself
    passages = normalize(corpus_and_progress(embedder, texts, [], ENCODE_BATCH, None)[0], dim=-1).numpy()
    question = embedder.encode_query(
        [query], convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
    )[0]
    scores = passages @ question
    best = np.argsort(-scores)[:top_k]
    return [Source(chunks[i], float(scores[i])) for i in best]


def extractive_summary(embedder, document: Document, n_sentences: int = SUMMARY_SENTENCES) -> Summary:
    """The sentences closest to the mean of all the document's sentence embeddings, in document order.
    Only whole sentences that stand alone are candidates: a heading or a list line ("List of people from
    Lisbon") is no sentence, and one opening on "It" or "They" means nothing out of its place."""
    spans = split_sentences(document.text)
    sentences = [document.text[start:end].strip() for start, end in spans]
    sentences = [s for s in sentences if len(s.split()) >= 5 and _stands_alone(s)] or sentences
    if len(sentences) <= n_sentences:
        return Summary(" ".join(sentences), "extractive")
    vectors = embedder.encode(sentences, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)
    centroid = vectors.mean(axis=0)
    chosen = sorted(np.argsort(-(vectors @ centroid))[:n_sentences])
    return Summary(" ".join(sentences[i] for i in chosen), "extractive")


def _stands_alone(sentence: str) -> bool:
    return bool(_SENTENCE_END.search(sentence)) and sentence.split()[0].lower() not in _BACK_REFERENCES


def llm_summary(config: LLMConfig, document: Document) -> Summary:
    text = document.text[:MAX_SUMMARY_INPUT_CHARS]
    return Summary(_ask(config, SUMMARY_PROMPT.format(text=text)), "llm")


def grounded_answer(config: LLMConfig, query: str, sources: list[Source]) -> str:
    numbered = "\n\n".join(f"[{i}] {source.chunk.text}" for i, source in enumerate(sources, start=1))
    return _ask(config, ANSWER_PROMPT.format(sources=numbered, query=query))


def _ask(config: LLMConfig, prompt: str) -> str:
    outcome = complete_many(config, [[{"role": "user", "content": prompt}]])[0]
    if not isinstance(outcome, Completion):
        raise RoutingError(f"the LLM did not answer: {outcome.message}")
    return outcome.content.strip()
