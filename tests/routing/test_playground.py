import pytest

from ragtune_core.corpus.documents import Chunk, Document
from ragtune_core.llm.config import LLMConfig
from ragtune_core.questions.router import RoutingError
from ragtune_core.routing.playground import extractive_summary, grounded_answer, llm_summary, retrieve
from ragtune_core.store.models import load_embedder
from tests.fake_openai import FakeOpenAIServer

CHUNKS = [
    Chunk("d#0", "d", "The harbour of Lisbon handles container ships and cruise liners.", page=3),
    Chunk("d#1", "d", "Trams number 28 climb the steep hills of the Alfama district.", section="Transport"),
    Chunk("d#2", "d", "Pastel de nata is a custard tart first baked by monks in Belem."),
]


@pytest.mark.slow
def test_retrieve_ranks_the_matching_chunk_first_with_its_metadata():
    sources = retrieve(load_embedder(), CHUNKS, "Which tram goes up the hills?", top_k=2)
    assert [s.chunk.chunk_id for s in sources][:1] == ["d#1"]
    assert len(sources) == 2 and sources[0].score > sources[1].score
    assert sources[0].chunk.section == "Transport"


@pytest.mark.slow
def test_extractive_summary_keeps_document_order_and_is_labelled():
    sentences = [f"Lisbon fact number {i} is about the city and its long history by the river." for i in range(10)]
    sentences.insert(4, "Completely unrelated: quantum chromodynamics describes gluons binding quarks together.")
    document = Document("d", "Lisbon", "text:lisbon", " ".join(sentences))
    summary = extractive_summary(load_embedder(), document, n_sentences=3)
    assert summary.method == "extractive"
    assert "quantum" not in summary.text
    picked = [int(part.split()[0]) for part in summary.text.split("fact number ")[1:]]
    assert len(picked) == 3 and picked == sorted(picked)


@pytest.mark.slow
def test_extractive_summary_leaves_out_headings_and_sentences_that_lean_on_the_one_before():
    sentences = [f"Lisbon fact number {i} is about the city and its long history by the river." for i in range(6)]
    leaning = "It is also about the city of Lisbon and its long history by the river."
    heading = "List of people from Lisbon and its long history by the river"
    document = Document("d", "Lisbon", "text:lisbon", "\n".join([*sentences, leaning, heading]))
    summary = extractive_summary(load_embedder(), document, n_sentences=8)  # room for every line
    assert leaning not in summary.text and heading not in summary.text
    assert summary.text.count("fact number") == 6


def test_llm_summary_and_grounded_answer_go_through_the_endpoint():
    seen = []

    def responder(request):
        seen.append(request["messages"][0]["content"])
        return "Lisbon is a port city [1]."

    with FakeOpenAIServer(responder=responder) as server:
        config = LLMConfig(base_url=server.base_url, model="fake-model", api_key="k")
        summary = llm_summary(config, Document("d", "Lisbon", "text:l", "Lisbon has a harbour."))
        answer = grounded_answer(config, "What is Lisbon?", retrieve_stub())
    assert summary.method == "llm" and summary.text == "Lisbon is a port city [1]."
    assert answer == "Lisbon is a port city [1]."
    assert "Lisbon has a harbour." in seen[0]
    assert "[1] The harbour of Lisbon" in seen[1] and "Question: What is Lisbon?" in seen[1]


def test_llm_failure_is_an_error_not_an_empty_answer():
    with FakeOpenAIServer(server_error_every=1) as server:
        config = LLMConfig(base_url=server.base_url, model="fake-model", api_key="k", max_retries=1)
        with pytest.raises(RoutingError, match="did not answer"):  # the user's to fix: shown as a message
            grounded_answer(config, "What is Lisbon?", retrieve_stub())


def retrieve_stub():
    from ragtune_core.routing.playground import Source

    return [Source(CHUNKS[0], 0.9)]
