"""Stage 3, fine-tuning: embedding models and cross-encoders, trained and published atomically."""

from .config import EmbeddingTrainConfig, CrossEncoderTrainConfig, TrainingError, limits
from .embedding import train_embedding
from .cross_encoder import train_cross_encoder
from .register import train_and_register, check_model_name, planned_schedule, preflight
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
    "planned_schedule",
    "preflight",
    "SearchSettings",
]
