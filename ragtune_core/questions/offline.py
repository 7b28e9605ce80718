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
from .generators import GeneratedQuestion, GenerationError, GenerationResult, ProgressCallback, check_n
from .lexicon import ENOUGH, KIND_WEIGHTS, LATE_WEIGHT, RARE_WORDS_COUNTED, SAME_KIND_WEIGHT, SAME_SENTENCE_WEIGHT
from .offline_facts import Candidate, Facts, Vocabulary, chunk_facts, ngrams, words_of
from .offline_styles import PLAIN, STYLES, document_names, style_candidates
from .thesaurus import Thesaurus


class OfflineQuestionGenerator:
    """Template questions from a chunk's own vocabulary: no network, no key, deterministic per seed.

    Each chunk is asked in the `styles` people search in (offline_styles): its questions take the
    styles in turn, from a style drawn per chunk, so every style is asked about as often."""

    copy_run_limit = 8  # a question never repeats this many consecutive words of its chunk
    opening_words = 180  # facts in a chunk's first words (about 240 tokens) are preferred

    def __init__(self, seed: int = 0, styles: tuple[str, ...] = STYLES, titles: dict[str, str] | None = None):
        unknown = [s for s in styles if s not in STYLES]
        if not styles or unknown:
            raise GenerationError(f"styles must be some of {', '.join(STYLES)}, not {', '.join(unknown) or 'none'}")
        self.seed = seed
        self.styles = tuple(styles)
        self.titles = titles or {}  # document id -> title: what a document is called ("lyft_2021.pdf")

    def generate(
        self, chunks: list[Chunk], n_per_chunk: int, on_progress: ProgressCallback | None = None
    ) -> GenerationResult:
        check_n(n_per_chunk)
        vocabulary = Vocabulary.of(chunks)  # what is rare is judged against every chunk asked about
        facts = [chunk_facts(chunk, vocabulary) for chunk in chunks]
        names = document_names(
            [(c.doc_id, f) for c, f in zip(chunks, facts, strict=True) if f is not None], self.titles
        )
        thesaurus = Thesaurus.of(c.text for c in chunks) if PLAIN in self.styles else Thesaurus()
        result = GenerationResult()
        asked: set[str] = set()  # across chunks, so overlapping chunks do not share questions
        for done, (chunk, chunk_facts_) in enumerate(zip(chunks, facts, strict=True), start=1):
            questions = self._ask(chunk, chunk_facts_, n_per_chunk, asked, names.get(chunk.doc_id), thesaurus)
            if questions:
                asked.update(q.lower() for q in questions)
                result.questions.extend(GeneratedQuestion(chunk.chunk_id, q) for q in questions)
            else:
                result.failures.append((chunk.chunk_id, "the chunk has too little text to ask about"))
            if on_progress:
                on_progress(done, len(chunks), len(result.failures))
        return result

    def questions_for(
        self, chunk: Chunk, n: int, exclude: set[str] = frozenset(), vocabulary: Vocabulary | None = None
    ) -> list[str]:
        """Up to n questions about the chunk, most specific first. Without a vocabulary (the
        corpus's word counts) a word is judged against the chunk alone, so only stopwords and
        template words count as common."""
        facts = chunk_facts(chunk, vocabulary or Vocabulary.of([chunk]))
        thesaurus = Thesaurus.of([chunk.text]) if PLAIN in self.styles else Thesaurus()
        name = document_names([(chunk.doc_id, facts)], self.titles).get(chunk.doc_id) if facts else None
        return self._ask(chunk, facts, n, exclude, name, thesaurus)

    def _ask(
        self, chunk: Chunk, facts: Facts | None, n: int, exclude: set[str], name: str | None, thesaurus: Thesaurus
    ) -> list[str]:
        if facts is None:
            return []
        rng = random.Random(f"{self.seed}:{chunk.chunk_id}:{chunk.text[:200]}")
        forbidden = ngrams(words_of(chunk.text), self.copy_run_limit)
        by_style = style_candidates(facts, rng, self.styles, name, thesaurus)
        scored = {
            style: self._scored(candidates, facts, exclude, forbidden, rng) for style, candidates in by_style.items()
        }
        first = rng.randrange(len(self.styles))
        turns = [self.styles[(first + i) % len(self.styles)] for i in range(len(self.styles))]
        chosen: list[Candidate] = []
        while len(chosen) < n and any(scored.values()):
            for style in turns:
                taken = {c.text.lower() for c in chosen}
                remaining = [(score, c) for score, c in scored[style] if c.text.lower() not in taken]
                scored[style] = remaining
                if remaining and len(chosen) < n:
                    chosen.extend(_pick(remaining, 1, chosen))
        return [c.text for c in chosen]

    def _scored(
        self, candidates: list[Candidate], facts: Facts, exclude: set[str], forbidden: set, rng: random.Random
    ) -> list[tuple[float, Candidate]]:
        scored = []
        for candidate in candidates:
            key = candidate.text.lower()
            if key in exclude or ngrams(words_of(candidate.text), self.copy_run_limit) & forbidden:
                continue
            late = facts.sentences[candidate.sentence].offset >= self.opening_words
            score = (
                min(ENOUGH, _specificity(candidate.text, facts))
                * KIND_WEIGHTS[candidate.kind]
                * (LATE_WEIGHT if late else 1.0)
                * rng.uniform(0.85, 1.0)
            )
            scored.append((score, candidate))
        return scored


def _pick(scored: list[tuple[float, Candidate]], n: int, asked: list[Candidate] = ()) -> list[Candidate]:
    """The best n candidates, a sentence or a kind already asked about (`asked` included) counting less."""
    chosen: list[Candidate] = []
    remaining = list(scored)
    sentences: Counter = Counter(c.sentence for c in asked)
    kinds: Counter = Counter(c.kind for c in asked)
    while remaining and len(chosen) < n:
        _, best = max(
            remaining,
            key=lambda item: (
                item[0] * SAME_KIND_WEIGHT ** kinds[item[1].kind] * SAME_SENTENCE_WEIGHT ** sentences[item[1].sentence],
                item[1].text,
            ),
        )
        remaining = [item for item in remaining if item[1].text.lower() != best.text.lower()]
        chosen.append(best)
        sentences[best.sentence] += 1
        kinds[best.kind] += 1
    return chosen


def _specificity(question: str, facts: Facts) -> float:
    """How much the question's words of its chunk mark that chunk: the rarity of the rarest few."""
    rarities = sorted((facts.vocabulary.rarity(w) for w in set(words_of(question)) if w in facts.words), reverse=True)
    return sum(rarities[:RARE_WORDS_COUNTED])
