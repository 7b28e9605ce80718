import json
import random
import re

import pytest

from ragtune_core import jobs
from ragtune_core.cli import main as cli_main
from ragtune_core.corpus.documents import Chunk, Document, save_corpus
from ragtune_core.llm.config import LLMConfig
from ragtune_core.questions.generation import GenerationRequest, build_dataset, select_chunks
from ragtune_core.questions.generators import GeneratedQuestion, GenerationError
from ragtune_core.questions.llm_generator import LLMQuestionGenerator, estimate_llm_usage
from ragtune_core.questions.offline import OfflineQuestionGenerator
from ragtune_core.questions.offline_facts import Vocabulary, chunk_facts
from ragtune_core.questions.offline_styles import joined_hyphens, topic_queries
from ragtune_core.questions.prompts import DEFAULT_QA_PROMPT, parse_questions, render_prompt
from ragtune_core.questions.qa_dataset import QADataset, load_dataset, save_dataset
from tests.fake_openai import FakeOpenAIServer

BERLIN = [
    "Berlin is the capital and largest city of Germany. Its more than 3.85 million inhabitants make Berlin the "
    "most populous city of the European Union. Berlin is surrounded by the state of Brandenburg, and the river "
    "Spree flows through the city before it joins the Havel in the western borough of Spandau.",
    "First documented in the 13th century, Berlin was designated the capital of the Margraviate of Brandenburg "
    "in 1417. After World War II the city was divided by the Berlin Wall. Following German reunification in "
    "1990, Berlin once again became the capital of all of Germany, and the Bundestag moved back from Bonn.",
    "The economy of Berlin is based on high tech and the service sector, including creative industries, "
    "startup companies, research facilities and media corporations. Berlin serves as a continental hub for "
    "air and rail traffic and has a complex public transportation network run by the BVG.",
]
LYFT = [
    "Lyft reported revenue of $3.2 billion in 2021, an increase of 36% compared to 2020. Lyft attributes the "
    "growth in revenue to the recovery of rideshare demand as pandemic restrictions eased across its markets.",
    "Lyft had a net loss of $1.0 billion in 2021. Operating expenses included insurance costs, stock-based "
    "compensation and driver incentives, and Lyft expects insurance costs to remain a large share of expenses.",
    "The rideshare marketplace of Lyft connects riders and drivers in the United States and Canada. Lyft also "
    "operates bike-share systems and scooters in several cities, and Lyft Autonomous partners with Motional.",
]
TEMPLATE_WORDS = set(
    """what does the text report say about said connection with role play significant for how
described details are given known significance tell connected happened many have year when was did percentage
were part in of is it by the and from""".split()
)


def _chunks(texts: list[str], doc_id: str) -> list[Chunk]:
    return [Chunk(f"{doc_id}-{i}", doc_id, text) for i, text in enumerate(texts)]


def _save_tiny_corpus(ws, name="tiny", documents=(("berlin", BERLIN), ("lyft", LYFT))):
    docs = [Document(doc_id, doc_id.title(), f"text:{doc_id}", "\n".join(texts)) for doc_id, texts in documents]
    chunks = [c for doc_id, texts in documents for c in _chunks(texts, doc_id)]
    return save_corpus(ws, name, docs, chunks, {"chunker": "test"}), chunks


# prompts and parsing ----------------------------------------------------------------------------------
def test_default_prompt_asks_for_search_queries_in_every_style_as_a_json_list():
    assert DEFAULT_QA_PROMPT.startswith("Context information is below.\n---------------------\n{context_str}\n")
    for style in ("a few keywords", "everyday words", "what the passage is about", "one specific fact"):
        assert style in DEFAULT_QA_PROMPT
    assert DEFAULT_QA_PROMPT.endswith("Answer with a JSON list of strings and nothing else.")


def test_a_json_answer_keeps_keyword_queries_where_free_text_keeps_questions_only():
    answer = '["acme 2021 revenue", "why did sales fall", "acme"]'
    assert parse_questions(answer, 5) == ["acme 2021 revenue", "why did sales fall"]
    assert parse_questions("Here are some:\nacme 2021 revenue\nWhy did sales fall?", 5) == ["Why did sales fall?"]


def test_render_prompt_fills_the_fields_and_keeps_other_braces():
    prompt = render_prompt(
        'Text: {context_str}\nAsk {num_questions_per_chunk}. Answer as {"questions": []}', "Spree", 3
    )
    assert prompt == 'Text: Spree\nAsk 3. Answer as {"questions": []}'
    with pytest.raises(GenerationError, match=re.escape("{context_str}")):
        render_prompt("Ask {num_questions_per_chunk} questions.", "Spree", 3)


@pytest.mark.parametrize(
    "answer",
    [
        "1. What is the capital of Germany?\n2. Which river flows through Berlin?",
        "1) What is the capital of Germany?\n2) Which river flows through Berlin?",
        "Q1: What is the capital of Germany?\nQ2: Which river flows through Berlin?",
        "Question 1: What is the capital of Germany?\n\nQuestion 2: Which river flows through Berlin?",
        "- What is the capital of Germany?\n* Which river flows through Berlin?",
        "• What is the capital of Germany?\n• Which river flows through Berlin?",
        "Here are 2 questions:\n\n1. What is the capital of Germany?\n2. Which river flows through Berlin?",
        "```\n1. What is the capital of Germany?\n2. Which river flows through Berlin?\n```",
        '```json\n["What is the capital of Germany?", "Which river flows through Berlin?"]\n```',
        '{"questions": [{"question": "What is the capital of Germany?"}, '
        '{"question": "Which river flows through Berlin?"}]}',
        '1. "What is the capital of Germany?"\n2. **Which river flows through Berlin?**',
        "1. What is the capital of Germany?\nAnswer: Berlin.\n2. Which river flows through Berlin?\nAnswer: The Spree.",
    ],
)
def test_parse_questions_handles_common_answer_shapes(answer):
    assert parse_questions(answer, limit=5) == ["What is the capital of Germany?", "Which river flows through Berlin?"]


def test_parse_questions_dedups_limits_and_keeps_question_like_lines_only():
    answer = (
        "Sure! Questions:\n1. What is the Spree?\n2. what is the  spree?\n3. Berlin is big.\n"
        "4. Describe the Berlin Wall's history\n5. When did Berlin become the capital?"
    )
    assert parse_questions(answer, limit=5) == [
        "What is the Spree?",
        "Describe the Berlin Wall's history",
        "When did Berlin become the capital?",
    ]
    assert parse_questions(answer, limit=2) == ["What is the Spree?", "Describe the Berlin Wall's history"]
    assert parse_questions("", limit=3) == [] and parse_questions("I cannot help with that.", limit=3) == []


# the offline generator -----------------------------------------------------------------------------
def _copied_run(question: str, chunk: str, n: int = 8) -> bool:
    words, source = re.findall(r"\w+", question.lower()), re.findall(r"\w+", chunk.lower())
    runs = {tuple(source[i : i + n]) for i in range(len(source) - n + 1)}
    return any(tuple(words[i : i + n]) in runs for i in range(len(words) - n + 1))


FACTS = ("fact",)  # the fact questions alone, as a router dataset asks them


def test_offline_questions_are_plausible_and_never_copy_the_chunk():
    chunks = _chunks(BERLIN, "berlin") + _chunks(LYFT, "lyft")
    result = OfflineQuestionGenerator(seed=0, styles=FACTS).generate(chunks, 3)
    assert not result.failures
    by_chunk = {c.chunk_id: [q.question for q in result.questions if q.chunk_id == c.chunk_id] for c in chunks}
    for chunk in chunks:
        questions = by_chunk[chunk.chunk_id]
        assert len(questions) == 3, chunk.chunk_id
        chunk_words = {w.lower() for w in re.findall(r"\w+", chunk.text)}
        for question in questions:
            assert question.endswith("?") and question[0].isupper()
            assert not _copied_run(question, chunk.text), question
            salient = {w.lower() for w in re.findall(r"\w+", question) if len(w) >= 3} - TEMPLATE_WORDS
            assert salient & chunk_words, f"{question!r} names nothing from its chunk"
    all_questions = [q.question for q in result.questions]
    assert len(set(all_questions)) == len(all_questions)  # no two chunks share a question


def test_offline_questions_use_the_chunks_facts():
    result = OfflineQuestionGenerator(seed=0, styles=FACTS).generate(
        _chunks(BERLIN[:1], "berlin") + _chunks(LYFT[:1], "lyft"), 6
    )
    questions = [q.question for q in result.questions]
    assert "How many inhabitants does Berlin have?" in questions
    assert "What was Lyft's revenue in 2021?" in questions
    assert "By what percentage did Lyft's revenue increase in 2021?" in questions


def test_offline_generator_asks_each_chunk_in_the_styles_people_search_in():
    chunks = _chunks(LYFT, "lyft")
    result = OfflineQuestionGenerator(seed=0, titles={"lyft": "lyft_2021.pdf"}).generate(chunks, 4)
    by_chunk = {c.chunk_id: [q.question for q in result.questions if q.chunk_id == c.chunk_id] for c in chunks}
    keywords = [
        q
        for asked in by_chunk.values()
        for q in asked
        if not q.endswith("?") and q == q.lower() and not q.startswith(("what", "how", "explain"))
    ]
    assert keywords and all(len(q.split()) <= 7 for q in keywords), by_chunk
    # The title names the document: keyword queries carry it where the chunk's words alone would not.
    assert any(q.startswith("lyft ") for q in keywords), keywords
    asked = [q for qs in by_chunk.values() for q in qs]
    assert any(
        re.match(
            r"(what does lyft say about|how does lyft handle|what is lyft's approach to|explain)|"
            r".* overview$",
            q,
        )
        for q in asked
    ), asked
    # Plain words: a term of the chunk said in everyday words ("revenue" -> "sales" or "income").
    assert any(re.search(r"\b(sales|income|costs|spending|money lost|losses)\b", q) for q in asked), asked
    for chunk in chunks:
        assert len(by_chunk[chunk.chunk_id]) == 4
        assert not any(_copied_run(q, chunk.text) for q in by_chunk[chunk.chunk_id])


def test_a_topic_that_names_its_risk_is_not_asked_about_its_risks():
    text = (
        "Counterparty credit risk could adversely affect our reinsurance recoveries. Our reinsurers may not "
        "be able to pay claims, and we may not be able to recover amounts owed to us."
    )
    chunk = Chunk("lyft-risk", "lyft", text, section="Counterparty Credit Risk")
    facts = chunk_facts(chunk, Vocabulary.of([chunk]))
    asked = [c.text for seed in range(20) for c in topic_queries(facts, random.Random(seed), "Lyft")]
    assert any("counterparty credit risk" in q for q in asked), asked
    assert not [q for q in asked if q.count("risk") > 1], asked  # not "counterparty credit risk risk"


def test_a_topic_is_asked_about_its_risks_only_where_its_sentence_speaks_of_them():
    text = (
        "Ride volume fell as riders stayed home. Drivers switched to delivery work in many cities. "
        "Regulatory changes could adversely affect our business."
    )
    chunk = Chunk("lyft-volume", "lyft", text)
    facts = chunk_facts(chunk, Vocabulary.of([chunk]))
    asked = [c for seed in range(20) for c in topic_queries(facts, random.Random(seed), "Lyft")]
    about_volume = [c.text for c in asked if c.sentence == 0]
    assert about_volume and not [q for q in about_volume if "risk" in q or "hurt" in q], about_volume
    assert any("risk" in c.text or "hurt" in c.text for c in asked if c.sentence == 2), asked


def test_a_name_is_asked_about_not_what_it_handles_or_how_it_hurts():
    text = "Dara Khosrowshahi leads the company. Dara Khosrowshahi could adversely affect our culture if he left."
    chunk = Chunk("uber-ceo", "uber", text)
    facts = chunk_facts(chunk, Vocabulary.of([chunk]))
    asked = {c.text for seed in range(20) for c in topic_queries(facts, random.Random(seed), "Uber")}
    about_him = {q for q in asked if "dara khosrowshahi" in q}
    assert about_him == {"what does uber say about dara khosrowshahi", "what is said about dara khosrowshahi"}, asked


def test_a_word_a_pdf_broke_at_its_hyphen_is_joined_again():
    assert joined_hyphens("uber up- front pricing") == "uber up-front pricing"
    assert joined_hyphens("pre- and post-tax income") == "pre- and post-tax income"


def test_the_company_and_a_documents_parts_alone_name_nothing():
    texts = [
        "The Company repurchased shares of its Class A stock. The Company expects more buybacks, as Item 5 says.",
        "Revenue grew and the company's costs fell.",
    ]
    chunks = _chunks(texts, "lyft")
    facts = chunk_facts(chunks[0], Vocabulary.of(chunks))
    assert facts.main is None  # not "How many shares does Company have?": a report's own word, not a name
    assert not {"Company", "Item"} & {name for sentence in facts.sentences for name in sentence.names}


def test_offline_styles_are_checked():
    with pytest.raises(GenerationError, match="styles must be some of fact, keyword, topic, plain, not quiz"):
        OfflineQuestionGenerator(styles=("fact", "quiz"))


def test_offline_generator_is_deterministic_per_seed():
    chunks = _chunks(BERLIN, "berlin")
    first = OfflineQuestionGenerator(seed=7).generate(chunks, 2).questions
    assert OfflineQuestionGenerator(seed=7).generate(chunks, 2).questions == first
    seeds = {
        tuple(q.question for q in OfflineQuestionGenerator(seed=s).generate(chunks, 2).questions) for s in range(5)
    }
    assert len(seeds) > 1


def test_offline_generator_reports_chunks_it_cannot_ask_about():
    progress = []
    chunks = [Chunk("empty", "d", "   "), Chunk("tiny", "d", "Page 3 of 4.")] + _chunks(BERLIN[:1], "berlin")
    result = OfflineQuestionGenerator().generate(chunks, 2, on_progress=lambda *a: progress.append(a))
    assert [c for c, _ in result.failures] == ["empty", "tiny"]
    assert {q.chunk_id for q in result.questions} == {"berlin-0"}
    assert progress[-1] == (3, 3, 2)


# specific to their chunk: a report whose chunks share boilerplate ----------------------------------------
BOILERPLATE = "Our revenue and our operating results depend on the continued growth of our platform."
REPORT = [
    "We had an accumulated deficit of $23.6 billion as of December 31, 2021. " + BOILERPLATE,
    "The increase in insurance reserves was primarily due to higher claims from autonomous vehicles. " + BOILERPLATE,
    "\u201cImmaterial Subsidiary\u201d means any subsidiary whose total assets do not exceed 5% of the Total Assets. "
    + BOILERPLATE,
    BOILERPLATE + " Riders in Toronto can rent electric scooters through the Lyft app.",
    BOILERPLATE + " We believe our revenue depends on our platform and our operating results.",
]
GENERIC = re.compile(r"^(What does the (text|report) say about|What details are given about)")


def _report_questions(n: int = 2, seed: int = 0, styles=FACTS) -> dict[str, list[str]]:
    chunks = _chunks(REPORT, "report")
    result = OfflineQuestionGenerator(seed=seed, styles=styles).generate(chunks, n)
    return {c.chunk_id: [q.question for q in result.questions if q.chunk_id == c.chunk_id] for c in chunks}


def _own_words(i: int) -> set[str]:
    """The words of REPORT[i] that no other chunk of the report uses."""
    words = [set(re.findall(r"\w+", text.lower())) for text in REPORT]
    return words[i] - set().union(*(w for j, w in enumerate(words) if j != i))


def test_offline_questions_carry_words_only_their_chunk_uses():
    for i, questions in enumerate(_report_questions().values()):
        if i == 4:
            continue  # boilerplate only: nothing marks it
        assert len(questions) == 2
        for question in questions:
            assert set(re.findall(r"\w+", question.lower())) & _own_words(i), question
            assert not _copied_run(question, REPORT[i]), question


def test_offline_questions_pin_a_fact_rather_than_a_generic_topic():
    questions = _report_questions(n=1)
    first, cause, definition = questions["report-0"][0], questions["report-1"][0], questions["report-2"][0]
    assert re.fullmatch(
        r"(How much was|What was the amount of) the accumulated deficit as of December 31, 2021\?", first
    ), first
    assert re.fullmatch(r"What (drove|explains|caused) the increase in (the )?insurance reserves\?", cause), cause
    assert re.fullmatch(
        r'(What does "Immaterial Subsidiary" mean|How is "Immaterial Subsidiary" defined|'
        r'What is the definition of "Immaterial Subsidiary")\?',
        definition,
    ), definition
    for seed in range(3):  # chunks with facts get no "what does the report say about" question
        for chunk_id, asked in list(_report_questions(n=2, seed=seed).items())[:3]:
            assert not any(GENERIC.match(q) for q in asked), (chunk_id, asked)


def test_offline_questions_prefer_the_chunks_opening():
    # Two facts alike but for where they stand: with a short opening, the first one is asked.
    text = (
        "Lyft launched bike sharing in Denver in 2018. "
        + "Filler words follow here. " * 6
        + "Lyft launched scooter rentals in Oakland in 2019."
    )
    generator = OfflineQuestionGenerator(seed=0, styles=FACTS)
    generator.opening_words = 10
    question = generator.questions_for(Chunk("c", "d", text), 1)[0]
    assert "Denver" in question or "bike" in question, question


def test_questions_for_works_alone_and_is_deterministic():
    chunk = _chunks(REPORT, "report")[0]
    generator = OfflineQuestionGenerator(seed=3)
    alone = generator.questions_for(chunk, 3)
    assert len(alone) == 3 and alone == generator.questions_for(chunk, 3)
    assert not set(alone) & set(generator.questions_for(chunk, 3, exclude={q.lower() for q in alone}))


# the LLM generator -------------------------------------------------------------------------------------
def _llm(server, **overrides) -> LLMConfig:
    return LLMConfig(base_url=server.base_url, model="fake-model", **overrides)


def test_llm_generator_asks_parses_and_caches(tmp_path):
    chunks = _chunks(BERLIN, "berlin")
    with FakeOpenAIServer() as server:
        generator = LLMQuestionGenerator(_llm(server), cache_dir=tmp_path / "cache")
        first = generator.generate(chunks, 2)
        assert server.chat_requests == 3
        assert len(first.questions) == 6 and not first.failures and first.cached == 0
        assert first.usage.prompt_tokens > 0 and first.usage.completion_tokens > 0
        assert "Berlin" in server.requests[0].body["messages"][0]["content"]

        server.reset_counts()
        second = generator.generate(chunks, 2)
        assert server.chat_requests == 0  # an interrupted or repeated run never pays twice
        assert second.questions == first.questions and second.cached == 3 and second.usage.prompt_tokens == 0

        changed = LLMQuestionGenerator(
            _llm(server), prompt_template="Ask {num_questions_per_chunk}: {context_str}", cache_dir=tmp_path / "cache"
        )
        changed.generate(chunks, 2)
        assert server.chat_requests == 3  # another prompt is another question


@pytest.mark.fault(
    "The same model name at another base URL, or asked with other sampling (temperature), after a cached run",
    sees="the other endpoint (or sampling) is asked: its own questions, never the first server's cached answers",
    kept="each endpoint's cached answers, for its own repeated runs",
)
def test_the_cache_key_holds_the_endpoint_and_the_sampling(tmp_path):
    chunks = _chunks(BERLIN, "berlin")

    def other_responder(request: dict) -> str:
        return "1. What does the other server ask?\n2. And what else does it ask?"

    with FakeOpenAIServer() as first, FakeOpenAIServer(responder=other_responder) as second:
        asked_first = LLMQuestionGenerator(_llm(first), cache_dir=tmp_path).generate(chunks, 2)
        asked_second = LLMQuestionGenerator(_llm(second), cache_dir=tmp_path).generate(chunks, 2)
        assert second.chat_requests == 3 and asked_second.cached == 0
        assert {q.question for q in asked_second.questions} == {
            "What does the other server ask?",
            "And what else does it ask?",
        }
        assert not {q.question for q in asked_second.questions} & {q.question for q in asked_first.questions}
        colder = LLMQuestionGenerator(_llm(first, temperature=0.0), cache_dir=tmp_path).generate(chunks, 2)
        assert first.chat_requests == 6 and colder.cached == 0
        again = LLMQuestionGenerator(_llm(second), cache_dir=tmp_path).generate(chunks, 2)
        assert again.cached == 3 and second.chat_requests == 3


@pytest.mark.fault(
    "An LLM server that accepts connections and never answers (hung), with the default 60 s request timeout",
    sees="'waiting for the first answer from <endpoint> (model; given up after N s without one)' from the start, "
    "then each chunk failed: 'the server has not answered any request within N s' after about twice the "
    "first-answer timeout, not two minutes",
    kept="the chunks already answered (cache); nothing cached for the failed ones, asked again next run",
)
def test_a_hung_server_is_given_up_after_the_first_answer_timeout_saying_what_it_waits_for(tmp_path):
    import time

    from ragtune_core.llm.client import report_waits

    waits = []
    with FakeOpenAIServer(fault="hang", hang_seconds=30) as server:
        start = time.monotonic()
        with report_waits(lambda line: waits.append((time.monotonic() - start, line))):
            result = LLMQuestionGenerator(_llm(server, first_answer_timeout=0.5), cache_dir=tmp_path).generate(
                _chunks(BERLIN[:2], "berlin"), 2
            )
        elapsed = time.monotonic() - start
    assert elapsed < 5, elapsed  # two 0.5 s timeouts and a backoff, not two 60 s ones
    first_said, first_line = waits[0]
    assert first_said < 0.5 and first_line == (
        f"waiting for the first answer from {server.base_url} (fake-model; given up after 0.5 s without one)"
    )
    assert result.questions == [] and len(result.failures) == 2
    assert all("the server has not answered any request within 0.5 s" in why for _, why in result.failures)


def test_llm_generator_counts_malformed_answers_as_failures_and_retries_them_later(tmp_path):
    chunks = _chunks(BERLIN, "berlin")
    progress = []
    with FakeOpenAIServer(malformed_fraction=1.0) as server:
        result = LLMQuestionGenerator(_llm(server, max_concurrency=1), cache_dir=tmp_path).generate(
            chunks, 2, on_progress=lambda *a: progress.append(a)
        )
    assert result.questions == [] and len(result.failures) == 3
    assert any("held no questions" in why for _, why in result.failures)
    assert any("malformed response" in why for _, why in result.failures)
    assert progress[-1] == (3, 3, 3)
    with FakeOpenAIServer() as server:
        retry = LLMQuestionGenerator(_llm(server), cache_dir=tmp_path).generate(chunks, 2)
        assert server.chat_requests == 3 and len(retry.questions) == 6


def test_llm_generator_rejects_a_template_without_context():
    with pytest.raises(GenerationError, match="context_str"):
        LLMQuestionGenerator(LLMConfig("http://127.0.0.1:9/v1", "m"), prompt_template="Write questions.")


def test_usage_estimate_scales_with_chunks():
    one = estimate_llm_usage(_chunks(BERLIN[:1], "b"), 2)
    three = estimate_llm_usage(_chunks(BERLIN, "b"), 2)
    assert 0 < one.prompt_tokens < three.prompt_tokens and three.completion_tokens == 3 * one.completion_tokens


# datasets, requests and selection ----------------------------------------------------------------------
def test_build_dataset_links_questions_to_chunks_and_documents():
    chunks = _chunks(BERLIN, "berlin") + _chunks(LYFT, "lyft")
    generated = [
        GeneratedQuestion("berlin-0", "Q one?"),
        GeneratedQuestion("lyft-2", "Q two?"),
        GeneratedQuestion("lyft-2", "Q three?"),
    ]
    dataset = build_dataset(chunks, generated)
    assert len(dataset.corpus) == 6  # unasked chunks stay as retrieval distractors
    assert sorted(dataset.queries.values()) == ["Q one?", "Q three?", "Q two?"]
    assert sorted(p for pids in dataset.relevant_docs.values() for p in pids) == ["berlin-0", "lyft-2", "lyft-2"]
    assert dataset.passage_docs["lyft-2"] == "lyft"
    assert build_dataset(chunks, generated).queries == dataset.queries  # stable ids
    with pytest.raises(GenerationError, match="nope"):
        build_dataset(chunks, [GeneratedQuestion("nope", "Q?")])


def test_select_chunks_spreads_over_the_corpus_and_names_unknown_ids():
    chunks = [Chunk(f"c{i}", f"d{i // 10}", "text") for i in range(100)]
    picked = select_chunks(chunks, max_chunks=10)
    assert len({c.doc_id for c in picked}) == 10
    assert [c.chunk_id for c in select_chunks(chunks, chunk_ids=["c5", "c7"])] == ["c5", "c7"]
    with pytest.raises(GenerationError, match="c999"):
        select_chunks(chunks, chunk_ids=["c5", "c999"])


def test_request_parameters_round_trip_without_the_key():
    config = LLMConfig("http://127.0.0.1:8000/v1", "m", api_key="sk-hidden")
    request = GenerationRequest("corpus-1", n_per_chunk=3, generator="llm", llm=config)
    params = request.to_params()
    assert "sk-hidden" not in json.dumps(params)
    assert GenerationRequest.from_params(params).llm.model == "m"
    with pytest.raises(GenerationError, match="n_per_chunks"):
        GenerationRequest.from_params({"corpus_id": "c", "n_per_chunks": 2})
    with pytest.raises(GenerationError, match="generator"):
        GenerationRequest("c", generator="gpt")
    with pytest.raises(GenerationError, match="n_per_chunk"):
        GenerationRequest("c", n_per_chunk=0)


# the job and the CLI ------------------------------------------------------------------------------------
def test_offline_generation_job_end_to_end(workspace):
    corpus, chunks = _save_tiny_corpus(workspace)
    status = jobs.start_job(workspace, "generate_questions", {"corpus_id": corpus.id, "n_per_chunk": 2})
    final = jobs.wait(workspace, status.run_id, timeout=120)
    assert final.state == "succeeded", final.error
    assert (final.done, final.total) == (6, 6) and final.message == "0 failed"
    draft = QADataset.load(final.result["draft"])
    assert final.result["questions"] == len(draft.queries) == 12
    assert set(draft.corpus) == {c.chunk_id for c in chunks}
    assert {draft.passage_docs[p] for pids in draft.relevant_docs.values() for p in pids} == {"berlin", "lyft"}


def test_llm_generation_job_keeps_the_key_out_of_the_workspace_and_uses_the_cache(workspace):
    corpus, _ = _save_tiny_corpus(workspace)
    secret = "sk-test-generation-9f8e7d"
    with FakeOpenAIServer(rate_limit_every=4, retry_after=0.05) as server:
        config = LLMConfig(base_url=server.base_url, model="fake-model", api_key=secret)
        request = GenerationRequest(corpus.id, n_per_chunk=2, generator="llm", llm=config)
        for expected_requests in (None, 0):
            server.reset_counts()
            status = jobs.start_job(
                workspace, "generate_questions", request.to_params(), secret_env=config.secret_env()
            )
            final = jobs.wait(workspace, status.run_id, timeout=120)
            assert final.state == "succeeded", final.error
            assert final.result["questions"] == 12 and final.result["failures"] == 0
            if expected_requests is None:
                assert server.rate_limited >= 1 and {r.authorization for r in server.requests} == {f"Bearer {secret}"}
                assert final.result["usage"]["prompt_tokens"] > 0
            else:
                assert server.chat_requests == 0 and final.result["cached"] == 6
    assert any(workspace.dir("cache", "questions").rglob("*.json"))
    for path in workspace.root.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), f"the API key leaked into {path}"


def test_generation_job_on_an_unknown_corpus_fails_with_its_name(workspace):
    status = jobs.start_job(workspace, "generate_questions", {"corpus_id": "corpus-missing"})
    final = jobs.wait(workspace, status.run_id, timeout=120)
    assert final.state == "failed" and "corpus-missing" in final.error


def _cli(workspace, *args) -> int:
    return cli_main(["--workspace", str(workspace.root), "generate", *args])


def test_cli_generates_splits_and_saves_a_dataset(workspace, capsys):
    _save_tiny_corpus(workspace)
    assert (
        _cli(
            workspace,
            "--corpus",
            "tiny",
            "--name",
            "tiny-qs",
            "--per-chunk",
            "2",
            "--val-ratio",
            "0.5",
            "--test-ratio",
            "0",
        )
        == 0
    )  # two documents: enough for two parts by document
    summary = json.loads(capsys.readouterr().out)
    assert summary["questions"] == 12 and summary["failures"] == 0 and "note" not in summary
    dataset = load_dataset(workspace, summary["dataset_id"])
    assert len(dataset.queries) == 12 and set(dataset.split.values()) == {"train", "val"}
    val_docs = {dataset.passage_docs[dataset.relevant_docs[q][0]] for q, part in dataset.split.items() if part == "val"}
    assert len(val_docs) == 1  # by document: a whole document is held out
    assert workspace.get_dataset(summary["dataset_id"]).params["generator"] == "offline"


def test_cli_falls_back_to_a_query_split_for_one_document(workspace, capsys):
    _save_tiny_corpus(workspace, "one-doc", documents=(("berlin", BERLIN),))
    assert _cli(workspace, "--corpus", "one-doc", "--name", "qs", "--per-chunk", "2") == 0
    summary = json.loads(capsys.readouterr().out)
    assert (
        "split by question instead of by document" in summary["note"] and summary["val"] >= 1 and summary["test"] >= 1
    )


def test_cli_uses_an_llm_endpoint(workspace, capsys, tmp_path, monkeypatch):
    _save_tiny_corpus(workspace)
    monkeypatch.setenv("RAGTUNE_LLM_API_KEY", "sk-cli")
    prompt = tmp_path / "prompt.txt"
    prompt.write_text(
        "Context:\n---------------------\n{context_str}\n---------------------\nsetup {num_questions_per_chunk} "
        "questions"
    )
    with FakeOpenAIServer() as server:
        code = _cli(
            workspace,
            "--corpus",
            "tiny",
            "--name",
            "llm-qs",
            "--generator",
            "llm",
            "--base-url",
            server.base_url,
            "--model",
            "fake-model",
            "--prompt-file",
            str(prompt),
            "--max-chunks",
            "4",
        )
        assert code == 0 and server.chat_requests == 4
        assert server.requests[0].body["messages"][0]["content"].startswith("Context:")
    summary = json.loads(capsys.readouterr().out)
    assert summary["questions"] == 16 and summary["usage"]["completion_tokens"] > 0  # 4 chunks, 4 questions each


@pytest.mark.parametrize(
    "args, message",
    [
        (["--corpus", "nope", "--name", "x"], "nope"),
        (["--corpus", "tiny", "--name", "x", "--generator", "llm"], "--model"),
        (["--corpus", "tiny", "--name", "x", "--prompt-file", "missing.txt"], "missing.txt"),
        (["--corpus", "tiny", "--name", "taken"], "taken"),
    ],
)
def test_cli_bad_input_exits_2_and_changes_nothing(workspace, capsys, args, message):
    _, chunks = _save_tiny_corpus(workspace)
    save_dataset(workspace, "taken", build_dataset(chunks, [GeneratedQuestion(chunks[0].chunk_id, "Q?")]), None, {})
    assert _cli(workspace, *args) == 2
    assert message in capsys.readouterr().err
    assert [d.name for d in workspace.list_datasets()] == ["taken"]
