"""Fine-tuning an embedding model on a dataset's (question, passage) pairs.

Follows sentence-transformers' own recipe: `SentenceTransformerTrainer` with
`MultipleNegativesRankingLoss` (the other passages of a batch are each question's negatives, so
batches hold no duplicate texts) and an `InformationRetrievalEvaluator` on the validation questions
against the whole corpus. The model is written into a hidden folder next to its destination and
renamed into place only when complete, so a failed or cancelled run never leaves half a model.

torch and sentence-transformers are imported inside functions: the Streamlit pages import this
module for the config alone and must stay quick to load.
"""

from __future__ import annotations

from pathlib import Path

from ..questions.qa_dataset import TRAIN, VAL, QADataset
from ..store.models import DEFAULT_BASE_MODEL, HUB_ID_OF_DEFAULT, ModelNotFound, bundled_model_path, resolve_model
from .config import EmbeddingTrainConfig, TrainingError
from .fit import EVAL_BATCH_SIZE, OnEvent, TrainerRecipe, TrainResult, check_free, check_parts, fit_and_publish, primary_metric

MODEL_KIND = "embedding"


# --- training ----------------------------------------------------------------------------------
def train_embedding(config: EmbeddingTrainConfig, dataset: QADataset, output_dir: Path,
                    on_event: OnEvent | None = None, model_card_name: str | None = None) -> TrainResult:
    """Fine-tune `config.base_model` on the dataset's train questions and save it to `output_dir`.

    `on_event(name, data)` receives "eval" {step, epoch, metrics} for the base model (step 0),
    "schedule" {epochs, steps, eval_steps, reason}, "progress" {step, max_steps, epoch, epochs, loss}
    after every step, "train_step" {step, max_steps, epoch, loss, learning_rate} at logging steps,
    "eval" at eval steps and "best" {step, metric, value, stopped_early} for the model kept.
    `output_dir` must not exist: it appears, complete, only when everything went well.

    Example::

        result = train_embedding(EmbeddingTrainConfig(), dataset, Path("models/cities-minilm"))
        print(result.schedule, result.best_step, result.metrics_before["ndcg@10"], result.metrics_after["ndcg@10"])
    """
    output_dir = Path(output_dir)
    check_free(output_dir)
    check_parts(dataset)
    train_part, val_part = dataset.subset(TRAIN).pairs(), dataset.subset(VAL)
    model = _load_base_model(config, model_card_name)
    return fit_and_publish(config, model, _make_evaluator(val_part), _recipe(config, model, train_part),
                           primary_metric(dataset), output_dir, on_event)


def _load_base_model(config: EmbeddingTrainConfig, model_card_name: str | None):
    """A fresh copy of the base model (never the cached one other code encodes with: training changes it)."""
    from sentence_transformers import SentenceTransformer

    path = resolve_model(config.base_model)
    local = Path(path).is_dir()  # a folder: neither loading nor the model card may call the Hub
    try:
        model = SentenceTransformer(path, local_files_only=local)
    except OSError as exc:
        raise ModelNotFound(f"could not load the base model {config.base_model or DEFAULT_BASE_MODEL!r}: {exc}") from exc
    if path == str(bundled_model_path()):
        model.model_card_data.base_model = HUB_ID_OF_DEFAULT  # so the card says what it was fine-tuned from
    limit = _position_limit(model)
    if limit is not None and config.max_seq_length > limit:
        raise TrainingError(f"max_seq_length {config.max_seq_length} is more than the base model's {limit} positions")
    model.max_seq_length = config.max_seq_length
    if model_card_name:
        model.model_card_data.model_name = model_card_name
    return model


def _position_limit(model) -> int | None:
    transformer_config = getattr(getattr(model[0], "auto_model", None), "config", None)
    return getattr(transformer_config, "max_position_embeddings", None)


def _make_evaluator(val_part: QADataset):
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    relevant = {qid: set(pids) for qid, pids in val_part.relevant_docs.items()}
    return InformationRetrievalEvaluator(val_part.queries, val_part.corpus, relevant, name=VAL,
                                         batch_size=EVAL_BATCH_SIZE, write_csv=False)


def _recipe(config: EmbeddingTrainConfig, model, train_pairs: list[tuple[str, str]]) -> TrainerRecipe:
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    train_dataset = Dataset.from_dict({"anchor": [q for q, _ in train_pairs], "positive": [p for _, p in train_pairs]})
    return TrainerRecipe(SentenceTransformerTrainer, SentenceTransformerTrainingArguments, train_dataset,
                         MultipleNegativesRankingLoss(model),
                         arguments={"batch_sampler": BatchSamplers.NO_DUPLICATES})
