"""Training settings: one validated dataclass per trainer, sharing the fields, checks and parsing.

Every numeric setting carries its limits and help in the field's metadata (`setting`): validation,
the CLI's options and the Fine-tune page's inputs all read them there, so they never disagree. A
config is checked when it is made and cannot change, so an invalid one cannot exist.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import ClassVar, TypeVar

from ..errors import RagtuneError
from ..store.files import check_keys

MAX_HARD_NEGATIVES = 50  # well inside the first stage's top 100, whatever a question's positives


class TrainingError(RagtuneError):
    """Training cannot start with these inputs; the message says which one and why."""


def setting(default, help: str, low: float | None = None, high: float | None = None, optional: str | None = None):
    """A config field whose limits (inclusive) and help live in its metadata. A number is an int
    when both limits are ints; `optional` says what None means (None is refused without it)."""
    return field(default=default, metadata={"help": help, "min": low, "max": high, "optional": optional})


def model_setting(help: str):
    """A model field: a Hub id or a folder, None for the bundled all-MiniLM-L6-v2."""
    return field(default=None, metadata={"help": help, "optional": "the bundled all-MiniLM-L6-v2", "model": True})


@dataclass(frozen=True)
class TrainConfig:
    """What every trainer takes; EmbeddingTrainConfig and CrossEncoderTrainConfig add their own."""

    TARGET_STEPS: ClassVar[int] = 300  # optimizer steps that auto epochs aim at
    MAX_AUTO_EPOCHS: ClassVar[int] = 40
    EVALS_PER_RUN: ClassVar[int] = 12  # validation runs: candidates for the model kept, and early stopping
    # No early stop before this share of the planned steps: a new score head can sit at chance for a while.
    EARLIEST_STOP_SHARE: ClassVar[float] = 0.5

    base_model: str | None = model_setting("the model to fine-tune: a Hub id or a folder")
    epochs: int | None = setting(None, "passes over the training pairs", 1, 100,
                                 optional="auto, from the number of training pairs")
    batch_size: int = setting(16, "pairs per optimizer step", 2, 4096)
    learning_rate: float = setting(2e-5, "peak learning rate", 1e-8, 0.5)
    warmup_ratio: float = setting(0.1, "share of the steps spent warming the learning rate up", 0.0, 0.9)
    eval_steps: int | None = setting(None, "optimizer steps between validation runs", 1, 1_000_000,
                                     optional="about 12 validation runs per training")
    # Three of the ~12 planned runs: a fourth in a row only adds time (docs/decisions.md, "early-stopping patience").
    patience: int = setting(3, "validation runs in a row without improvement before training stops early "
                            "(0: never stop early)", 0, 1000)
    seed: int = setting(42, "random seed of shuffling and initialisation", 0, 2**31 - 1)

    def __post_init__(self) -> None:
        check_settings(self)

    def target_steps(self, kind: str) -> int:
        """The optimizer steps an auto schedule aims at for a dataset of `kind` ("qa", "router")."""
        return self.TARGET_STEPS

    @classmethod
    def from_dict(cls: type[Config], data: dict) -> Config:
        """The config saved with a run (`asdict(config)`); unknown keys are refused by name."""
        check_keys(data, (f.name for f in fields(cls)), cls.SETTINGS_NAME, TrainingError)
        return cls(**data)


Config = TypeVar("Config", bound=TrainConfig)


@dataclass(frozen=True)
class EmbeddingTrainConfig(TrainConfig):
    SETTINGS_NAME = "training settings"

    max_seq_length: int = setting(256, "tokens of a question or passage the model reads", 8, 8192)
    # QA datasets train the question encoder alone (training.query_side): a step is a fraction of a full
    # one's cost, so it takes more questions at a higher rate, and half the base model's weights keep what it knew.
    query_batch_size: int = setting(32, "QA datasets: questions per optimizer step of the question encoder",
                                    2, 4096)
    query_learning_rate: float = setting(1e-4, "QA datasets: peak learning rate of the question encoder "
                                         "(the passages' encoder stays the base model's)", 1e-8, 0.5)
    base_share: float = setting(0.5, "QA datasets: share of the base model's weights averaged into the "
                                "fine-tuned question encoder (0: none)", 0.0, 0.9)

    QUERY_SIDE: ClassVar[dict[str, str]] = {"batch_size": "query_batch_size", "learning_rate": "query_learning_rate"}

    def for_query_side(self) -> EmbeddingTrainConfig:
        """The config a QA training runs with: the question encoder's batch size and learning rate, or the
        general ones where those were changed from their defaults (`--lr 5e-5` means it for any dataset)."""
        defaults = {f.name: f.default for f in fields(self)}
        unchanged = [general for general in self.QUERY_SIDE if getattr(self, general) == defaults[general]]
        return replace(self, **{general: getattr(self, self.QUERY_SIDE[general]) for general in unchanged})


@dataclass(frozen=True)
class CrossEncoderTrainConfig(TrainConfig):
    SETTINGS_NAME = "cross-encoder training settings"
    # A step scores batch_size (question, passage) pairs of up to max_length tokens, forward and backward,
    # and a validation run reranks every sampled question's candidates: fewer of both than an embedding.
    TARGET_STEPS: ClassVar[int] = 200
    EVALS_PER_RUN: ClassVar[int] = 6
    # A QA reranker's new score head stays at chance for a few hundred steps whatever the learning rate, so it
    # trains longer and is never stopped early before three quarters of its steps (docs/decisions.md,
    # "QA reranker training length").
    QA_TARGET_STEPS: ClassVar[int] = 450
    EARLIEST_STOP_SHARE: ClassVar[float] = 0.75

    def target_steps(self, kind: str) -> int:
        return self.TARGET_STEPS if kind == "router" else self.QA_TARGET_STEPS

    base_model: str | None = field(default=None, metadata={
        "help": "the model to start from: a Hub id or a folder", "model": True,
        "optional": "the embedder's weights with a new score head"})
    batch_size: int = setting(16, "pairs per optimizer step", 1, 4096)
    # A new one-score head learns slowly at 2e-5 (docs/decisions.md, "cross-encoder learning rate").
    learning_rate: float = setting(5e-5, "peak learning rate", 1e-8, 0.5)
    max_length: int = setting(256, "tokens of question and passage together", 8, 8192)
    hard_negatives: int = setting(3, "wrong passages per train question", 1, MAX_HARD_NEGATIVES)
    easy_negatives: int = setting(0, "random wrong passages per train question besides the hard ones",
                                  0, MAX_HARD_NEGATIVES)
    # Two copies route documents never trained on (and misspelt names) better than one (docs/decisions.md,
    # "router name swaps").
    name_swaps: int = setting(2, "router datasets: copies of each train question that names its document, "
                              "the name invented anew in the question and its tools (teaches matching names "
                              "rather than remembering the training documents)", 0, 10)
    embedder: str | None = model_setting("the embedding model that picks hard negatives and validation candidates")


def check_settings(config: TrainConfig) -> None:
    """TrainingError naming the first setting outside its metadata's limits."""
    for f in fields(config):
        value, meta = getattr(config, f.name), f.metadata
        if value is None and meta.get("optional"):
            continue
        if meta.get("model"):
            require(isinstance(value, str) and value.strip(),
                    f"{f.name} must be a Hub id or a folder (or None for {meta['optional']})")
        elif "min" in meta:
            check_number(f.name, value, meta["min"], meta["max"])


def check_number(name: str, value, low, high) -> None:
    whole = isinstance(low, int) and isinstance(high, int)
    kind_ok = is_int(value) if whole else is_number(value)
    require(kind_ok and low <= value <= high,
            f"{name} must be {'a whole number' if whole else 'a number'} from {show(low)} to {show(high)}, "
            f"not {value!r}")


def show(number: float) -> str:
    """A limit as people write it: 4096, 1e-08, 0.5."""
    return f"{number}" if isinstance(number, int) else f"{number:g}"


def limits(config_class: type[TrainConfig], name: str) -> tuple[float, float, str]:
    """(min, max, help) of a numeric setting, for a form's input."""
    meta = next(f.metadata for f in fields(config_class) if f.name == name)
    return meta["min"], meta["max"], meta["help"]


def require(condition: bool, message: str) -> None:
    """Refuse a setting: TrainingError(message) unless `condition` holds."""
    if not condition:
        raise TrainingError(message)


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
