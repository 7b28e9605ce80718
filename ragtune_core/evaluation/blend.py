"""A QA reranker's blend: its score mixed with its first stage's and with word match (lexical.py).

Validation picks the shares (reranking.best_blend); the model keeps them in its config, so every place
that reranks with it, and every estimate of how long that takes, reads the same blend.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..store.files import read_json


@dataclass(frozen=True)
class Blend:
    """A reranker's order: its score mixed with the first stage's and with word match (BM25), each
    standardised per question; these are the two shares, the reranker's own is what is left."""

    first_stage: float = 0.0
    lexical: float = 0.0

    @property
    def reranker_share(self) -> float:
        return round(1 - self.first_stage - self.lexical, 6)


SCORES_ALONE = Blend()  # the reranker's scores, unmixed: any cross-encoder not trained as a QA reranker here

# A reranker trained on a few thousand questions can know less than its first stage, and neither model
# counts the report's own words as people type them: its score is blended with both, the shares picked on
# validation (best_blend).
BLENDS = tuple(Blend(first / 10, words / 10) for first in range(11) for words in range(6) if first + words <= 10)
# The shares' names in a reranker's saved config
_CONFIG_KEYS = {"first_stage": "ragtune_first_stage_weight", "lexical": "ragtune_lexical_weight"}


def kept_blend(cross_encoder) -> Blend:
    """The blend a reranker was kept with (keep_blend), saved in its config; SCORES_ALONE for any other
    cross-encoder (a Hub reranker, a router's tool selector): its scores alone."""
    config = getattr(cross_encoder, "config", None)
    return _read(lambda key: getattr(config, key, None))


def saved_blend(model: str | None) -> Blend:
    """kept_blend of a saved model, read from its config.json without loading its weights (Blend() for a
    Hub id or a folder without one)."""
    config = Path(model) / "config.json" if model else None
    if config is None or not config.is_file():
        return SCORES_ALONE
    return _read(read_json(config, "the model's config", dict).get)


def _read(value_of) -> Blend:
    """The blend from `value_of(config key)`: a share not there is 0."""
    return Blend(**{share: float(value_of(key) or 0.0) for share, key in _CONFIG_KEYS.items()})


def keep_blend(cross_encoder, blend: Blend) -> None:
    """Record the blend in the model's config, which saves with its weights (config.json)."""
    for share, key in _CONFIG_KEYS.items():
        setattr(cross_encoder.config, key, float(getattr(blend, share)))
