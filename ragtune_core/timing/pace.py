"""How fast this machine runs a model: measured once, kept, and the ground of every time estimate.

A transformer's time on a CPU (or one GPU) grows with the tokens it reads, forward for encoding and
scoring, forward and backward for a training step, plus a fixed cost per step (the optimizer's
update, collating the batch). `measure_pace` times all three on the model itself, in a few seconds,
and `machine_pace` keeps the result in pace.json in the user's cache folder ($RAGTUNE_CACHE, else
~/.cache/ragtune), per machine, device, thread count and model architecture: a fine-tuned model runs
at its base model's pace, so the bundled model's measurement serves every model trained from it. What
finished runs teach (`learn_pace`) is kept per kind of work beside that measurement: an embedding
training, a cross-encoder's and an evaluation each stray from the probe in their own way, and one
kind's correction would mislead the others. Within a kind, each component of the pace (a `Component`:
the start, encoding texts, scoring pairs, training steps) learns from the phases it governs alone: a
training whose steps ran fast and whose encoding ran slow, the errors cancelling in its total, teaches
both, where one ratio for the whole run would have taught neither.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from pathlib import Path

from ..store.files import FileContentError, read_json, write_json
from ..store.models import (
    ModelNotFound,
    cpu_bf16,
    freeze_word_embeddings,
    load_tokenizer,
    mixed_precision,
    transformer_folder,
)
from .work import Timed, token_lengths

PACE_FILE, CACHE_ENV = "pace.json", "RAGTUNE_CACHE"
PROBE_LENGTH = 128  # tokens a probe sequence holds: the middle of what RAGTune's models read
PROBE_FORWARD_BATCH, PROBE_TRAIN_BATCH, PROBE_REPEATS = 32, 8, 3
CALL_LENGTH = 8  # tokens of the forward pass that times a call's fixed cost (Pace.call_seconds)
MAX_CORRECTION = 5.0  # a component's phases this many times off their estimate stalled: they teach nothing
# The least time a component's phases take in a run to teach it (learn_pace): a 5-s start is timed by its own
# disk cache, not the machine's pace; but a question encoder's 250 steps take 30 s on 2 cores, and its
# validation runs 10, so a higher bar left them at the probe's pace for good (1.9 times their time). A start,
# one fixed cost, teaches also where it was said to take that long: else a start that ran slow under load
# teaches, and the same start run fast afterwards never teaches it back (said to take 23 s for the 7 s it
# took, every run). Shorter phases of the other components are timed by their batches' fixed costs more than
# by their tokens (a validation run's short questions) and would mislead the long ones (a corpus's passages).
MIN_LEARNING_SECONDS = 10.0


class Work(StrEnum):
    """A kind of work whose pace finished runs correct on their own (learn_pace)."""

    EVALUATION = "evaluation"  # encoding and scoring: forward passes
    EMBEDDING_TRAINING = "embedding training"  # the whole model, both sides of each pair (a router's)
    # A QA question encoder (training.query_side): short questions, scored against passages encoded once; its
    # steps cost per token what a router's do not (0.56 s estimated at the QA-taught pace, 0.35 s taken).
    QUESTION_ENCODER_TRAINING = "question-encoder training"
    CROSS_ENCODER_TRAINING = "cross-encoder training"  # a router's tool selector
    # A QA reranker: the same steps as a router's cross-encoder, but it stops early where that one runs its steps
    # out (the share of its steps each is expected to run is learnt with its pace: Pace.steps_share).
    RERANKER_TRAINING = "reranker training"
    # Router selectors compared: short queries a call, and the latency timed one query a call (routing.duration)
    SELECTOR_COMPARISON = "selector comparison"


# A kind of work that starts from what another kind, alike in its steps, has learnt (its pace, not its share).
STARTS_LIKE = {Work.RERANKER_TRAINING: Work.CROSS_ENCODER_TRAINING}


class Component(StrEnum):
    """The part of a Pace that governs a phase of an estimate (timing.work.Estimate.components), learnt
    from those phases alone (learn_pace)."""

    START = "start"  # start_seconds
    ENCODING = "encoding"  # forward_tokens_per_second: texts encoded one by one
    SCORING = "scoring"  # pair_tokens_per_second: (question, passage) pairs scored by a cross-encoder
    TRAINING = "training"  # train_tokens_per_second and train_step_seconds: optimizer steps


@dataclass(frozen=True)
class Pace:
    """What one model architecture does on this machine."""

    forward_tokens_per_second: float  # inference: encoding texts
    train_tokens_per_second: float  # forward, backward and the optimizer's update
    train_step_seconds: float  # fixed cost of an optimizer step, whatever its batch
    start_seconds: float  # a new process importing torch and sentence-transformers and loading the model
    # Scoring pairs, in mixed precision where the CPU has it; None (kept before it was measured): the forward pace.
    pair_tokens_per_second: float | None = None
    # Of its planned steps, what a training of this work that may stop early is expected to run, as its runs
    # taught (training.duration.expected_share); None: none has finished yet.
    steps_share: float | None = None
    # A forward pass of a few tokens, what every call costs besides its tokens (a query routed alone), and
    # loading the model in a process that has the libraries already; 0 where kept before they were measured.
    call_seconds: float = 0.0
    load_seconds: float = 0.0

    def forward_seconds(self, tokens: float) -> float:
        return tokens / self.forward_tokens_per_second

    def scoring_seconds(self, tokens: float) -> float:
        return tokens / self.scoring_tokens_per_second

    @property
    def scoring_tokens_per_second(self) -> float:
        return self.pair_tokens_per_second or self.forward_tokens_per_second

    def train_seconds(self, steps: int, tokens_per_step: float) -> float:
        return steps * (self.train_step_seconds + tokens_per_step / self.train_tokens_per_second)

    def faster(self, component: Component, factor: float) -> Pace:
        """This pace with the work `component` governs taking 1/`factor` of its time."""
        match component:
            case Component.START:
                return replace(self, start_seconds=self.start_seconds / factor)
            case Component.ENCODING:  # scoring keeps the pace it had: an evaluation's correction is not a reranking's
                return replace(
                    self,
                    forward_tokens_per_second=self.forward_tokens_per_second * factor,
                    pair_tokens_per_second=self.scoring_tokens_per_second,
                )
            case Component.SCORING:
                return replace(self, pair_tokens_per_second=self.scoring_tokens_per_second * factor)
            case Component.TRAINING:
                return replace(
                    self,
                    train_tokens_per_second=self.train_tokens_per_second * factor,
                    train_step_seconds=self.train_step_seconds / factor,
                )


def local_model(model: str | None) -> str | None:
    """`model` when its transformer is on this machine (a folder, the bundled model), else None: the
    bundled model stands in for a Hub model not downloaded yet (or a name loading will refuse), an
    estimate of the usual size."""
    try:
        return model if (Path(transformer_folder(model)) / "config.json").is_file() else None
    except ModelNotFound:
        return None


def token_counter(model: str | None, max_length: int):
    """`count(texts)`: the tokens each text takes in local_model(model) reading at most `max_length`."""
    tokenizer = load_tokenizer(transformer_folder(local_model(model)))
    return lambda texts: token_lengths(tokenizer, list(texts), max_length)


def machine_key(model: str | None) -> str:
    """Machine, device, threads, precision and the model's architecture: what a pace is valid for."""
    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    precision = ["bf16"] if cpu_bf16() else []  # a float32 CPU's key is what it was before bf16 came
    return "|".join(
        [
            platform.node(),
            platform.machine(),
            _cpu_name(),
            device,
            *precision,
            f"threads={torch.get_num_threads()}",
            _architecture(model),
        ]
    )


def machine_pace(model: str | None = None, work: Work = Work.EVALUATION, settings: str = "") -> Pace:
    """The pace kept for this machine and model architecture (local_model's) doing `work` with `settings` (a
    training's: training.duration.training_settings): what runs of that work taught it, else the measurement,
    taken now (a few seconds) when there is none yet. A damaged pace.json is measured anew and replaced."""
    model = local_model(model)
    imports = _import_seconds() if "sentence_transformers" not in sys.modules else None  # before the key's torch
    path, key = cache_folder() / PACE_FILE, machine_key(model)
    kept = _kept_paces(path)
    if key not in kept or not kept[key].call_seconds:  # none, or kept before a call's cost was measured
        kept[key] = measure_pace(model, imports)
        _keep_paces(path, kept)
    return _learned(kept, key, work, settings)


def _learned(kept: dict[str, Pace], key: str, work: Work, settings: str = "") -> Pace:
    """What runs of `work` with `settings` taught the measurement kept under `key`. Before any has, what runs
    of `work` with any settings taught of the pace (not its share: where a training stops moves with its
    settings); else what runs of the work it starts like taught (STARTS_LIKE), else the measurement. What runs
    do not teach (a call's and a load's cost) is the measurement's."""
    measured = kept[key]
    if _learned_key(key, work, settings) in kept:
        learned = kept[_learned_key(key, work, settings)]
    elif settings and _learned_key(key, work) in kept:
        learned = replace(kept[_learned_key(key, work)], steps_share=None)
    elif work in STARTS_LIKE and _learned_key(key, STARTS_LIKE[work]) in kept:
        learned = replace(kept[_learned_key(key, STARTS_LIKE[work])], steps_share=None)
    else:
        return measured
    return replace(learned, call_seconds=measured.call_seconds, load_seconds=measured.load_seconds)


def _learned_key(key: str, work: Work, settings: str = "") -> str:
    """Where what runs of `work` (with `settings`) taught is kept, beside the measurement kept under `key`."""
    return f"{key}|{work}|{settings}" if settings else f"{key}|{work}"


def cache_folder() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "ragtune")


def learn_pace(
    model: str | None,
    work: Work,
    timed: Mapping[Component, Timed],
    steps_share: float | None = None,
    settings: str = "",
) -> None:
    """Move each component of the pace kept for `work` halfway (geometrically) towards what its phases
    showed in a finished run (`timed`: timing.Meter.timed, their estimated and actual seconds): a pace
    measured while other work held the machine, or a model that runs faster than its probe, corrects
    itself over the runs. A component whose phases took under MIN_LEARNING_SECONDS (a start: and were
    estimated to take), or ran more than MAX_CORRECTION times off their estimate (a stall, not a pace),
    teaches nothing; the others stay.
    `steps_share`, where given, is kept as the share of its steps the next such training is expected to run.
    A training's `settings` keep a pace of their own: the router's embedding at batch 16 and the seeds' recipe
    at batch 10 pulled one pace each their way (estimates 1.39 and 0.92 of what they took). What they teach
    of the pace is also taught to the work's pace for any settings, which a training with new ones starts from."""
    factors = {
        component: math.sqrt(seconds.ratio)
        for component, seconds in timed.items()
        if _timed_enough(component, seconds) and 1 / MAX_CORRECTION < seconds.ratio < MAX_CORRECTION
    }
    if not factors and steps_share is None:
        return
    model = local_model(model)
    path, key = cache_folder() / PACE_FILE, machine_key(model)
    kept = _kept_paces(path)
    if key in kept:
        before = {learnt: _learned(kept, key, work, learnt) for learnt in {settings, ""}}  # before either learns
        for learnt_settings, pace in before.items():
            for component, factor in factors.items():
                pace = pace.faster(component, factor)
            if learnt_settings == settings and steps_share is not None:
                pace = replace(pace, steps_share=steps_share)
            kept[_learned_key(key, work, learnt_settings)] = pace
        _keep_paces(path, kept)


def _timed_enough(component: Component, seconds: Timed) -> bool:
    """Whether a run's phases of `component` were long enough to teach its pace (MIN_LEARNING_SECONDS)."""
    said = seconds.estimated if component is Component.START else 0.0
    return max(seconds.actual, said) >= MIN_LEARNING_SECONDS


def _keep_paces(path: Path, kept: dict[str, Pace]) -> None:
    write_json(path, {k: asdict(pace) for k, pace in kept.items()}, indent=1)


def _kept_paces(path: Path) -> dict[str, Pace]:
    if not path.exists():
        return {}
    try:
        return read_json(path, "the machine's measured pace", dict[str, Pace])
    except FileContentError:
        return {}


def measure_pace(model: str | None = None, import_seconds: float | None = None) -> Pace:
    """Time the model's transformer on random tokens: forward batches (encoding in float32; scoring pairs
    and training steps in the precision cross-encoders and trainings compute in: store.models.mixed_precision),
    a forward pass of a few tokens, training steps, and a fresh process's start (`import_seconds`, timed here
    when not given, and loading the model)."""
    import_seconds = _import_seconds() if import_seconds is None else import_seconds
    import torch
    from transformers import AutoModel

    started = time.perf_counter()
    transformer = AutoModel.from_pretrained(transformer_folder(model))
    load_seconds = time.perf_counter() - started
    forward = _forward_tokens_per_second(transformer, PROBE_FORWARD_BATCH)
    call = _forward_seconds(transformer, 1, CALL_LENGTH)
    if cpu_bf16():  # pairs are scored in another precision than texts are encoded in
        with mixed_precision():
            pairs = _forward_tokens_per_second(transformer, PROBE_FORWARD_BATCH)
    else:
        pairs = forward
    freeze_word_embeddings(transformer)  # as every training does
    optimizer = torch.optim.AdamW([weight for weight in transformer.parameters() if weight.requires_grad], lr=1e-6)
    with mixed_precision():
        step = _seconds_per_call(lambda: _train_step(transformer, optimizer, 1, 8))
        train_seconds = _seconds_per_call(lambda: _train_step(transformer, optimizer, PROBE_TRAIN_BATCH, PROBE_LENGTH))
    train = PROBE_TRAIN_BATCH * PROBE_LENGTH / max(1e-6, train_seconds - step)
    return Pace(
        forward,
        train,
        step,
        import_seconds + load_seconds,
        pair_tokens_per_second=pairs,
        call_seconds=call,
        load_seconds=load_seconds,
    )


def _forward_tokens_per_second(transformer, batch: int) -> float:
    return batch * PROBE_LENGTH / _forward_seconds(transformer, batch, PROBE_LENGTH)


def _forward_seconds(transformer, batch: int, length: int) -> float:
    import torch

    ids = _random_ids(transformer, batch, length)
    transformer.eval()

    def forward():
        with torch.inference_mode():
            transformer(input_ids=ids, attention_mask=torch.ones_like(ids))

    return _seconds_per_call(forward)


def _train_step(transformer, optimizer, batch: int, length: int) -> None:
    import torch

    transformer.train()
    ids = _random_ids(transformer, batch, length)
    transformer(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state.mean().backward()
    optimizer.step()
    optimizer.zero_grad()


def _random_ids(transformer, batch: int, length: int):
    """Token ids of ordinary words (past the special tokens), within the model's vocabulary."""
    import torch

    vocabulary = transformer.config.vocab_size
    return torch.randint(min(1000, vocabulary // 2), min(20000, vocabulary), (batch, length))


def _seconds_per_call(call) -> float:
    """The fastest of a few timed calls after a warm-up: the machine's pace, not a passing hiccup."""
    call()
    times = []
    for _ in range(PROBE_REPEATS):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times)


def _import_seconds() -> float:
    """What a new process spends importing the libraries every model-loading process imports, and
    RAGTune's own command modules (the LLM client, PDF reading...: 4 s of a 2-core laptop's start, which
    runs taught every kind of work anew): the libraries timed here when this process has not imported
    them yet (it is about to), else in a fresh interpreter; RAGTune's always there, as this process has."""
    started = time.perf_counter()
    if "sentence_transformers" not in sys.modules:
        import sentence_transformers  # noqa: F401
    else:
        _import_in_a_new_process("sentence_transformers")
    return time.perf_counter() - started + _import_in_a_new_process("ragtune_core.cli")


def _import_in_a_new_process(module: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        check=False,
        capture_output=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    return time.perf_counter() - started


def _architecture(model: str | None) -> str:
    shape = json.loads((Path(transformer_folder(model)) / "config.json").read_text(encoding="utf-8"))
    described = [str(shape.get(k)) for k in ("model_type", "hidden_size", "num_hidden_layers", "intermediate_size")]
    return "arch=" + hashlib.sha256("/".join(described).encode()).hexdigest()[:12]


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "cpu"
