import random
from itertools import pairwise

import pytest

from ragtune_core.corpus.chunking import chunk_documents, split_sentences
from ragtune_core.corpus.documents import Document, Span, make_doc_id
from ragtune_core.store.models import load_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer()


def n_tokens(tokenizer, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])


def make_doc(text: str, source: str = "text:doc.txt", spans: list[Span] | None = None) -> Document:
    return Document(make_doc_id(source, text), source.split(":", 1)[1], source, text, spans or [Span(0, len(text))])


def prose(n_sentences: int, seed: int = 0) -> str:
    """Two paragraphs of distinct sentences ("Item 7 river market tower.") of varied length."""
    words = "river city harbour council bridge market railway museum winter summer population tower".split()
    rng = random.Random(seed)
    sentences = [
        f"Item {i} " + " ".join(rng.choices(words, k=rng.randint(3, 14))) + rng.choice(".!?")
        for i in range(n_sentences)
    ]
    half = n_sentences // 2
    return " ".join(sentences[:half]) + "\n\n" + " ".join(sentences[half:])


def test_split_sentences_on_punctuation_and_newlines():
    text = 'It grew. "Was it big?" she asked. It cost 3.5 million!\nHeading line\n\n  Last one  '
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "It grew.",
        '"Was it big?"',
        "she asked.",
        "It cost 3.5 million!",
        "Heading line",
        "Last one",
    ]


@pytest.mark.parametrize(
    "chunk_size, overlap, message",
    [(15, 0, "at least 16"), (64, -1, "overlap"), (64, 64, "overlap"), (64, 100, "overlap")],
)
def test_bad_parameters_are_refused(tokenizer, chunk_size, overlap, message):
    with pytest.raises(ValueError, match=message):
        chunk_documents([make_doc("Some text.")], tokenizer, chunk_size, overlap)


def test_chunks_fit_the_size_and_are_slices_of_the_document(tokenizer):
    doc = make_doc(prose(120))
    chunks = chunk_documents([doc], tokenizer, chunk_size=40, overlap=10)
    assert len(chunks) > 5
    assert [c.chunk_id for c in chunks] == [f"{doc.doc_id}#{i}" for i in range(len(chunks))]
    starts = [doc.text.find(c.text) for c in chunks]
    assert -1 not in starts
    assert starts == sorted(set(starts))  # in document order, no chunk repeated
    assert all(n_tokens(tokenizer, c.text) <= 40 for c in chunks)
    assert chunks[0].text.startswith("Item 0 ") and doc.text.endswith(chunks[-1].text)
    for s, e in split_sentences(doc.text):
        assert any(doc.text[s:e] in c.text for c in chunks), "every sentence is in a chunk, whole"


def test_overlap_repeats_whole_sentences_within_budget(tokenizer):
    doc = make_doc(prose(80, seed=1))
    sentences = [doc.text[s:e] for s, e in split_sentences(doc.text)]
    chunks = chunk_documents([doc], tokenizer, chunk_size=48, overlap=12)
    n_shared = 0
    for before, after in pairwise(chunks):
        assert any(after.text.startswith(s) for s in sentences), "a chunk starts at a sentence start"
        shared = [s for s in sentences if s in before.text and s in after.text]
        assert sum(n_tokens(tokenizer, s) for s in shared) <= 12
        if shared:  # the shared sentences are the end of one chunk and the start of the next
            end = after.text.index(shared[-1]) + len(shared[-1])
            assert before.text.endswith(after.text[:end])
            n_shared += 1
    assert n_shared >= len(chunks) // 2

    separate = chunk_documents([doc], tokenizer, chunk_size=48, overlap=0)
    assert not any(s in a.text and s in b.text for a, b in pairwise(separate) for s in sentences)
    assert "".join("".join(c.text.split()) for c in separate) == "".join(doc.text.split())


def test_a_sentence_longer_than_a_chunk_is_cut_by_tokens(tokenizer):
    words = [f"word{i}" for i in range(60)]
    doc = make_doc(" ".join(words) + ". Short end.")
    chunks = chunk_documents([doc], tokenizer, chunk_size=16, overlap=4)
    assert len(chunks) >= 4
    assert all(n_tokens(tokenizer, c.text) <= 16 for c in chunks)
    joined = " ".join(c.text for c in chunks)
    assert all(w in joined.split() or f"{w}." in joined.split() for w in words)
    assert chunks[-1].text.endswith("Short end.")


def test_chunks_never_cross_documents_and_are_deterministic(tokenizer):
    first = make_doc("Alpha one. Alpha two.", "text:a.txt")
    second = make_doc("Beta one. Beta two.", "text:b.txt")
    chunks = chunk_documents([first, second], tokenizer, chunk_size=512, overlap=20)
    assert [(c.chunk_id, c.text) for c in chunks] == [
        (f"{first.doc_id}#0", "Alpha one. Alpha two."),
        (f"{second.doc_id}#0", "Beta one. Beta two."),
    ]
    assert chunk_documents([first, second], tokenizer, 512, 20) == chunks


def test_page_and_section_come_from_where_the_chunk_starts(tokenizer):
    page1 = " ".join(f"Page one sentence {i}." for i in range(13))  # the third chunk spans both pages
    page2 = " ".join(f"Page two sentence {i}." for i in range(12))
    text = page1 + "\n\n" + page2
    start2 = len(page1) + 2
    doc = make_doc(
        text,
        "pdf:r.pdf",
        [Span(0, len(page1), page=1, section="Intro"), Span(start2, len(text), page=2, section="Results")],
    )
    chunks = chunk_documents([doc], tokenizer, chunk_size=32, overlap=0)
    for chunk in chunks:
        expected = 1 if chunk.text.startswith("Page one") else 2
        assert chunk.page == expected
        assert chunk.section == ("Intro" if expected == 1 else "Results")
    assert {c.page for c in chunks} == {1, 2}
    assert any(c.page == 1 and "Page two" in c.text for c in chunks)


def test_duplicate_documents_are_refused(tokenizer):
    doc = make_doc("Same text.")
    with pytest.raises(ValueError, match="more than once"):
        chunk_documents([doc, doc], tokenizer)
