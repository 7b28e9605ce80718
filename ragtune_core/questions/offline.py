"""The offline question generator: template questions that pin one fact of a chunk (an amount, a
percentage, a date, a definition, a cause) and carry the chunk's distinctive words, never copying
its sentences. No network, no key.

A question that could be asked of many chunks ("What does the report say about revenue?") teaches
a retriever little, so every candidate is scored by how rare, across the chunks asked about, the
chunk's words it carries are (a word few chunks use marks its chunk), by its kind (one fact before
a loose "what is said about"), and by where its sentence stands: a chunk's opening is what it is
about, and what a retriever that cuts long passages short still reads. The best candidates win,
from different sentences where the chunk allows.
"""

from __future__ import annotations

import random
from collections import Counter

from ..corpus.documents import Chunk
from .generators import GeneratedQuestion, GenerationResult, ProgressCallback, check_n
from .lexicon import ENOUGH, KIND_WEIGHTS, LATE_WEIGHT, RARE_WORDS_COUNTED, SAME_KIND_WEIGHT, SAME_SENTENCE_WEIGHT
from .offline_facts import Vocabulary, Candidate, Facts, chunk_facts, ngrams, words_of
from .offline_kinds import KINDS


class OfflineQuestionGenerator:
    """Template questions from a chunk's own vocabulary: no network, no key, deterministic per seed."""

    copy_run_limit = 8  # a question never repeats this many consecutive words of its chunk
    opening_words = 180  # facts in a chunk's first words (about 240 tokens) are preferred

    def __init__(self, seed: int = 0):
        self.seed = seed

    def generate(self, chunks: list[Chunk], n_per_chunk: int,
                 on_progress: ProgressCallback | None = None) -> GenerationResult:
        check_n(n_per_chunk)
        vocabulary = Vocabulary.of(chunks)  # what is rare is judged against every chunk asked about
        result = GenerationResult()
        asked: set[str] = set()  # across chunks, so overlapping chunks do not share questions
        for done, chunk in enumerate(chunks, start=1):
            questions = self.questions_for(chunk, n_per_chunk, exclude=asked, vocabulary=vocabulary)
            if questions:
                asked.update(q.lower() for q in questions)
                result.questions.extend(GeneratedQuestion(chunk.chunk_id, q) for q in questions)
            else:
                result.failures.append((chunk.chunk_id, "the chunk has too little text to ask about"))
            if on_progress:
                on_progress(done, len(chunks), len(result.failures))
        return result

    def questions_for(self, chunk: Chunk, n: int, exclude: set[str] = frozenset(),
                      vocabulary: Vocabulary | None = None) -> list[str]:
        """Up to n questions about the chunk, most specific first. Without a vocabulary (the
        corpus's word counts) a word is judged against the chunk alone, so only stopwords and
        template words count as common."""
        rng = random.Random(f"{self.seed}:{chunk.chunk_id}:{chunk.text[:200]}")
        facts = chunk_facts(chunk, vocabulary or Vocabulary.of([chunk]))
        if facts is None:
            return []
        candidates = [c for kind in KINDS for c in kind(facts, rng)]
        forbidden = ngrams(words_of(chunk.text), self.copy_run_limit)
        scored = []
        for candidate in candidates:
            key = candidate.text.lower()
            if key in exclude or ngrams(words_of(candidate.text), self.copy_run_limit) & forbidden:
                continue
            late = facts.sentences[candidate.sentence].offset >= self.opening_words
            score = (min(ENOUGH, _specificity(candidate.text, facts))
                     * KIND_WEIGHTS[candidate.kind] * (LATE_WEIGHT if late else 1.0) * rng.uniform(0.85, 1.0))
            scored.append((score, candidate))
        return [c.text for c in _pick(scored, n)]


def _pick(scored: list[tuple[float, Candidate]], n: int) -> list[Candidate]:
    """The best candidates, a sentence or a kind already asked about counting less."""
    chosen: list[Candidate] = []
    remaining = list(scored)
    sentences: Counter = Counter()
    kinds: Counter = Counter()
    while remaining and len(chosen) < n:
        _, best = max(remaining, key=lambda item: (
            item[0] * SAME_KIND_WEIGHT ** kinds[item[1].kind] * SAME_SENTENCE_WEIGHT ** sentences[item[1].sentence],
            item[1].text))
        remaining = [item for item in remaining if item[1].text.lower() != best.text.lower()]
        chosen.append(best)
        sentences[best.sentence] += 1
        kinds[best.kind] += 1
    return chosen


def _specificity(question: str, facts: Facts) -> float:
    """How much the question's words of its chunk mark that chunk: the rarity of the rarest few."""
    rarities = sorted((facts.vocabulary.rarity(w) for w in set(words_of(question)) if w in facts.words), reverse=True)
    return sum(rarities[:RARE_WORDS_COUNTED])
