import json
import random
import re
from collections import Counter

import pytest

from ragtune_core import jobs
from ragtune_core.cli import main as cli_main
from ragtune_core.corpus.documents import Chunk, Document, Span, load_documents, save_corpus
from ragtune_core.llm.config import LLMConfig
from ragtune_core.questions.generators import GenerationError
from ragtune_core.questions.qa_dataset import QADataset, load_dataset, save_dataset, split_dataset
from ragtune_core.questions.router.asking import name_document, names_document
from ragtune_core.questions.router.datasets import (
    DEFAULT_QUESTIONS_PER_DOCUMENT,
    DEFAULT_SUMMARY_VARIATIONS,
    generate_router_dataset,
)
from ragtune_core.questions.router.phrasing import (
    ASPECT_SUMMARY_TEMPLATES,
    SECTION_TEMPLATES,
    landmark_questions,
    name_question,
    restyle,
    with_typo,
)
from ragtune_core.questions.router.profiles import find_aliases, one_edit, points_at, profile_documents, section_topics
from ragtune_core.questions.router.prompts import (
    MAX_SUMMARY_VARIATIONS,
    SUMMARY_TEMPLATES,
    RouterPrompts,
    offline_summary_variations,
)
from ragtune_core.questions.router.request import RouterRequest
from ragtune_core.questions.router.tools import (
    RoutingError,
    Tool,
    ToolTemplate,
    make_tools,
    slugify,
    tools_from_dicts,
    tools_to_dicts,
)
from ragtune_core.routing.tables import counts_per_tool
from tests.fake_openai import FakeOpenAIServer
from tests.questions.test_generation import BERLIN, LYFT, TEMPLATE_WORDS

TORONTO = [
    "Toronto is the capital city of the Canadian province of Ontario. With a population of 2,794,356 in 2021, "
    "Toronto is the most populous city in Canada. Toronto lies on the northwestern shore of Lake Ontario and is "
    "a centre of business, finance, arts, sports and culture.",
    "The area was inhabited by the Huron-Wendat people. The town of York was founded in 1793 by John Graves "
    "Simcoe, and York was renamed Toronto when it was incorporated as a city in 1834. During the War of 1812 "
    "the town was occupied by American troops.",
    "Toronto is home to the Toronto Maple Leafs of the National Hockey League and the Toronto Raptors, who won "
    "the basketball championship in 2019. The CN Tower, completed in 1976, dominates the skyline of the "
    "downtown waterfront.",
]
DOCS = (("berlin", "Berlin", BERLIN), ("lyft", "Lyft 2021 annual report", LYFT), ("toronto", "Toronto", TORONTO))


def corpus(docs=DOCS) -> tuple[list[Document], list[Chunk]]:
    documents = [Document(doc_id, title, f"text:{doc_id}", "\n".join(texts)) for doc_id, title, texts in docs]
    chunks = [Chunk(f"{doc_id}-{i}", doc_id, text) for doc_id, _, texts in docs for i, text in enumerate(texts)]
    return documents, chunks


def save_cities(ws, name="cities", docs=DOCS):
    return save_corpus(ws, name, *corpus(docs), {"chunker": "test"})


def tool_of(dataset: QADataset, qid: str) -> dict:
    tool_id = dataset.relevant_docs[qid][0]
    return next(t for t in dataset.extra["tools"] if t["id"] == tool_id)


# tools ------------------------------------------------------------------------------------------------
def test_tools_from_the_default_templates_are_named_described_and_deterministic():
    documents, _ = corpus()
    tools = make_tools(documents)
    assert [(t.name, t.kind, t.document_id) for t in tools] == [
        ("vector_tool_berlin", "vector", "berlin"),
        ("summary_tool_berlin", "summary", "berlin"),
        ("vector_tool_lyft_2021_annual_report", "vector", "lyft"),
        ("summary_tool_lyft_2021_annual_report", "summary", "lyft"),
        ("vector_tool_toronto", "vector", "toronto"),
        ("summary_tool_toronto", "summary", "toronto"),
    ]
    assert tools[0].description == (
        "Useful for questions related to specific aspects of Berlin (e.g. the history, "
        "arts and culture, sports, demographics, or more)."
    )
    assert tools[3].description.startswith(
        "Useful for any requests that require a holistic summary of EVERYTHING "
        "about Lyft 2021 annual report. For questions about more specific"
    )
    assert len({t.id for t in tools}) == 6 and make_tools(documents) == tools
    assert tools_from_dicts(json.loads(json.dumps(tools_to_dicts(tools)))) == tools


def test_repeated_titles_get_unique_names_and_custom_templates_fill_in():
    documents = [Document("p1", "São Paulo", "text:a", "x"), Document("p2", "São Paulo", "text:b", "y")]
    faq = ToolTemplate("faq", "{slug}_faq", "Frequently asked questions about {title}.")
    tools = make_tools(documents, [faq])
    assert [(t.id, t.name, t.description) for t in tools] == [
        ("faq:p1", "sao_paulo_faq", "Frequently asked questions about São Paulo."),
        ("faq:p2", "sao_paulo_faq_2", "Frequently asked questions about São Paulo."),
    ]
    assert slugify("!!!") == "document"


@pytest.mark.parametrize(
    "name, description, message",
    [
        ("vector_{city}", "About {title}.", "the vector template's name: unknown placeholder {city}"),
        ("vector_{slug}", "About {}.", "the vector template's description: unknown placeholder {}"),
        ("vector_{slug}", "About {title", "the vector template's description: expected '}'"),
        ("vector_{slug}", "  ", "the vector template's description is empty"),
    ],
)
def test_bad_templates_are_refused_naming_the_field(name, description, message):
    with pytest.raises(RoutingError) as error:
        ToolTemplate("vector", name, description)
    assert message in str(error.value)


def test_bad_tool_lists_are_refused_naming_the_tool():
    documents, _ = corpus()
    template = ToolTemplate("vector", "v_{slug}", "About {title}.")
    with pytest.raises(RoutingError, match="tool template kind 'vector' is used more than once"):
        make_tools(documents, [template, template])
    tools = tools_to_dicts(make_tools(documents))
    for change, message in [
        ({"name": "vector_tool_berlin"}, "tool name 'vector_tool_berlin' is used more than once"),
        ({"description": ""}, "tool 'summary_tool_berlin': description must be a non-empty string"),
        ({"kind": "vector"}, "document 'berlin' has two vector tools, 'vector_tool_berlin' and 'summary_tool_berlin'"),
        ({"colour": "red"}, "tool 'summary_tool_berlin': unknown field(s) colour"),
    ]:
        with pytest.raises(RoutingError) as error:
            tools_from_dicts([tools[0], {**tools[1], **change}])
        assert message in str(error.value)


@pytest.mark.parametrize(
    "question, title, expected",
    [
        ("What is Official known for?", "Houston", "Regarding Houston, what is Official known for?"),
        ("Rice University was founded when?", "Houston", "Regarding Houston, Rice University was founded when?"),
        ("What is HOUSTON's largest park?", "Houston", "What is HOUSTON's largest park?"),
        ("Who governs Berlin-Brandenburg?", "Berlin", "Who governs Berlin-Brandenburg?"),
        ("How large is São Paulo?", "São Paulo", "How large is São Paulo?"),
        ("Is Parisian food famous?", "Paris", "Regarding Paris, is Parisian food famous?"),
    ],
)
def test_router_questions_are_made_to_name_their_document(question, title, expected):
    assert name_document(question, title) == expected
    assert names_document(expected, title)


def test_offline_summary_variations_are_distinct_seeded_and_name_the_title():
    assert len(set(SUMMARY_TEMPLATES)) == len(SUMMARY_TEMPLATES) >= 12
    every = offline_summary_variations("Toronto", MAX_SUMMARY_VARIATIONS)
    assert len(set(every)) == MAX_SUMMARY_VARIATIONS and all("Toronto" in q for q in every)
    assert offline_summary_variations("Toronto", 4, seed=1) == offline_summary_variations("Toronto", 4, seed=1)
    assert len({tuple(offline_summary_variations("Toronto", 4, seed=s)) for s in range(5)}) > 1
    with pytest.raises(RoutingError, match="summary_variations"):
        offline_summary_variations("Toronto", MAX_SUMMARY_VARIATIONS + 1)


# router datasets ------------------------------------------------------------------------------------------
def test_offline_router_dataset_labels_each_query_with_its_documents_tool():
    documents, chunks = corpus()
    tools = make_tools(documents)
    progress = []
    dataset, result = generate_router_dataset(
        documents,
        chunks,
        tools,
        questions_per_document=4,
        summary_variations=3,
        on_progress=lambda *a: progress.append(a),
    )
    assert dataset.kind == "router" and not result.failures
    assert dataset.corpus == {t.id: t.description for t in tools}
    assert dataset.passage_docs == {t.id: t.document_id for t in tools}
    assert dataset.extra == {"tools": tools_to_dicts(tools)}
    assert progress[-1] == (12, 12, 0)  # 3 chunks asked per document, then 3 summary requests
    source = {q.question: q.chunk_id for q in result.questions}
    texts = {d.doc_id: d.text.lower() for d in documents}
    profiles = profile_documents(documents)
    per_tool = Counter()
    for qid, question in dataset.queries.items():
        tool = tool_of(dataset, qid)
        per_tool[tool["name"]] += 1
        if tool["kind"] == "vector":
            assert source[question].startswith(tool["document_id"] + "-"), question
            salient = {w.lower() for w in re.findall(r"\w+", question) if len(w) >= 3} - TEMPLATE_WORDS
            assert {w for w in salient if w in texts[tool["document_id"]]}, (
                f"{question!r} names nothing of its document"
            )
        assert points_at(question, profiles[tool["document_id"]]), f"{question!r} does not point at its document"
    assert set(per_tool.values()) == {3, 4} and len(per_tool) == 6
    assert len({q.lower() for q in dataset.queries.values()}) == len(dataset.queries)


def test_questions_are_spread_over_the_whole_document():
    documents, chunks = corpus((("cities", "Cities", BERLIN + TORONTO),))
    tools = make_tools(documents)
    _, result = generate_router_dataset(documents, chunks, tools, questions_per_document=3, summary_variations=0)
    assert Counter(q.chunk_id for q in result.questions) == {"cities-0": 1, "cities-2": 1, "cities-4": 1}
    _, result = generate_router_dataset(
        documents[:1], chunks[:3], tools, questions_per_document=7, summary_variations=0
    )
    assert Counter(q.chunk_id for q in result.questions) == {"cities-0": 2, "cities-1": 2, "cities-2": 3}


def test_user_tools_are_choices_and_unaskable_tools_are_reported():
    documents, chunks = corpus()
    web = Tool("web", "web_search", "Search the web for news and anything not in the documents.", None, "custom")
    orphan = Tool("summary:none", "summary_of_nothing", "A summary tool tied to no document.", None, "summary")
    tools = make_tools(documents[:2]) + [web, orphan]
    chunks = [c for c in chunks if c.doc_id != "lyft"]  # lyft's vector tool has nothing to ask about
    dataset, result = generate_router_dataset(documents, chunks, tools, 3, 2)
    assert result.failures == [
        ("vector:lyft", "document 'Lyft 2021 annual report' has no chunks to ask about"),
        ("summary:none", "summary tool 'summary_of_nothing' has no document to ask about"),
    ]
    assert "web" in dataset.corpus and "web" not in dataset.passage_docs
    counts = counts_per_tool(dataset, {d.doc_id: d.title for d in documents}).set_index("tool")["queries"].to_dict()
    assert counts == {
        "vector_tool_berlin": 3,
        "summary_tool_berlin": 2,
        "vector_tool_lyft_2021_annual_report": 0,
        "summary_tool_lyft_2021_annual_report": 2,
        "web_search": 0,
        "summary_of_nothing": 0,
    }


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"questions_per_document": 0, "summary_variations": 0}, "nothing to generate"),
        ({"summary_variations": MAX_SUMMARY_VARIATIONS + 1}, "summary_variations must be between 0 and"),
        ({"questions_per_document": -1}, "questions_per_document must be between 0 and"),
        ({"generator": "gpt"}, "generator must be one of offline, llm, not 'gpt'"),
        ({"generator": "llm"}, "the LLM generator needs a base URL and model"),
    ],
)
def test_bad_settings_are_refused_before_anything_runs(kwargs, message):
    documents, chunks = corpus()
    with pytest.raises(RoutingError) as error:
        generate_router_dataset(documents, chunks, make_tools(documents), **kwargs)
    assert message in str(error.value)


@pytest.mark.parametrize(
    "prompts, message",
    [
        ({"summary": "Vary this."}, "prompts.summary must contain {context_str}"),
        ({"summary_question": "Summary of {name}?"}, "prompts.summary_question: unknown placeholder {name}"),
        ({"questions": "Ask {num_questions_per_chunk} questions."}, "{context_str}"),
        ({"system": "Be brief."}, "prompts: unknown field(s) system"),
    ],
)
def test_bad_prompts_are_refused_naming_the_prompt(prompts, message):
    with pytest.raises(ValueError) as error:
        RouterPrompts.from_dict(prompts)
    assert message in str(error.value)


def test_tools_for_documents_not_given_and_empty_results_are_errors():
    documents, chunks = corpus()
    with pytest.raises(RoutingError, match="tool 'vector_tool_toronto' is for document 'toronto', which is not among"):
        generate_router_dataset(documents[:2], chunks, make_tools(documents))
    documents, chunks = corpus((("empty", "Empty", ["  ", "Page 3 of 4."]),))
    with pytest.raises(GenerationError, match="no queries were generated: 2 failed, e.g. 'empty-0'"):
        generate_router_dataset(
            documents, chunks, make_tools(documents), questions_per_document=2, summary_variations=0
        )


def test_router_dataset_round_trips_and_splits_by_document_or_query(tmp_path):
    documents, chunks = corpus()
    dataset, _ = generate_router_dataset(documents, chunks, make_tools(documents), 4, 3)
    path = tmp_path / "router.json"
    dataset.save(path)
    loaded = QADataset.load(path)
    assert (loaded.queries, loaded.corpus, loaded.relevant_docs, loaded.passage_docs, loaded.extra, loaded.kind) == (
        dataset.queries,
        dataset.corpus,
        dataset.relevant_docs,
        dataset.passage_docs,
        dataset.extra,
        "router",
    )

    split = split_dataset(loaded, val_ratio=0.34, by="document", seed=3, test_ratio=0)
    part_of_document = {}
    for qid, part in split.items():
        document = tool_of(loaded, qid)["document_id"]
        assert part_of_document.setdefault(document, part) == part  # every tool of a document on one side
    assert sorted(part_of_document.values()) == ["train", "train", "val"]
    # three documents: a test part shares the held-out one with validation and takes none from training
    with_test = split_dataset(loaded, val_ratio=0.34, by="document", seed=3)
    assert {q for q, p in with_test.items() if p == "train"} == {q for q, p in split.items() if p == "train"}
    assert {tool_of(loaded, q)["document_id"] for q, p in with_test.items() if p == "test"} <= {
        document for document, part in part_of_document.items() if part == "val"
    }

    by_query = split_dataset(loaded, val_ratio=0.25, by="query", seed=3)
    assert Counter(by_query.values()) == {"train": 12, "val": 5, "test": 4}


def test_counts_per_tool():
    documents, chunks = corpus()
    dataset, _ = generate_router_dataset(documents, chunks, make_tools(documents), 2, 1)
    titles = {d.doc_id: d.title for d in documents}
    dataset.split = split_dataset(dataset, 0.34, "document", seed=3)
    counts = counts_per_tool(dataset, titles)
    assert list(counts.columns) == ["tool", "tool_id", "kind", "document", "queries", "train", "val", "test"]
    assert counts["queries"].tolist() == [2, 1, 2, 1, 2, 1]
    assert (counts["train"] + counts["val"] + counts["test"]).tolist() == counts["queries"].tolist()
    dataset.split = split_dataset(dataset, 0.34, "document", seed=3, test_ratio=0)  # an older, two-part split
    assert list(counts_per_tool(dataset, titles).columns)[-2:] == ["train", "val"]
    assert counts_per_tool(QADataset({}, {"a": "tool a"}, {}))["queries"].tolist() == [0]  # no stored tools


# wording variety (offline) --------------------------------------------------------------------------------
def sectioned(doc_id: str, title: str, lead: str, sections: list[tuple[str, str]]) -> tuple[Document, list[Chunk]]:
    """A document whose sections are spans named like ingested Wikipedia headings ("Economy > Companies"),
    and one chunk per part."""
    text, spans, chunks = lead, [Span(0, len(lead))], [Chunk(f"{doc_id}-0", doc_id, lead)]
    for i, (heading, body) in enumerate(sections, start=1):
        text += "\n\n"
        spans.append(Span(len(text), len(text) + len(body), section=heading))
        text += body
        if heading != "See also":
            chunks.append(Chunk(f"{doc_id}-{i}", doc_id, body, section=heading))
    return Document(doc_id, title, f"text:{doc_id}", text, spans), chunks


HOUSTON = sectioned(
    "houston",
    "Houston",
    (
        'Houston is the most populous city in Texas. Nicknamed the "Bayou City", "Space City", and "the 713", Houston '
        "has become a global city. The Johnson Space Center lies southeast of downtown."
    ),
    [
        (
            "Economy",
            "Houston's economy rests on energy. The Johnson Space Center and the Texas Medical Center employ "
            "thousands of people, and the Port of Houston handled 247 million tons of cargo in 2022.",
        ),
        (
            "Economy > Companies",
            "Phillips 66 and ConocoPhillips have their headquarters in Houston. The Galleria opened "
            "in 1970 as the largest shopping mall in Texas.",
        ),
        (
            "Sports",
            'The Astrodome, nicknamed the "Eighth Wonder of the World", opened in 1965. The Houston Astros won '
            "the World Series in 2017 and 2022.",
        ),
        ("Climate", "Houston has a humid subtropical climate. Hurricane Harvey flooded the city in 2017."),
        ("See also", "List of people from Houston."),
    ],
)
CHICAGO = sectioned(
    "chicago",
    "Chicago",
    (
        "Chicago is the most populous city in Illinois. The city has had several nicknames throughout its history, "
        "such "
        "as the Windy City, Chi-Town, and Second City. Unlike Space City, Chicago sits on Lake Michigan."
    ),
    [
        ("History", "Chicago was incorporated in 1837. The Great Chicago Fire destroyed several square miles in 1871."),
        (
            "Economy",
            "The Chicago Board of Trade, founded in 1848, lists futures contracts. Chicago's economy is diverse.",
        ),
        (
            "Transportation",
            "The Chicago Transit Authority runs the elevated trains. O'Hare International Airport is "
            "among the busiest airports in the world, and O'Hare has six runways.",
        ),
    ],
)
LISBON = sectioned(
    "lisbon",
    "Lisbon",
    (
        "Lisbon ( LIZ-bən; Portuguese: Lisboa [liʒˈβoɐ] ) is the capital and largest city of Portugal. The Tagus "
        "flows past the city, and the Tagus estuary is one of the largest in Europe."
    ),
    [
        ("History", "Lisbon is one of the oldest cities in the world. An earthquake destroyed much of Lisbon in 1755."),
        ("Culture", "Fado music was born in the Alfama district. The Belém Tower was built in 1519."),
    ],
)
TOKYO = sectioned(
    "tokyo",
    "Tokyo",
    (
        "Tokyo, officially the Tokyo Metropolis, is the capital of Japan. Tokyo was originally known as Edo, a fishing "
        "village. Under the Romans, Tokyo was then called Fakename."
    ),
    [
        ("Economy > Finance", "The Tokyo Stock Exchange is one of the largest stock exchanges in the world."),
    ],
)
SECTIONED = [HOUSTON, CHICAGO, LISBON, TOKYO]


def sectioned_corpus():
    return [d for d, _ in SECTIONED], [c for _, chunks in SECTIONED for c in chunks]


def test_aliases_are_found_in_the_documents_own_text():
    documents, _ = sectioned_corpus()
    houston, chicago, lisbon, tokyo = documents
    others = lambda document: [d for d in documents if d is not document]  # noqa: E731
    # "Space City" is also said in Chicago's text; "the 713" is a number; the Astrodome's nickname is not Houston's.
    assert find_aliases(houston, others(houston)) == ["the Bayou City"]
    assert find_aliases(houston) == ["the Bayou City", "the Space City"]
    assert find_aliases(chicago, others(chicago)) == ["the Windy City", "Chi-Town", "the Second City"]
    assert find_aliases(lisbon, others(lisbon)) == ["Lisboa"]
    # "Tokyo Metropolis" holds the title; a name it was "then called" once is no name a query goes by.
    assert find_aliases(tokyo, others(tokyo)) == ["Edo"]
    assert find_aliases(Document("x", "Berlin", "text:x", "Berlin is a city. It is big.")) == []


def test_landmarks_are_places_only_their_document_names():
    profiles = profile_documents(sectioned_corpus()[0])
    # Said twice, by Houston's text alone; "Texas Medical Center" is said once, "Hurricane Harvey" is no place
    # and "Port of Houston" holds the title.
    assert profiles["houston"].landmarks == ("the Johnson Space Center",)
    assert profiles["lisbon"].landmarks == ()  # "Belém Tower" is said once
    questions = landmark_questions(profiles["houston"], 6, seed=3)
    assert len(questions) == 6 and all("Johnson Space Center" in q for q in questions)
    assert any(
        not points_at(q.replace("Johnson Space Center", "Rice Stadium"), profiles["houston"]) for q in questions
    )  # some name the landmark alone
    assert all(points_at(q, profiles["houston"]) for q in questions)


def test_topics_and_aspects_come_from_the_section_headings():
    houston, _ = HOUSTON
    topics, aspects = section_topics(houston)
    assert topics == ["economy", "companies", "sports", "climate"]  # "See also" is no topic
    assert aspects == ["economy", "sports", "climate"]
    profile = profile_documents(sectioned_corpus()[0])["houston"]
    assert profile.topics == tuple(topics) and profile.aliases == ("the Bayou City",)


def test_offline_router_dataset_varies_wording_and_every_query_points_at_one_document():
    documents, chunks = sectioned_corpus()
    tools = make_tools(documents)
    dataset, result = generate_router_dataset(
        documents, chunks, tools, questions_per_document=10, summary_variations=12, seed=4
    )
    assert not result.failures
    profiles = profile_documents(documents)
    per_kind = {"vector": [], "summary": []}
    for qid, question in dataset.queries.items():
        tool = tool_of(dataset, qid)
        profile = profiles[tool["document_id"]]
        assert points_at(question, profile), f"{question!r} does not point at {profile.title} alone"
        assert sum(points_at(question, p) for p in profiles.values()) == 1, question
        per_kind[tool["kind"]].append((question, profile))
    summaries = per_kind["summary"]
    assert len(summaries) == 12 * 4
    # Summary requests listing two or more of the document's aspects, for documents with two or more sections.
    listing = [q for q, p in summaries if sum(a in q.lower() for a in p.aspects) >= 2]
    assert len(listing) >= 9
    assert all(len(p.aspects) >= 2 for q, p in summaries if q in listing)
    # Specific questions about one section that sound broad, naming one topic of the document.
    topical = [
        q
        for q, p in per_kind["vector"]
        if any(t in q.lower() for t in p.topics[:1] + p.topics[1:]) and "?" not in q[:-1]
    ]
    assert len(topical) >= 6
    lowered = [q for q, _ in per_kind["vector"] + summaries if q == q.lower()]
    unmarked = [q for q, _ in per_kind["vector"] + summaries if q[-1:] not in "?.!)"]
    aliased = [
        q
        for q, p in per_kind["vector"] + summaries
        if any(a.lower().removeprefix("the ") in q.lower() for a in p.aliases)
    ]
    assert lowered and unmarked and aliased
    lengths = [len(q.split()) for q in dataset.queries.values()]
    assert min(lengths) <= 3 and max(lengths) >= 18  # terse keyword queries and long ones


def test_offline_variety_is_deterministic_per_seed():
    documents, chunks = sectioned_corpus()
    tools = make_tools(documents)
    first, _ = generate_router_dataset(documents, chunks, tools, 6, 8, seed=1)
    again, _ = generate_router_dataset(documents, chunks, tools, 6, 8, seed=1)
    other, _ = generate_router_dataset(documents, chunks, tools, 6, 8, seed=2)
    assert first.queries == again.queries and first.relevant_docs == again.relevant_docs
    assert set(first.queries.values()) != set(other.queries.values())


def test_questions_are_named_by_title_alias_or_a_name_only_their_document_says():
    documents, _ = sectioned_corpus()
    profiles = profile_documents(documents)
    houston, chicago = profiles["houston"], profiles["chicago"]
    question = "What is the Johnson Space Center known for?"
    named = {name_question(question, houston, random.Random(seed)) for seed in range(60)}
    assert question in named  # "Johnson Space Center" is said twice, by Houston's text alone
    assert all(points_at(q, houston) for q in named) and len(named) > 5
    assert any("Bayou City" in q for q in named) and any("Houston" in q for q in named)
    # "Texas" is said by Houston's text alone but once: the question must name Houston.
    for seed in range(30):
        assert points_at(name_question("What is Texas known for?", houston, random.Random(seed)), houston)
    assert not points_at("What is Texas known for?", houston)
    # A question naming another document has no single right tool.
    assert name_question("How is Chicago connected to the port?", houston, random.Random(0)) is None
    assert not points_at("Tell me about the Windy City and Houston.", houston)
    assert points_at("What is the Windy City's economy like?", chicago)
    assert points_at("Chcago overview", chicago) and not points_at("Chcago overview", houston)


def test_typos_are_one_edit_in_one_word_and_few():
    documents, _ = sectioned_corpus()
    houston = profile_documents(documents)["houston"]
    text = "What is the economy of Houston like nowadays?"
    for seed in range(200):
        typo = with_typo(text, random.Random(seed), houston)
        changed = [(a, b) for a, b in zip(text.split(), typo.split(), strict=True) if a != b]
        assert len(typo.split()) == len(text.split()) and len(changed) == 1
        ((before, after),) = changed
        assert one_edit(after.lower(), before.lower()) and after[0] == before[0] and before != "Houston"
    restyled = [restyle(text, random.Random(seed), houston) for seed in range(1000)]
    words = re.findall(r"\w+", text.lower())
    with_typos = [
        # a restyled query may add or drop words: compare as far as both go
        q
        for q in restyled
        if any(one_edit(w, v) for w, v in zip(re.findall(r"\w+", q.lower()), words, strict=False))
    ]
    assert 0 < len(with_typos) <= 100
    assert all(points_at(q, houston) for q in restyled)


def test_default_runs_ask_enough_queries_per_document():
    request = RouterRequest("corpus-1")
    assert (request.questions_per_document, request.summary_variations) == (
        DEFAULT_QUESTIONS_PER_DOCUMENT,
        DEFAULT_SUMMARY_VARIATIONS,
    )
    assert DEFAULT_QUESTIONS_PER_DOCUMENT >= 20 and 10 <= DEFAULT_SUMMARY_VARIATIONS <= MAX_SUMMARY_VARIATIONS
    documents, chunks = sectioned_corpus()
    dataset, _ = generate_router_dataset(documents, chunks, make_tools(documents))
    counts = Counter(tool_of(dataset, q)["name"] for q in dataset.queries)
    assert counts["summary_tool_houston"] == DEFAULT_SUMMARY_VARIATIONS
    assert counts["vector_tool_houston"] >= DEFAULT_QUESTIONS_PER_DOCUMENT // 2
    assert len(SECTION_TEMPLATES) >= 12 and len(ASPECT_SUMMARY_TEMPLATES) >= 12


# the job, the LLM and the CLI ----------------------------------------------------------------------------
def test_request_parameters_round_trip_without_the_key():
    documents, _ = corpus()
    config = LLMConfig("http://127.0.0.1:8000/v1", "m", api_key="sk-hidden")
    request = RouterRequest(
        "corpus-1",
        ["berlin"],
        make_tools(documents[:1]),
        3,
        2,
        "llm",
        config,
        RouterPrompts(summary_question="Sum up {title}?"),
        seed=5,
    )
    params = json.loads(json.dumps(request.to_params()))
    assert "sk-hidden" not in json.dumps(params)
    again = RouterRequest.from_params(params)
    assert (again.tools, again.prompts, again.llm.model, again.seed) == (request.tools, request.prompts, "m", 5)
    with pytest.raises(RoutingError, match="router parameters: unknown field"):
        RouterRequest.from_params({"corpus_id": "c", "questions": 3})


def test_offline_router_job_end_to_end(workspace):
    corpus_record = save_cities(workspace)
    documents = load_documents(workspace, corpus_record.id)
    tools = make_tools(documents[:2]) + [Tool("web", "web_search", "Anything else, from the web.", None, "web")]
    params = RouterRequest(corpus_record.id, ["berlin", "lyft"], tools, 3, 2).to_params()
    status = jobs.start_job(workspace, "generate_router_questions", params)
    final = jobs.wait(workspace, status.run_id, timeout=120)
    assert final.state == "succeeded", final.error
    assert (final.done, final.total) == (8, 8) and final.message == "0 failed"
    draft = QADataset.load(final.result["draft"])
    assert final.result["questions"] == len(draft.queries) == 10 and final.result["tools"] == 5
    assert {tool_of(draft, q)["name"] for q in draft.queries} == {t.name for t in tools[:4]}

    status = jobs.start_job(
        workspace, "generate_router_questions", {"corpus_id": corpus_record.id, "document_ids": ["paris"]}
    )
    final = jobs.wait(workspace, status.run_id, timeout=120)
    assert final.state == "failed" and "no document with id or title 'paris'" in final.error


def summary_or_question_responder(request: dict) -> str:
    """Numbered summary variations for a summary prompt; for a chunk, questions naming its first words."""
    prompt = request["messages"][0]["content"]
    base = re.search(r"summary of (.+)\?\n", prompt)
    if base:
        n = int(re.search(r"Write (\d+) different variations", prompt).group(1))
        return "\n".join(f"{i}. Variation {i}: could you summarize all of {base.group(1)}?" for i in range(1, n + 1))
    n = int(re.search(r"Write (\d+) search queries", prompt).group(1))
    opening = " ".join(re.search(r"-{5,}\n(?:Document: .*\n\n)?(.*)", prompt).group(1).split()[:6])
    return "\n".join(f"{i}. What follows '{opening}' (point {i})?" for i in range(1, n + 1))


def test_llm_router_dataset_asks_per_chunk_and_per_summary_tool_and_caches(tmp_path):
    documents, chunks = corpus()
    tools = make_tools(documents)
    with FakeOpenAIServer(responder=summary_or_question_responder) as server:
        config = LLMConfig(base_url=server.base_url, model="fake-model", api_key="sk-test")
        kwargs = dict(
            questions_per_document=2,
            summary_variations=3,
            generator="llm",
            llm_config=config,
            cache_dir=tmp_path / "cache",
        )
        dataset, result = generate_router_dataset(documents, chunks, tools, **kwargs)
        assert server.chat_requests == 2 * 3 + 3  # two chunks per document, one summary request per document
        prompts = [r.body["messages"][0]["content"] for r in server.requests]
        assert sum("Can you give me a summary of Toronto?" in p for p in prompts) == 1
        chunk_prompts = [p for p in prompts if re.search(r"Write \d+ search queries", p)]
        assert len(chunk_prompts) == 6 and all(
            "name the document given in the context's first line" in p for p in chunk_prompts
        )
        assert sum("-\nDocument: Toronto\n\n" in p for p in chunk_prompts) == 2
        assert not result.failures and result.usage.prompt_tokens > 0
        server.reset_counts()
        again, cached = generate_router_dataset(documents, chunks, tools, **kwargs)
        assert server.chat_requests == 0 and cached.cached == 9 and again.queries == dataset.queries
    per_tool = Counter(tool_of(dataset, q)["name"] for q in dataset.queries)
    assert per_tool == {t.name: 2 if t.kind == "vector" else 3 for t in tools}
    for qid, question in dataset.queries.items():
        tool = tool_of(dataset, qid)
        if tool["kind"] == "summary":
            title = next(d.title for d in documents if d.doc_id == tool["document_id"])
            assert question.endswith(f"summarize all of {title}?")


def cli(workspace, capsys, *args) -> tuple[int, dict | None, str]:
    code = cli_main(["--workspace", str(workspace.root), "router-dataset", *args])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else None, err


def test_cli_generates_splits_and_saves_a_router_dataset(workspace, capsys):
    save_cities(workspace)
    code, summary, err = cli(
        workspace,
        capsys,
        "--corpus",
        "cities",
        "--name",
        "routes",
        "--documents",
        "Berlin",
        "toronto",
        "--questions-per-document",
        "3",
        "--summary-variations",
        "2",
        "--val-ratio",
        "0.5",
        "--test-ratio",
        "0",
    )  # two documents: one each side
    assert code == 0, err
    assert (summary["tools"], summary["questions"], summary["failures"]) == (4, 10, 0)
    assert (summary["train"], summary["val"], summary["test"]) == (5, 5, 0)
    dataset = load_dataset(workspace, summary["dataset_id"])
    assert dataset.kind == "router" and workspace.get_dataset(summary["dataset_id"]).kind == "router"
    val_docs = {tool_of(dataset, q)["document_id"] for q, part in dataset.split.items() if part == "val"}
    assert len(val_docs) == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["--corpus", "nope", "--name", "x"], "nope"),
        (["--corpus", "cities", "--name", "taken"], "a dataset named 'taken' already exists"),
        (["--corpus", "cities", "--name", "x", "--documents", "Paris"], "no document with id or title 'Paris'"),
        (
            ["--corpus", "cities", "--name", "x", "--questions-per-document", "0", "--summary-variations", "0"],
            "nothing to generate",
        ),
        (["--corpus", "cities", "--name", "x", "--generator", "llm"], "--model"),
    ],
)
def test_cli_bad_input_exits_2_and_changes_nothing(workspace, capsys, args, message):
    save_cities(workspace)
    documents, chunks = corpus()
    taken, _ = generate_router_dataset(documents, chunks, make_tools(documents), 1, 1)
    save_dataset(workspace, "taken", taken, None, {})
    code, summary, err = cli(workspace, capsys, *args)
    assert (code, summary) == (2, None) and message in err
    assert [d.name for d in workspace.list_datasets()] == ["taken"]
