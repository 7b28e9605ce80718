"""Word match: Okapi BM25 of a question against a corpus's passages, a reranker's third score.

People type the report's own words ("uber 2021 net loss", "Express Drive"): names, figures and
terms that a small embedder blurs and a few hundred cross-encoder steps on a CPU do not learn.
BM25 counts them, weighting rare words up. A QA reranker blends it in at the weight that
validates best (reranking.best_blend), so where the words do not help it is left out.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter

import numpy as np

# Words and figures ("2021", "1,204", "3.5"): a figure's inner separators stay, so a number is one word.
_WORD = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")
# The commonest question and function words: they match everywhere and would only add noise.
_STOP_WORDS = frozenset(
    "a an and are as at be by did do does for from had has have how in is it its of on or that the their "
    "they this to was were what when where which who why will with".split()
)
K1, B = 1.2, 0.75  # BM25's usual term saturation and length normalisation


def words(text: str) -> list[str]:
    return [word for word in _WORD.findall(text.lower()) if word not in _STOP_WORDS]


class LexicalIndex:
    """BM25 over a fixed list of passages: `scores(question, positions)` for passages by position."""

    def __init__(self, passages: tuple[str, ...]):
        counts = [Counter(words(passage)) for passage in passages]
        lengths = np.array([sum(count.values()) for count in counts], dtype=float)
        documents = Counter(word for count in counts for word in count)
        total = len(passages)
        self._idf = {word: math.log(1 + (total - n + 0.5) / (n + 0.5)) for word, n in documents.items()}
        self._counts = counts
        self._norms = K1 * (1 - B + B * lengths / max(lengths.mean(), 1.0)) if total else lengths

    def scores(self, question: str, positions: list[int]) -> np.ndarray:
        asked = [word for word in set(words(question)) if word in self._idf]
        return np.array([self._score(asked, position) for position in positions], dtype=float)

    def _score(self, asked: list[str], position: int) -> float:
        count, norm = self._counts[position], self._norms[position]
        return sum(self._idf[word] * count[word] * (K1 + 1) / (count[word] + norm) for word in asked if word in count)


@functools.lru_cache(maxsize=4)
def lexical_index(passages: tuple[str, ...]) -> LexicalIndex:
    """One index per corpus and process: training evaluates the same corpus at every validation run."""
    return LexicalIndex(passages)
