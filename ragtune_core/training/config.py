"""Training settings: one validated dataclass per trainer, sharing the checks and the parsing."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Protocol, TypeVar

from ..store.files import check_keys

MAX_HARD_NEGATIVES = 50  # well inside the first stage's top 100, whatever a question's positives


class TrainingError(ValueError):
    """Training cannot start with these inputs; the message says which one and why."""


class TrainConfig(Protocol):
    """What the shared training steps use of a config (EmbeddingTrainConfig, CrossEncoderTrainConfig)."""

    base_model: str | None
    epochs: int
    batch_size: int
    learning_rate: float
    warmup_ratio: float
    seed: int

    def validate(self) -> None: ...


Config = TypeVar("Config", bound=TrainConfig)


@dataclass
class EmbeddingTrainConfig:
    base_model: str | None = None  # None: the bundled all-MiniLM-L6-v2
    epochs: int = 2
    batch_size: int = 16
    learning_rate: float = 2e-5
    max_seq_length: int = 256
    warmup_ratio: float = 0.1
    eval_steps: int | None = None  # None: about EVALS_PER_EPOCH evaluations per epoch
    seed: int = 42

    def validate(self) -> None:
        require(self.base_model is None or (isinstance(self.base_model, str) and self.base_model.strip()),
                "base_model must be a Hub id or a folder (or None for the bundled model)")
        require(is_int(self.epochs) and 1 <= self.epochs <= 100, f"epochs must be 1 to 100, not {self.epochs!r}")
        require(is_int(self.batch_size) and 2 <= self.batch_size <= 4096,
                f"batch_size must be 2 to 4096 (in-batch negatives need at least 2), not {self.batch_size!r}")
        require(is_number(self.learning_rate) and 0 < self.learning_rate < 1,
                f"learning_rate must be between 0 and 1, not {self.learning_rate!r}")
        require(is_int(self.max_seq_length) and 8 <= self.max_seq_length <= 8192,
                f"max_seq_length must be 8 to 8192 tokens, not {self.max_seq_length!r}")
        require(is_number(self.warmup_ratio) and 0 <= self.warmup_ratio < 1,
                f"warmup_ratio must be at least 0 and below 1, not {self.warmup_ratio!r}")
        require(self.eval_steps is None or (is_int(self.eval_steps) and self.eval_steps >= 1),
                f"eval_steps must be a positive number of steps (or None), not {self.eval_steps!r}")
        require(is_int(self.seed) and self.seed >= 0, f"seed must be a non-negative integer, not {self.seed!r}")

    @classmethod
    def from_dict(cls, data: dict) -> EmbeddingTrainConfig:
        """The config saved with a run (`asdict(config)`), validated."""
        return config_from_dict(cls, data, "training settings")


def config_from_dict(config_class: type[Config], data: dict, settings: str) -> Config:
    """A config saved with a run (`asdict(config)`), validated; unknown keys are refused by name."""
    check_keys(data, (f.name for f in fields(config_class)), settings, TrainingError)
    config = config_class(**data)
    config.validate()
    return config


def require(condition: bool, message: str) -> None:
    """Refuse a setting: TrainingError(message) unless `condition` holds."""
    if not condition:
        raise TrainingError(message)


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)



@dataclass
class CrossEncoderTrainConfig:
    base_model: str | None = None  # None: the bundled all-MiniLM-L6-v2 with a new one-score head
    epochs: int = 1
    batch_size: int = 16
    learning_rate: float = 2e-5
    max_length: int = 256  # tokens of question and passage together
    hard_negatives: int = 3  # wrong passages per train question
    warmup_ratio: float = 0.1
    seed: int = 42
    embedder: str | None = None  # picks hard negatives and validation candidates; None: the bundled model

    def validate(self) -> None:
        for name in ("base_model", "embedder"):
            value = getattr(self, name)
            require(value is None or (isinstance(value, str) and value.strip()),
                    f"{name} must be a Hub id or a folder (or None for the bundled model)")
        require(is_int(self.epochs) and 1 <= self.epochs <= 100, f"epochs must be 1 to 100, not {self.epochs!r}")
        require(is_int(self.batch_size) and 1 <= self.batch_size <= 4096,
                f"batch_size must be 1 to 4096, not {self.batch_size!r}")
        require(is_number(self.learning_rate) and 0 < self.learning_rate < 1,
                f"learning_rate must be between 0 and 1, not {self.learning_rate!r}")
        require(is_int(self.max_length) and 8 <= self.max_length <= 8192,
                f"max_length must be 8 to 8192 tokens, not {self.max_length!r}")
        require(is_int(self.hard_negatives) and 1 <= self.hard_negatives <= MAX_HARD_NEGATIVES,
                f"hard_negatives must be 1 to {MAX_HARD_NEGATIVES} per question, not {self.hard_negatives!r}")
        require(is_number(self.warmup_ratio) and 0 <= self.warmup_ratio < 1,
                f"warmup_ratio must be at least 0 and below 1, not {self.warmup_ratio!r}")
        require(is_int(self.seed) and self.seed >= 0, f"seed must be a non-negative integer, not {self.seed!r}")

    @classmethod
    def from_dict(cls, data: dict) -> CrossEncoderTrainConfig:
        """The config saved with a run (`asdict(config)`), validated."""
        return config_from_dict(cls, data, "cross-encoder training settings")
