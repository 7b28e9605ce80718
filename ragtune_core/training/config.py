"""Training settings: one validated settings class per trainer, sharing the fields and parsing.

Every setting's type, limits and help are its schema (`store.shapes.settings` and `limit`): validation,
the CLI's options and the Fine-tune page's inputs all read them there, so they never disagree. A
config is checked when it is made and cannot change, so an invalid one cannot exist.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Annotated, ClassVar, TypeVar

from ..errors import RagtuneError
from ..store.shapes import expect, limit, limits_of, settings

MAX_HARD_NEGATIVES = 50  # well inside the first stage's top 100, whatever a question's positives


class TrainingError(RagtuneError):
    """Training cannot start with these inputs; the message says which one and why."""


# A model setting: a Hub id or a folder; None for the default its help names.
ModelName = Annotated[str | None, expect(lambda name: name is None or bool(name.strip()), "a Hub id or a folder")]
BUNDLED = "the bundled all-MiniLM-L6-v2"


PATIENCE = limit(
    "validation runs in a row without improvement before training stops early (0: never stop early)", 0, 1000
)


@settings(TrainingError)
class TrainConfig:
    """What every trainer takes; EmbeddingTrainConfig and CrossEncoderTrainConfig add their own."""

    TARGET_STEPS: ClassVar[int] = 300  # optimizer steps that auto epochs aim at on a QA dataset
    ROUTER_TARGET_STEPS: ClassVar[int] = 300  # ... and on a router dataset
    MAX_AUTO_EPOCHS: ClassVar[int] = 40
    EVALS_PER_RUN: ClassVar[int] = 12  # validation runs: candidates for the model kept, and early stopping
    # No early stop before this share of the planned steps: a new score head can sit at chance for a while.
    EARLIEST_STOP_SHARE: ClassVar[float] = 0.5

    base_model: Annotated[ModelName, limit("the model to fine-tune: a Hub id or a folder", none_means=BUNDLED)] = None
    epochs: Annotated[
        int | None,
        limit("passes over the training pairs", 1, 100, none_means="auto, from the number of training pairs"),
    ] = None
    batch_size: Annotated[int, limit("pairs per optimizer step", 2, 4096)] = 16
    learning_rate: Annotated[float, limit("peak learning rate", 1e-8, 0.5)] = 2e-5
    warmup_ratio: Annotated[float, limit("share of the steps spent warming the learning rate up", 0.0, 0.9)] = 0.1
    eval_steps: Annotated[
        int | None,
        limit(
            "optimizer steps between validation runs", 1, 1_000_000, none_means="about 12 validation runs per training"
        ),
    ] = None
    # Three of the ~12 planned runs: a fourth in a row only adds time (docs/decisions.md, "early-stopping patience").
    patience: Annotated[int, PATIENCE] = 3
    seed: Annotated[int, limit("random seed of shuffling and initialisation", 0, 2**31 - 1)] = 42

    def target_steps(self, kind: str) -> int:
        """The optimizer steps an auto schedule aims at for a dataset of `kind` ("qa", "router")."""
        return self.ROUTER_TARGET_STEPS if kind == "router" else self.TARGET_STEPS

    @classmethod
    def from_dict(cls: type[Config], data: dict) -> Config:
        """The config saved with a run (`asdict(config)`); unknown keys are refused by name."""
        return cls(**data)


Config = TypeVar("Config", bound=TrainConfig)


@settings(TrainingError)
class EmbeddingTrainConfig(TrainConfig):
    SETTINGS_NAME = "training settings"

    max_seq_length: Annotated[int, limit("tokens of a question or passage the model reads", 8, 8192)] = 256
    # Router datasets train both sides at this rate: it routes the queries people type at least as well as
    # 30 epochs at 2e-5, in a third of the time (docs/decisions.md, "Router embedding learning rate").
    learning_rate: Annotated[float, limit("peak learning rate", 1e-8, 0.5)] = 5e-5
    # QA datasets train the question encoder alone (training.query_side): a step is a fraction of a full
    # one's cost, so it takes more questions at a higher rate, and half the base model's weights keep what it knew.
    query_batch_size: Annotated[
        int, limit("QA datasets: questions per optimizer step of the question encoder", 2, 4096)
    ] = 32
    query_learning_rate: Annotated[
        float,
        limit(
            "QA datasets: peak learning rate of the question encoder (the passages' encoder stays the base model's)",
            1e-8,
            0.5,
        ),
    ] = 1e-4
    base_share: Annotated[
        float,
        limit(
            "QA datasets: share of the base model's weights averaged into the fine-tuned question encoder (0: none)",
            0.0,
            0.9,
        ),
    ] = 0.5
    # Questions name their document ("uber 2021 net loss") where its passages seldom do: renamed copies teach
    # the question encoder to pass over a name it never trained on (training.name_swap).
    name_swaps: Annotated[
        int,
        limit(
            "QA datasets: copies of each train question that names its document, naming an invented one "
            "instead (teaches the question encoder to pass over names that passages seldom spell)",
            0,
            4,
        ),
    ] = 1

    QUERY_SIDE: ClassVar[dict[str, str]] = {"batch_size": "query_batch_size", "learning_rate": "query_learning_rate"}

    def for_query_side(self) -> EmbeddingTrainConfig:
        """The config a QA training runs with: the question encoder's batch size and learning rate, or the
        general ones where those were changed from their defaults (`--lr 5e-5` means it for any dataset)."""
        defaults = {f.name: f.default for f in fields(self)}
        unchanged = [general for general in self.QUERY_SIDE if getattr(self, general) == defaults[general]]
        return replace(self, **{general: getattr(self, self.QUERY_SIDE[general]) for general in unchanged})


@settings(TrainingError)
class CrossEncoderTrainConfig(TrainConfig):
    SETTINGS_NAME = "cross-encoder training settings"
    # A step scores batch_size (question, passage) pairs of up to max_length tokens, forward and backward,
    # and a validation run reranks every sampled question's candidates: fewer of both than an embedding.
    EVALS_PER_RUN: ClassVar[int] = 6
    # A QA reranker's new score head stays at chance for a few hundred steps whatever the learning rate, so it
    # aims at more steps; its blend gives an unlearned score no share, so stopping early costs nothing the
    # validation questions can see (docs/decisions.md, "QA reranker training length").
    TARGET_STEPS: ClassVar[int] = 450
    ROUTER_TARGET_STEPS: ClassVar[int] = 200
    # Its validation scores move by less than their noise (48 questions for a QA reranker), so where patience
    # stops it is a draw: 225, 300 and 450 of 450 in three runs, estimated at 1.27 and 0.58 of what they took.
    # From three quarters on, any stop is within the estimate's ±30% and the ETA's ±20% of the share expected
    # (docs/decisions.md, "A cross-encoder stops from three quarters of its steps on").
    EARLIEST_STOP_SHARE: ClassVar[float] = 0.75

    base_model: Annotated[
        ModelName,
        limit(
            "the model to start from: a Hub id or a folder", none_means="the embedder's weights with a new score head"
        ),
    ] = None
    batch_size: Annotated[int, limit("pairs per optimizer step", 1, 4096)] = 16
    # A new one-score head learns slowly at 2e-5 (docs/decisions.md, "cross-encoder learning rate").
    learning_rate: Annotated[float, limit("peak learning rate", 1e-8, 0.5)] = 5e-5
    # A quarter of its planned runs, as an embedding's 3 of 12 (docs/decisions.md, "early-stopping patience").
    patience: Annotated[int, PATIENCE] = 2
    max_length: Annotated[int, limit("tokens of question and passage together", 8, 8192)] = 256
    hard_negatives: Annotated[int, limit("wrong passages per train question", 1, MAX_HARD_NEGATIVES)] = 3
    easy_negatives: Annotated[
        int, limit("random wrong passages per train question besides the hard ones", 0, MAX_HARD_NEGATIVES)
    ] = 0
    # Two copies route documents never trained on (and misspelt names) better than one (docs/decisions.md,
    # "router name swaps").
    name_swaps: Annotated[
        int,
        limit(
            "router datasets: copies of each train question that names its document, "
            "the name invented anew in the question and its tools (teaches matching "
            "names rather than remembering the training documents)",
            0,
            10,
        ),
    ] = 2
    embedder: Annotated[
        ModelName, limit("the embedding model that picks hard negatives and validation candidates", none_means=BUNDLED)
    ] = None


def limits(config_class: type, name: str) -> tuple[float, float, str]:
    """(min, max, help) of a numeric setting, for a form's input: its schema's."""
    found = limits_of(config_class, name)
    return found.low, found.high, found.help


def require(condition: bool, message: str) -> None:
    """Refuse a setting: TrainingError(message) unless `condition` holds."""
    if not condition:
        raise TrainingError(message)


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
