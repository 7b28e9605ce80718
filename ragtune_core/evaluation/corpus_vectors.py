"""A corpus's passage embeddings, encoded once per document encoder and kept on disk.

The bundled model, every QA question encoder fine-tuned from it (training.query_side keeps the base
model's document route) and the first stage of every reranker they rank for encode a corpus into the
same vectors. On a laptop CPU that is about two minutes for two 10-Ks, which every evaluation,
reranking and cross-encoder training would otherwise pay again. The vectors are kept in the cache
folder (timing.pace.cache_folder), under a key of everything that decides them: the document encoder's
modules, their settings and float weights, its document prompt, and the passages' texts in order. The
oldest files go once the folder holds more than MAX_BYTES.

Only SentenceTransformers are keyed; any other encoder (a test's stand-in) is encoded every time.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import weakref
from pathlib import Path

from ..store.files import atomic_write_bytes
from ..store.models import load_embedder
from ..timing.pace import cache_folder

log = logging.getLogger(__name__)

FOLDER = "corpus-vectors"
MAX_BYTES = 512 * 2**20  # about 150 corpora of two 10-Ks at 384 dimensions
_KEYS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> (its weights' versions, encoder_key)


def encoder_key(model) -> str | None:
    """A digest of what decides `model.encode_document`'s vectors; None for an encoder not keyed.
    Hashing the weights takes a tenth of a second: the digest is kept per model until a weight changes
    (a tensor's version counts its in-place changes), so a run or a Playground query pays it once."""
    modules = _document_modules(model)
    if modules is None:
        return None
    weights = [(module, sorted(module.state_dict().items())) for module in modules]
    versions = tuple((tensor.data_ptr(), tensor._version) for _, state in weights for _, tensor in state)
    kept = _KEYS.get(model)
    if kept is not None and kept[0] == versions:
        return kept[1]
    digest = hashlib.blake2b(digest_size=16)
    digest.update(json.dumps(model.prompts.get("document", ""), sort_keys=True).encode())
    for module, state in weights:
        settings = module.get_config_dict() if hasattr(module, "get_config_dict") else {}
        settings = {**settings, "max_seq_length": getattr(module, "max_seq_length", None)}
        digest.update(type(module).__qualname__.encode())
        digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
        for name, tensor in state:
            if tensor.is_floating_point():  # integer buffers (position ids) are saved by some versions only
                digest.update(f"{name}{tuple(tensor.shape)}{tensor.dtype}".encode())
                digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    _KEYS[model] = (versions, digest.hexdigest())
    return _KEYS[model][1]


def _document_modules(model) -> list | None:
    """The modules that encode a document: a Router's document route, or the whole model."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Router

    if not isinstance(model, SentenceTransformer):
        return None
    modules = list(model.children())
    if len(modules) == 1 and isinstance(modules[0], Router):
        routes = modules[0].sub_modules
        return list(routes["document"]) if "document" in routes else None
    return modules


def passages_key(passages: list[str]) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for text in passages:
        digest.update(len(text).to_bytes(8, "little"))
        digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def vectors_folder() -> Path:
    return cache_folder() / FOLDER


def vectors_path(encoder: str, passages: list[str]) -> Path:
    return vectors_folder() / f"{encoder}-{passages_key(passages)}.npy"


def kept_files() -> frozenset[str]:
    """The names of the kept vectors' files: what an estimate kept for the same settings also depends on."""
    folder = vectors_folder()
    return frozenset(path.name for path in folder.glob("*.npy")) if folder.is_dir() else frozenset()


def kept_vectors(model, passages: list[str]):
    """The passages' vectors as `model`'s document encoder encoded them in an earlier run (a float
    tensor on the model's device, one row a passage), or None."""
    import torch

    encoder = encoder_key(model)
    kept = None if encoder is None else _load(vectors_path(encoder, passages), len(passages))
    return None if kept is None else torch.from_numpy(kept).to(model.device)


def keep_vectors(model, passages: list[str], vectors) -> None:
    """Keep the passages' vectors as `model`'s document encoder encoded them, for the next run."""
    import numpy as np

    encoder = encoder_key(model)
    if encoder is None:
        return
    path = vectors_path(encoder, passages)
    try:
        atomic_write_bytes(path, _npy_bytes(np.ascontiguousarray(vectors.detach().cpu().float().numpy())))
        _evict(path.parent, MAX_BYTES)
    except OSError as exc:  # a full or read-only cache costs the next run an encoding, not this run its result
        log.warning("could not keep corpus vectors in %s: %s", path.parent, exc)


def _load(path: Path, rows: int):
    import numpy as np

    if not path.is_file():
        return None
    try:
        vectors = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:  # unreadable: encode again, and the new file replaces it
        log.warning("kept corpus vectors %s unreadable (%s): encoding again", path.name, exc)
        return None
    if vectors.ndim != 2 or vectors.shape[0] != rows:
        return None
    os.utime(path)  # recently used: evicted last
    return vectors


def _npy_bytes(array) -> bytes:
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _evict(folder: Path, max_bytes: int) -> None:
    """Remove the least recently used files until the folder holds at most max_bytes."""
    files = sorted(folder.glob("*.npy"), key=lambda path: path.stat().st_mtime, reverse=True)
    total = 0
    for path in files:
        total += path.stat().st_size
        if total > max_bytes:
            path.unlink(missing_ok=True)


@functools.lru_cache(maxsize=8)
def model_encoder_key(model: str | None) -> str | None:
    """encoder_key of a model by name (None: the bundled one); None when it does not load (the work
    itself then says why)."""
    try:
        return encoder_key(load_embedder(model))
    except (OSError, ValueError):  # RagtuneError is a ValueError, as are transformers' config errors
        return None


def encodes_corpus(encoder: str | None, passages: list[str], encoded: set[str] | None = None) -> bool:
    """Whether a run of the document encoder `encoder` (encoder_key; None: one not keyed) encodes these
    passages: not when their vectors are kept, nor when a model run before it in the same work has the
    same encoder (`encoded`: the encoders of those models, to which this one is added)."""
    encoded = set() if encoded is None else encoded
    if encoder is None:
        return True
    if encoder in encoded or vectors_path(encoder, passages).is_file():
        return False
    encoded.add(encoder)
    return True
