"""Fine-tuning an embedding model on a dataset's (question, passage) pairs.

A QA dataset trains the question encoder alone (training.query_side): passages keep the base
model's embeddings, computed once; a workspace run takes the question encoder's batch size and
learning rate (training.register.run_config). A router dataset trains the whole model with
sentence-transformers' own recipe: `SentenceTransformerTrainer` with `MultipleNegativesRankingLoss`
(the other passages of a batch are each question's negatives, so batches hold no duplicate texts;
on several devices, gathered from all of them: training.devices).
Both validate with an `InformationRetrievalEvaluator` on the validation questions against the whole
corpus, and measure the base model and the model kept on the test questions, which chose nothing.
The model is written into a hidden folder next to its destination and renamed into place
only when complete, so a failed or cancelled run never leaves half a model.

torch and sentence-transformers are imported inside functions: the Streamlit pages import this
module for the config alone and must stay quick to load.
"""

from __future__ import annotations

from pathlib import Path

from ..questions.qa_dataset import TEST, TRAIN, VAL, QADataset
from ..runs import EventKind
from ..store.models import EMBEDDING
from . import devices
from .config import EmbeddingTrainConfig
from .fit import (
    EVAL_BATCH_SIZE,
    OnEvent,
    TrainerRecipe,
    TrainResult,
    check_free,
    check_parts,
    fit_and_publish,
    load_base_model,
    primary_metric,
    test_sample,
    validation_sample,
)

MODEL_KIND = EMBEDDING


# --- training ----------------------------------------------------------------------------------
def train_embedding(
    config: EmbeddingTrainConfig,
    dataset: QADataset,
    output_dir: Path,
    on_event: OnEvent | None = None,
    model_card_name: str | None = None,
) -> TrainResult:
    """Fine-tune `config.base_model` on the dataset's train questions and save it to `output_dir`.

    `on_event(name, data)` receives "prepare" {done, total, message} while a QA dataset's passages are
    encoded, "eval" {step, epoch, metrics} for the base model (step 0),
    "schedule" {epochs, steps, eval_steps, reason}, "progress" {step, max_steps, epoch, epochs, loss}
    after every step, "train_step" {step, max_steps, epoch, loss, learning_rate} at logging steps,
    "eval" at eval steps and "best" {step, metric, value, stopped_early, stopped_by_user, steps, planned_steps}
    for the model kept.
    `output_dir` must not exist: it appears, complete, only when everything went well.

    Example::

        result = train_embedding(EmbeddingTrainConfig(), dataset, Path("models/cities-minilm"))
        print(result.schedule, result.best_step, result.metrics_before["ndcg@10"], result.metrics_after["ndcg@10"])
    """
    output_dir = Path(output_dir)
    check_free(output_dir)
    check_parts(dataset)
    val_part, test_part = validation_sample(dataset).subset(VAL), test_sample(dataset)
    model = load_base_model(EMBEDDING, config.base_model, config.max_seq_length, model_card_name, config.seed)
    if dataset.kind == "router":
        recipe = _recipe(config, model, dataset.subset(TRAIN).pairs())
        return fit_and_publish(
            config,
            model,
            _make_evaluator(val_part),
            recipe,
            primary_metric(dataset),
            output_dir,
            on_event,
            _make_evaluator(test_part, name=TEST),
        )
    from . import query_side

    model = query_side.asymmetric(model)
    emit = on_event or (lambda event, data: None)
    corpus_embeddings = query_side.passage_embeddings(
        model,
        dataset,
        lambda done, total, message: emit(
            EventKind.PREPARE, {"done": done, "total": total, "message": f"passages: {message}"}
        ),
    )
    evaluator_class = query_side.evaluator_class(corpus_embeddings, config.base_share)
    return fit_and_publish(
        config,
        model,
        _make_evaluator(val_part, evaluator_class),
        query_side.recipe(model, dataset, corpus_embeddings, config),
        primary_metric(dataset),
        output_dir,
        on_event,
        _make_evaluator(test_part, evaluator_class, TEST),
    )


def _make_evaluator(part: QADataset | None, evaluator_class: type | None = None, name: str = VAL):
    """One part's questions against the whole corpus (None without that part); `evaluator_class` is an
    InformationRetrievalEvaluator subclass (a QA question encoder's, training.query_side) or None."""
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    if part is None:
        return None
    relevant = {qid: set(pids) for qid, pids in part.relevant_docs.items()}
    return (evaluator_class or InformationRetrievalEvaluator)(
        part.queries, part.corpus, relevant, name=name, batch_size=EVAL_BATCH_SIZE, write_csv=False
    )


def _recipe(config: EmbeddingTrainConfig, model, train_pairs: list[tuple[str, str]]) -> TrainerRecipe:
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    train_dataset = Dataset.from_dict({"anchor": [q for q, _ in train_pairs], "positive": [p for _, p in train_pairs]})
    return TrainerRecipe(
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
        train_dataset,
        # Under a launcher each device's questions are scored against every device's passages, as on one device.
        MultipleNegativesRankingLoss(model, gather_across_devices=devices.world_size() > 1),
        arguments={"batch_sampler": BatchSamplers.NO_DUPLICATES},
    )
