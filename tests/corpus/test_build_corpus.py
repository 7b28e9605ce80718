"""Chunk and save in one step, as the Corpus page does, saying how much of the corpus the model cannot read."""

from ragtune_core.corpus import build_corpus, load_chunks, load_text
from ragtune_core.store.models import DEFAULT_BASE_MODEL

TEXT = " ".join(f"Sentence {i} tells that the harbour of city {i} holds {i * 7} boats." for i in range(200))


def test_chunks_that_fit_the_model_are_saved_whole(workspace):
    documents = load_text("Harbours", TEXT).documents
    built = build_corpus(workspace, "harbours", documents, None, 224, 20)
    assert (built.record.name, built.record.n_documents) == ("harbours", 1)
    assert built.record.n_chunks == len(load_chunks(workspace, built.record.id)) > 1
    assert built.record.params == {"chunk_size": 224, "overlap": 20, "tokenizer": DEFAULT_BASE_MODEL}
    assert (built.model_limit, built.share_cut_off) == (256, 0.0)


def test_chunks_longer_than_the_model_reads_are_saved_and_their_lost_share_said(workspace):
    built = build_corpus(workspace, "long", load_text("Harbours", TEXT).documents, None, 1024, 0)
    assert built.record.n_chunks >= 2
    assert 0.5 < built.share_cut_off < 1  # past 256 of each 1,024-token chunk
