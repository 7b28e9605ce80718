"""Fine-tuning a cross-encoder: a tool selector on router datasets, a reranker on QA datasets.

Follows sentence-transformers' reranker recipe: for each train question, the right passage (or
tool) labelled 1 and the wrong ones an embedder ranks highest (hard negatives) labelled 0, trained
with `BinaryCrossEntropyLoss` weighted so positives and negatives count alike. Each evaluation
reranks the validation questions' embedder candidates, all tools of a router dataset (so
accuracy@1 is the router's match rate) or the top RERANK_TOP_K passages of a QA dataset, and
scores them with evaluation.py's metrics. The training itself (events, atomic save) is training.py's.

torch and sentence-transformers are imported inside functions: pages import this module for the
config alone and must stay quick to load.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .evaluation import TOP_K
from .models import DEFAULT_BASE_MODEL, ModelNotFound, load_embedder, resolve_model
from .qa_dataset import TRAIN, VAL, QADataset
from .reranking import RERANK_TOP_K, FirstStage, first_stage, rerank, retrieval_report
from .training import (
    EVAL_BATCH_SIZE,
    OnEvent,
    TrainerRecipe,
    TrainingError,
    check_free,
    config_from_dict,
    fit_and_publish,
    is_int,
    is_number,
    require,
    train_in_worker,
    training_inputs,
)
from .workspace import Workspace

MODEL_KIND = "cross_encoder"
MAX_HARD_NEGATIVES = 50  # well inside the first stage's top 100, whatever a question's positives
ROUTER_METRIC, QA_METRIC = "accuracy@1", "ndcg@10"  # accuracy@1 over all tools is the router's match rate

Triple = tuple[str, str, float]  # (question, passage, label)


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


@dataclass
class CrossEncoderTrainResult:
    output_dir: Path
    primary_metric: str  # ROUTER_METRIC (the match rate) or QA_METRIC
    metrics_embedder: dict[str, float]  # validation metrics of the embedder alone, for comparison
    metrics_before: dict[str, float]  # ... of the base model reranking the embedder's candidates
    metrics_after: dict[str, float]  # ... and of the fine-tuned one
    train_pairs: int  # labelled (question, passage) pairs
    seconds: float  # trainer.train() wall time, its periodic evaluations included
    steps: int


# --- hard negatives ----------------------------------------------------------------------------
def mine_hard_negatives(dataset: QADataset, embedder, k: int, part: str | None = TRAIN) -> list[Triple]:
    """For each question of `part` (None: all), its right passages (label 1.0), then the k wrong
    passages the embedder ranks highest (label 0.0), best first; fewer where the corpus has fewer.

    The corpus is embedded once and every question ranked in one matrix product (see first_stage).
    """
    return labelled_pairs(first_stage(embedder, dataset, part), k)


def labelled_pairs(first: FirstStage, k: int) -> list[Triple]:
    """mine_hard_negatives on an already ranked part."""
    require(is_int(k) and 1 <= k <= MAX_HARD_NEGATIVES, f"k must be 1 to {MAX_HARD_NEGATIVES} hard negatives")
    questions, corpus = first.questions, first.questions.corpus
    triples = []
    for qid, ranked in zip(questions.queries, first.indices):
        question, right = questions.queries[qid], questions.relevant_docs[qid]
        triples += [(question, corpus[pid], 1.0) for pid in dict.fromkeys(right)]
        wrong = [pid for pid in (first.corpus_ids[i] for i in ranked) if pid not in right][:k]
        triples += [(question, corpus[pid], 0.0) for pid in wrong]
    return triples


# --- training ----------------------------------------------------------------------------------
def train_cross_encoder(config: CrossEncoderTrainConfig, dataset: QADataset, output_dir: Path,
                        on_event: OnEvent | None = None, model_card_name: str | None = None) -> CrossEncoderTrainResult:
    """Fine-tune `config.base_model` as a cross-encoder on the dataset's train questions.

    `on_event(name, data)` receives "prepare" {done, total, message} while the embedder ranks the
    corpus, then the same events as training.train_embedding: "progress", "train_step" and "eval"
    (base model at step 0, eval steps, final model). `output_dir` must not exist: it appears,
    complete, only when everything went well.
    """
    config.validate()
    output_dir = Path(output_dir)
    check_free(output_dir)
    _check_parts(dataset)
    emit = on_event or (lambda event, data: None)

    def prepare(done: int, total: int, message: str) -> None:
        emit("prepare", {"done": done, "total": total, "message": f"hard negatives: {message}"})

    embedder = load_embedder(config.embedder)
    val_first = first_stage(embedder, dataset, VAL, EVAL_BATCH_SIZE, on_progress=prepare)
    train_first = first_stage(embedder, dataset, TRAIN, EVAL_BATCH_SIZE, val_first.corpus_embeddings, prepare)
    triples = labelled_pairs(train_first, config.hard_negatives)
    require(any(label == 0.0 for _, _, label in triples),
            "no train question has a wrong passage to learn from: every passage answers them all")
    primary = ROUTER_METRIC if dataset.kind == "router" else QA_METRIC
    # A router's tools are all reranked; a QA corpus only up to the reranker's usual depth.
    top_k = min(TOP_K, len(dataset.corpus)) if dataset.kind == "router" else RERANK_TOP_K
    metrics_embedder = retrieval_report(val_first, "embedder").metrics

    model = _load_base_model(config, model_card_name)
    fit = fit_and_publish(config, model, _make_evaluator(val_first, top_k, primary), _recipe(model, triples),
                          output_dir, emit)
    return CrossEncoderTrainResult(output_dir, primary, metrics_embedder, fit.metrics_before, fit.metrics_after,
                                   len(triples), fit.seconds, fit.steps)


def _check_parts(dataset: QADataset) -> None:
    if not dataset.split:
        raise TrainingError("this dataset has no train/validation split yet: split it before training")
    parts = set(dataset.split.get(q) for q in dataset.queries)
    for part, label in ((TRAIN, "train"), (VAL, "validation")):
        if part not in parts:
            raise TrainingError(f"the dataset's {label} part has no questions: split it with both parts non-empty")
    if len(dataset.corpus) < 2:
        raise TrainingError(f"the corpus has {len(dataset.corpus)} passage(s): a cross-encoder needs wrong ones to "
                            "learn from")


def _load_base_model(config: CrossEncoderTrainConfig, model_card_name: str | None):
    """A fresh model with one output score: a new head on an embedding model, a reranker as it is."""
    from sentence_transformers.cross_encoder import CrossEncoder

    try:
        model = CrossEncoder(resolve_model(config.base_model), num_labels=1, max_length=config.max_length)
    except OSError as exc:
        name = config.base_model or DEFAULT_BASE_MODEL
        raise ModelNotFound(f"could not load the base model {name!r}: {exc}") from exc
    limit = getattr(getattr(model.model, "config", None), "max_position_embeddings", None)
    if limit is not None and config.max_length > limit:
        raise TrainingError(f"max_length {config.max_length} is more than the base model's {limit} positions")
    if model_card_name:
        model.model_card_data.model_name = model_card_name
    return model


def _make_evaluator(val_first: FirstStage, top_k: int, primary: str):
    """Reranks the validation questions' embedder candidates; metrics named as evaluation.py's."""
    from sentence_transformers.base.evaluation.evaluator import BaseEvaluator

    class RerankEvaluator(BaseEvaluator):
        def __init__(self):
            super().__init__()
            self.primary_metric = primary

        def __call__(self, model, output_path=None, epoch=-1, steps=-1) -> dict[str, float]:
            metrics = rerank(model, val_first, top_k, VAL, batch_size=EVAL_BATCH_SIZE).metrics
            return self.prefix_name_to_metrics(metrics, VAL)

    return RerankEvaluator()


def _recipe(model, triples: list[Triple]) -> TrainerRecipe:
    import torch
    from datasets import Dataset
    from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    questions, passages, labels = (list(column) for column in zip(*triples))
    positives = sum(labels)
    # Weighting each positive by the negatives per positive keeps the loss from favouring "wrong".
    loss = BinaryCrossEntropyLoss(model, pos_weight=torch.tensor((len(labels) - positives) / positives))
    return TrainerRecipe(CrossEncoderTrainer, CrossEncoderTrainingArguments,
                         Dataset.from_dict({"query": questions, "passage": passages, "label": labels}), loss)


# --- in the workspace ---------------------------------------------------------------------------
def train_cross_encoder_and_register(ws: Workspace, dataset_id: str, model_name: str,
                                     config: CrossEncoderTrainConfig, on_event: OnEvent | None = None,
                                     run_id: str | None = None) -> dict:
    """Train on a workspace dataset and register the result as the cross-encoder `model_name`."""
    model_name, dataset = training_inputs(ws, dataset_id, model_name, config, "cross-encoder")
    result = train_cross_encoder(config, dataset, ws.model_dir(model_name), on_event, model_card_name=model_name)
    record = ws.register_model(model_name, MODEL_KIND, result.output_dir, config.base_model or DEFAULT_BASE_MODEL,
                               run_id=run_id, metrics=result.metrics_after)
    return {"model_id": record.id, "model_name": record.name, "model_path": str(result.output_dir),
            "dataset_kind": dataset.kind, "primary_metric": result.primary_metric,
            "metrics_embedder": result.metrics_embedder, "metrics_before": result.metrics_before,
            "metrics_after": result.metrics_after, "train_pairs": result.train_pairs,
            "seconds": result.seconds, "steps": result.steps}


def run_cross_encoder_job(ctx, params: dict) -> dict:
    """Worker task "train_cross_encoder": params {dataset_id, model_name, config: asdict(CrossEncoderTrainConfig)}."""
    result = train_in_worker(ctx, params, CrossEncoderTrainConfig, train_cross_encoder_and_register)
    metric = result["primary_metric"]
    before, after = result["metrics_before"][metric], result["metrics_after"][metric]
    embedder = result["metrics_embedder"][metric]
    ctx.progress(result["steps"], result["steps"],
                 f"validation {metric} {before:.3f} → {after:.3f} (embedder alone {embedder:.3f})", force=True)
    return result
