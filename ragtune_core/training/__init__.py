"""Stage 3, fine-tuning: embedding models and cross-encoders, trained and published atomically."""

from .config import CrossEncoderTrainConfig, EmbeddingTrainConfig, TrainingError, limits
from .cross_encoder import train_cross_encoder
from .embedding import train_embedding
from .register import ModelNameError, check_model_name, planned_schedule, preflight, train_and_register
from .search import SearchSettings

__all__ = [
    "EmbeddingTrainConfig",
    "CrossEncoderTrainConfig",
    "TrainingError",
    "limits",
    "train_embedding",
    "train_cross_encoder",
    "train_and_register",
    "check_model_name",
    "ModelNameError",
    "planned_schedule",
    "preflight",
    "SearchSettings",
]
