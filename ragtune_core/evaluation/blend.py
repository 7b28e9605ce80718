"""A cross-encoder's blend: its score mixed with its first stage's and with word match (lexical.py).

Validation picks the shares (reranking.best_blend); the model keeps them in its config, so every place
that reranks with it, and every estimate of how long that takes, reads the same blend. A QA reranker's
first stage is the retriever it reranks for; a router's tool selector keeps the embedder it trained
with (saved_first_stage), since it routes alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..store.files import read_json
from ..store.models import DEFAULT_BASE_MODEL, ModelNotFound


@dataclass(frozen=True)
class Blend:
    """A reranker's order: its score mixed with the first stage's and with word match (BM25), each
    standardised per question; these are the two shares, the reranker's own is what is left."""

    first_stage: float = 0.0
    lexical: float = 0.0

    @property
    def reranker_share(self) -> float:
        return round(1 - self.first_stage - self.lexical, 6)

    def describe(self) -> str:
        """How a cross-encoder kept with this blend orders, in words (a training's closing line)."""
        said = f"its score blended with the embedder's at {self.first_stage:.1f}"
        said += f" and word match at {self.lexical:.1f}" if self.lexical else ""
        if not self.reranker_share:
            said += "; its own score did not rank better than noise on validation, so it has no share"
        return said


SCORES_ALONE = Blend()  # the reranker's scores, unmixed: any cross-encoder not trained here

# A reranker trained on a few thousand questions can know less than its first stage, and neither model
# counts the report's own words as people type them: its score is blended with both, the shares picked on
# validation (best_blend).
BLENDS = tuple(Blend(first / 10, words / 10) for first in range(11) for words in range(6) if first + words <= 10)
# The shares' names in a reranker's saved config
_CONFIG_KEYS = {"first_stage": "ragtune_first_stage_weight", "lexical": "ragtune_lexical_weight"}
_FIRST_STAGE_KEY = "ragtune_first_stage_model"  # the embedder it trained with: a folder or a Hub id; "": bundled


def kept_blend(cross_encoder) -> Blend:
    """The blend a cross-encoder was kept with (keep_blend), saved in its config; SCORES_ALONE for any other
    (a Hub reranker, one trained before blends were kept): its scores alone."""
    config = getattr(cross_encoder, "config", None)
    return _read(lambda key: getattr(config, key, None))


def saved_blend(model: str | None) -> Blend:
    """kept_blend of a saved model, read from its config.json without loading its weights (Blend() for a
    Hub id or a folder without one)."""
    return _read(_saved_config(model).get)


def _saved_config(model: str | None) -> dict:
    """A model folder's config.json; {} for a Hub id or a folder without one."""
    config = Path(model) / "config.json" if model else None
    return read_json(config, "the model's config", dict) if config is not None and config.is_file() else {}


def _read(value_of) -> Blend:
    """The blend from `value_of(config key)`: a share not there is 0."""
    return Blend(**{share: float(value_of(key) or 0.0) for share, key in _CONFIG_KEYS.items()})


def keep_blend(cross_encoder, blend: Blend) -> None:
    """Record the blend in the model's config, which saves with its weights (config.json)."""
    for share, key in _CONFIG_KEYS.items():
        setattr(cross_encoder.config, key, float(getattr(blend, share)))


def keep_first_stage(cross_encoder, embedder: str | None) -> None:
    """Record the embedder a cross-encoder trained with (None: the bundled model) in its config: a folder
    by its absolute path, a Hub id as it is."""
    folder = Path(embedder) if embedder else None
    recorded = str(folder.resolve()) if folder and folder.is_dir() else (embedder or "")
    setattr(cross_encoder.config, _FIRST_STAGE_KEY, recorded)


def saved_first_stage(model_dir: str) -> str | None:
    """The embedder the cross-encoder saved in `model_dir` trained with (keep_first_stage), read from its
    config.json and ready to load; None where it records none (a Hub model, one trained before this was
    kept). A workspace model's folder is found beside the cross-encoder's, so a workspace copied or moved
    finds its own; ModelNotFound where it is gone."""
    recorded = _saved_config(model_dir).get(_FIRST_STAGE_KEY)
    if recorded is None:
        return None
    recorded_path = Path(recorded)
    if not recorded or not recorded_path.is_absolute():
        return recorded or DEFAULT_BASE_MODEL  # a Hub id, or the bundled model
    beside = Path(model_dir).parent / recorded_path.name
    found = beside if beside.is_dir() else recorded_path
    if not found.is_dir():
        raise ModelNotFound(f"the embedder this cross-encoder blends with, {recorded_path.name!r}, is gone")
    return str(found)


def blended(scores: np.ndarray, first_scores: np.ndarray, words: np.ndarray | None, blend: Blend) -> np.ndarray:
    """One question's scores mixed by `blend`, each standardised over the question's candidates so that the
    shares, not the scales, set the mix."""
    if blend == SCORES_ALONE:
        return scores
    mixed = blend.reranker_share * _standardised(scores) + blend.first_stage * _standardised(first_scores)
    return mixed + blend.lexical * _standardised(words[: len(scores)]) if blend.lexical else mixed


def _standardised(values: np.ndarray) -> np.ndarray:
    spread = values.std()
    return (values - values.mean()) / spread if spread > 0 else np.zeros_like(values)
