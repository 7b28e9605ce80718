import json
import re

import numpy as np
import pytest

from ragtune_core.llm.config import LLMConfig
from ragtune_core.questions.qa_dataset import DatasetError, QADataset
from ragtune_core.routing.compare import confusion_matrix, evaluate_selector, matches, router_task
from ragtune_core.routing.llm_selector import LLMSelector, parse_choice, render_select_prompt
from ragtune_core.routing.selectors import Choice, CrossEncoderSelector, EmbeddingSelector, Selection
from ragtune_core.store.models import FULL_PRECISION_ENV, resolve_model
from tests.fake_openai import FakeOpenAIServer

CHOICES = [
    Choice("cooking", "cooking_tool", "Recipes, cooking techniques, baking bread, kitchen ingredients and meals."),
    Choice("astronomy", "astronomy_tool", "Astronomy: planets, stars, galaxies, telescopes and space exploration."),
    Choice("tax", "tax_tool", "Tax law: income tax returns, deductions, VAT and filing deadlines with the IRS."),
]
QUERIES = [
    ("How long should I knead bread dough?", 0),
    ("What is a good recipe for a tomato pasta sauce?", 0),
    ("How far is Jupiter from the Sun?", 1),
    ("Which telescope is best for looking at distant galaxies?", 1),
    ("Can I deduct my home office on my income tax return?", 2),
    ("When is the deadline for filing taxes with the IRS?", 2),
]


def _keyword_pick(query: str) -> int:
    lowered = query.lower()
    for number, words in ((1, ("bread", "recipe")), (2, ("jupiter", "telescope")), (3, ("tax", "irs"))):
        if any(w in lowered for w in words):
            return number
    return 0


def _question_of(request: dict) -> str:
    return re.search(r"the question: '(.*)'", request["messages"][-1]["content"]).group(1)


def json_router(request: dict) -> str:
    """An LLM that routes by keyword and answers in the requested JSON format."""
    return json.dumps({"choice": _keyword_pick(_question_of(request)), "reason": "keyword match"})


def _config(server: FakeOpenAIServer, **overrides) -> LLMConfig:
    return LLMConfig(base_url=server.base_url, model="fake-model", **overrides)


# --- embedding and cross-encoder selectors ----------------------------------------------------
@pytest.fixture(scope="module")
def embedding_selector() -> EmbeddingSelector:
    return EmbeddingSelector()


class CountingModel:
    """Wraps a SentenceTransformer and counts the texts each encode method was given."""

    def __init__(self, model):
        self.model = model
        self.documents_encoded = 0
        self.queries_encoded = 0

    def encode_document(self, texts, **kwargs):
        self.documents_encoded += len(texts)
        return self.model.encode_document(texts, **kwargs)

    def encode_query(self, texts, **kwargs):
        self.queries_encoded += len(texts)
        return self.model.encode_query(texts, **kwargs)


@pytest.mark.slow
def test_embedding_selector_picks_the_matching_tool(embedding_selector):
    selections = embedding_selector.select([q for q, _ in QUERIES], CHOICES)
    assert [s.index for s in selections] == [want for _, want in QUERIES]
    for selection in selections:
        assert len(selection.scores) == len(CHOICES)
        assert selection.index == int(np.argmax(selection.scores))
        assert all(-1.0 <= s <= 1.0 for s in selection.scores)
        assert selection.latency > 0 and selection.error is None
    assert embedding_selector.name == "all-MiniLM-L6-v2 (bundled)"


@pytest.mark.slow
def test_choice_embeddings_are_computed_once_per_choice_list(embedding_selector):
    selector = EmbeddingSelector(label="counted")
    selector.model = CountingModel(embedding_selector.model)
    queries = [q for q, _ in QUERIES]
    first = selector.select(queries[:3], CHOICES)
    second = selector.select(queries[3:], CHOICES)
    assert selector.model.documents_encoded == len(CHOICES)  # not 2 x 3
    assert selector.model.queries_encoded == len(QUERIES)
    assert [s.index for s in first + second] == [want for _, want in QUERIES]
    # A different choice list is embedded anew; going back to the first costs nothing.
    selector.select(queries[:1], CHOICES[:2])
    selector.select(queries[:1], CHOICES)
    assert selector.model.documents_encoded == len(CHOICES) + 2


@pytest.mark.slow
def test_embedding_selector_refuses_a_choice_without_description(embedding_selector):
    with pytest.raises(ValueError, match="'astronomy'"):
        embedding_selector.select(["q"], [CHOICES[0], Choice("astronomy", "astronomy_tool", "  ")])
    with pytest.raises(ValueError, match="at least one choice"):
        embedding_selector.select(["q"], [])
    assert embedding_selector.select([], CHOICES) == []


@pytest.mark.slow
def test_cross_encoder_plumbing(monkeypatch):
    # The bundled embedding model with a fresh one-output head: scores are meaningless but shaped. In float32,
    # where a pair's score does not move with its batch's padding as bf16's rounding does.
    monkeypatch.setenv(FULL_PRECISION_ENV, "1")
    selector = CrossEncoderSelector(resolve_model(None), batch_size=4)
    selections = selector.select([q for q, _ in QUERIES], CHOICES)
    assert len(selections) == len(QUERIES)
    for selection in selections:
        assert len(selection.scores) == len(CHOICES)
        assert selection.index in range(len(CHOICES))
        assert selection.index == int(np.argmax(selection.scores))
    # Pairs are laid out query-major: scoring one query alone gives the same row.
    alone = selector.select([QUERIES[4][0]], CHOICES)[0]
    assert alone.scores == pytest.approx(selections[4].scores, abs=1e-5)


@pytest.fixture(scope="module")
def blended_selector_models(tmp_path_factory):
    """A workspace's models folder: an embedder and a cross-encoder (a fresh head on the bundled model)
    that keeps a blend with it, as a router cross-encoder trained here does."""
    from ragtune_core.evaluation.blend import Blend, keep_blend, keep_first_stage
    from ragtune_core.store.models import CROSS_ENCODER, load_embedder, load_model

    models = tmp_path_factory.mktemp("workspace") / "models"
    load_embedder(None).save(str(models / "emb"))
    cross_encoder = load_model(CROSS_ENCODER, None)
    keep_blend(cross_encoder, Blend(first_stage=1.0))  # validation gave its own score no share
    keep_first_stage(cross_encoder, str(models / "emb"))
    cross_encoder.save(str(models / "ce"))
    return models


@pytest.mark.slow
def test_a_cross_encoder_that_kept_a_blend_routes_with_its_embedders_scores(
    blended_selector_models, tmp_path, monkeypatch
):
    import shutil

    from ragtune_core.routing import selectors
    from ragtune_core.store.models import ModelNotFound

    queries = [q for q, _ in QUERIES]
    by_embedder = EmbeddingSelector(str(blended_selector_models / "emb")).select(queries, CHOICES)
    moved = tmp_path / "copied-workspace" / "models"  # a workspace copied elsewhere finds its own embedder
    shutil.copytree(blended_selector_models, moved)
    selector = CrossEncoderSelector(str(moved / "ce"))
    assert selector.model is None  # its own score has no share: its weights are never read
    scored = []
    monkeypatch.setattr(selectors, "score_pairs", lambda model, pairs, batch: scored.append(pairs))
    selections = selector.select(queries, CHOICES)
    assert scored == []  # its own score has no share: no pair is scored
    # All of the share on the embedder: its picks, and its cosines standardised over the choices.
    assert [s.index for s in selections] == [s.index for s in by_embedder] == [want for _, want in QUERIES]
    assert selections[0].reason.startswith("its score blended with the embedder's at 1.0; its own score did not")
    for blended, cosines in zip(selections, by_embedder, strict=True):
        standardised = (np.array(cosines.scores) - np.mean(cosines.scores)) / np.std(cosines.scores)
        assert blended.scores == pytest.approx(standardised.tolist(), abs=1e-4)
    monkeypatch.undo()
    # Half of the share on its own score: both standardised, then mixed.
    shutil.copytree(moved / "ce", moved / "ce-half")
    config = json.loads((moved / "ce-half" / "config.json").read_text())
    (moved / "ce-half" / "config.json").write_text(json.dumps({**config, "ragtune_first_stage_weight": 0.5}))
    half = CrossEncoderSelector(str(moved / "ce-half"))
    own = selectors.score_pairs(half.model, [(queries[0], choice.description) for choice in CHOICES], 4)
    cosines = np.array(by_embedder[0].scores)
    expected = [0.5 * (v - v.mean()) / v.std() for v in (own, cosines)]
    assert half.select(queries[:1], CHOICES)[0].scores == pytest.approx((expected[0] + expected[1]).tolist(), abs=1e-3)
    shutil.rmtree(moved / "emb")
    shutil.rmtree(blended_selector_models / "emb")
    with pytest.raises(ModelNotFound, match="the embedder this cross-encoder blends with, 'emb', is gone"):
        CrossEncoderSelector(str(moved / "ce"))


# --- LLM selector -----------------------------------------------------------------------------
def test_llm_selector_reads_json_answers_within_the_concurrency_bound():
    queries = [q for q, _ in QUERIES] * 2
    with FakeOpenAIServer(responder=json_router, latency=0.05) as server:
        selections = LLMSelector(_config(server, max_concurrency=3)).select(queries, CHOICES)
        bodies = [r.body for r in server.requests if r.path == "/v1/chat/completions"]
        assert server.max_in_flight <= 3
    assert [s.index for s in selections] == [want for _, want in QUERIES] * 2
    assert selections[2].scores == [0.0, 1.0, 0.0]
    assert all(s.reason == "keyword match" and s.error is None and s.latency > 0 for s in selections)
    assert len(bodies) == len(queries)
    assert all(b["response_format"] == {"type": "json_object"} for b in bodies)
    prompt = bodies[0]["messages"][0]["content"]
    assert "numbered list (1 to 3)" in prompt and "(2) Astronomy: planets" in prompt and '"choice"' in prompt


@pytest.mark.parametrize(
    "answer",
    [
        "I am sorry, I cannot decide.",
        "",
        '{"reason": "no choice given"}',
        '{"choice": "the second one"}',
        '{"choice": true}',
    ],
)
def test_unparseable_llm_answers_are_failures_never_the_first_choice(answer):
    with FakeOpenAIServer(responder=lambda request: answer) as server:
        selections = LLMSelector(_config(server)).select([QUERIES[0][0]], CHOICES)
    assert selections[0].index is None and selections[0].scores == []
    assert selections[0].error.startswith("unparseable answer")


@pytest.mark.parametrize("number", [0, 4, 17])
def test_out_of_range_choice_is_a_failure(number):
    with FakeOpenAIServer(responder=lambda request: json.dumps({"choice": number, "reason": "x"})) as server:
        selection = LLMSelector(_config(server)).select([QUERIES[0][0]], CHOICES)[0]
    assert selection.index is None
    assert selection.error == f"unparseable answer: choice {number} is not between 1 and 3"


def test_malformed_responses_fail_their_query_only():
    # The fake server's malformed answers in turn: empty, prose without a number, a broken body.
    queries = [q for q, _ in QUERIES]
    with FakeOpenAIServer(responder=json_router, malformed_fraction=1.0) as server:
        selections = LLMSelector(_config(server)).select(queries, CHOICES)
    assert all(s.index is None and s.error for s in selections)
    assert any(s.error.startswith("malformed response") for s in selections)
    assert any(s.error.startswith("unparseable answer") for s in selections)


def test_rate_limits_are_retried():
    # Seeded by request content and attempt: the same 429s whatever order the requests arrive in.
    queries = [q for q, _ in QUERIES]
    with FakeOpenAIServer(responder=json_router, rate_limit_fraction=0.4, retry_after=0.01, seed=1) as server:
        selections = LLMSelector(_config(server, max_concurrency=2)).select(queries, CHOICES)
        assert server.rate_limited >= 2
    assert [s.index for s in selections] == [want for _, want in QUERIES]


def test_requests_that_keep_failing_give_up_after_max_retries():
    with FakeOpenAIServer(responder=json_router, rate_limit_fraction=1.0, retry_after=0.01) as server:
        selection = LLMSelector(_config(server), max_retries=2).select([QUERIES[0][0]], CHOICES)[0]
        assert server.chat_requests == 3
    assert selection.index is None and "gave up after 3 attempts" in selection.error


class NoJsonModeServer(FakeOpenAIServer):
    """An endpoint that rejects `response_format` (as some local servers do) with HTTP 400."""

    def _chat(self, body: dict):
        if "response_format" in body:
            return 400, {}, b'{"error": {"message": "response_format is not supported", "type": "invalid_request"}}'
        return super()._chat(body)


def test_endpoint_without_json_mode_is_asked_again_in_plain_text():
    answers = lambda request: f"The best choice is {_keyword_pick(_question_of(request))}."  # noqa: E731
    with NoJsonModeServer(responder=answers) as server:
        selector = LLMSelector(_config(server))
        first = selector.select([q for q, _ in QUERIES[:3]], CHOICES)
        second = selector.select([q for q, _ in QUERIES[3:]], CHOICES)
        rejected = [r for r in server.requests if r.status == 400]
    assert [s.index for s in first + second] == [want for _, want in QUERIES]
    assert len(rejected) == 3 and selector.json_mode is False  # the second call went straight to text


def test_llm_availability(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("RAGTUNE_LLM_API_KEY", raising=False)
    assert LLMSelector.availability(None)[0] is False
    usable, reason = LLMSelector.availability(LLMConfig(base_url=None, model="gpt-4o-mini"))
    assert usable is False and "api_key" in reason
    assert LLMSelector.availability(LLMConfig(base_url=None, model="gpt-4o-mini", api_key="sk-x"))[0] is True
    usable, reason = LLMSelector.availability(LLMConfig(base_url="http://127.0.0.1:11434/v1", model="llama3"))
    assert usable is True and "llama3" in reason


@pytest.mark.parametrize(
    "text, index, reason",
    [
        ('{"choice": 2, "reason": "about stars"}', 1, "about stars"),
        ('Sure! {"choice": "3", "reason": "taxes"} Hope that helps.', 2, "taxes"),
        ('[{"choice": 1, "reason": "llama-index style"}]', 0, "llama-index style"),
        ('{"choice": 2.0}', 1, ""),
        ("3", 2, ""),
        ("Choice (2): the astronomy tool.", 1, "Choice (2): the astronomy tool."),
    ],
)
def test_parse_choice_formats(text, index, reason):
    assert parse_choice(text, 3) == (index, reason)


def test_prompt_numbers_the_choices_from_one():
    prompt = render_select_prompt("How far is Jupiter?", CHOICES)
    assert "(1) Recipes" in prompt and "(3) Tax law" in prompt and "(0)" not in prompt
    assert "most relevant to the question: 'How far is Jupiter?'" in prompt


# --- evaluation -------------------------------------------------------------------------------
class ScriptedSelector:
    name = "scripted"

    def __init__(self, picks: list[int | None]):
        self.picks = picks

    def select(self, queries, choices):
        return [
            Selection(
                index=p,
                scores=[] if p is None else [float(i == p) for i in range(len(choices))],
                latency=0.01 * (i + 1),
                error="unparseable answer: x" if p is None else None,
            )
            for i, p in enumerate(self.picks)
        ]


def test_match_rate_and_confusion_matrix_on_handmade_picks():
    expected = [0, 0, 1, 1, 2, 2]
    picks = [0, 1, 1, None, 2, 0]
    selections = ScriptedSelector(picks).select([""] * 6, CHOICES)
    assert matches([s.index for s in selections], expected).mean() == pytest.approx(3 / 6)
    matrix = confusion_matrix(expected, picks, 3)
    assert matrix.tolist() == [
        [1, 1, 0, 0],
        [0, 1, 0, 1],  # the failure lands in the "none" column, not in choice 0
        [1, 0, 1, 0],
    ]
    assert matrix.sum() == len(expected)
    with pytest.raises(ValueError, match="out of range"):
        confusion_matrix([0], [3], 3)
    with pytest.raises(ValueError, match="2 selections for 3"):
        matches([s.index for s in selections[:2]], expected[:3])


def test_evaluate_selector_report():
    expected = [0, 0, 1, 1, 2, 2]
    report = evaluate_selector(ScriptedSelector([0, 1, 1, None, 2, 0]), [q for q, _ in QUERIES], CHOICES, expected)
    assert report.name == "scripted"
    assert report.match_rate == pytest.approx(0.5)
    assert report.failures == 1 and report.picks == [0, 1, 1, None, 2, 0]
    assert report.mean_latency == pytest.approx(0.035)
    low, high = report.match_rate_ci
    assert 0.0 <= low < 0.5 < high <= 1.0
    assert report.errors[3] == "unparseable answer: x" and report.errors[0] is None
    assert json.loads(json.dumps(report.to_dict()))["picks"][3] is None
    perfect = evaluate_selector(ScriptedSelector(expected), [q for q, _ in QUERIES], CHOICES, expected)
    assert perfect.match_rate == 1.0 and perfect.match_rate_ci == (1.0, 1.0)
    with pytest.raises(ValueError, match="expected choice 3"):
        evaluate_selector(ScriptedSelector(expected), [q for q, _ in QUERIES], CHOICES, [0, 0, 1, 1, 2, 3])


def test_router_task_from_a_router_dataset():
    tools = [{"id": c.id, "name": c.name, "description": c.description, "document": None} for c in CHOICES]
    dataset = QADataset(
        queries={f"q{i}": q for i, (q, _) in enumerate(QUERIES)},
        corpus={c.id: c.description for c in CHOICES},
        relevant_docs={f"q{i}": [CHOICES[want].id] for i, (_, want) in enumerate(QUERIES)},
        split={f"q{i}": "val" if i % 2 else "train" for i in range(len(QUERIES))},
        kind="router",
        extra={"tools": tools},
    )
    queries, choices, expected = router_task(dataset)
    assert queries == [q for q, _ in QUERIES] and expected == [want for _, want in QUERIES]
    assert choices == CHOICES
    val_queries, _, val_expected = router_task(dataset, "val")
    assert val_queries == [QUERIES[i][0] for i in (1, 3, 5)] and val_expected == [0, 1, 2]
    dataset.extra = {"tools": tools[:2]}  # the tax tool is gone: its queries point nowhere
    with pytest.raises(DatasetError, match="'q4'"):
        router_task(dataset)
