"""Every kind of background job, and the adapter the worker runs for each (`TASKS`).

An adapter turns a run's JSON parameters into a library call, and the call's progress into the
run's status and events (`ctx`, a worker.JobContext). Each imports its stage when it runs, so a
worker loads only what its task uses. The adapters live by stage: question_tasks.py (generation),
training_tasks.py (embeddings, cross-encoders, LLMs), comparison_tasks.py (evaluations, selector
comparisons), corpus_tasks.py (wiki pages); the runner's own test job is here. A kind's value is
stored in runs' spec.json and in the catalogue: rename an adapter freely, never a kind.
"""

from __future__ import annotations

import subprocess
import time

from ..runs import EventKind
from .comparison_tasks import run_evaluation_job, run_router_comparison_job
from .corpus_tasks import run_wiki_fetch_job
from .question_tasks import run_generation_job, run_router_job
from .runner import JobKind
from .training_tasks import run_cross_encoder_job, run_llm_finetune_job, run_training_job


def run_sleep_job(ctx, params: dict) -> dict:
    """Counts steps; optionally starts a grandchild (as dataloader or tokenizer pools do) or fails."""
    steps = int(params.get("steps", 10))
    if params.get("child_seconds"):
        child = subprocess.Popen(["sleep", str(params["child_seconds"])])
        ctx.emit(EventKind.CHILD, pid=child.pid)
    for step in range(1, steps + 1):
        time.sleep(float(params.get("seconds_per_step", 0.1)))
        ctx.emit(EventKind.STEP, step=step)
        ctx.progress(step, steps, f"step {step}/{steps}")
    if params.get("fail"):
        raise RuntimeError("asked to fail")
    return {"steps": steps}


TASKS = {
    JobKind.GENERATE_QUESTIONS: run_generation_job,
    JobKind.GENERATE_ROUTER_QUESTIONS: run_router_job,
    JobKind.TRAIN_EMBEDDING: run_training_job,
    JobKind.TRAIN_CROSS_ENCODER: run_cross_encoder_job,
    JobKind.TRAIN_LLM: run_llm_finetune_job,
    JobKind.EVALUATE: run_evaluation_job,
    JobKind.COMPARE_SELECTORS: run_router_comparison_job,
    JobKind.FETCH_WIKI_PAGES: run_wiki_fetch_job,
    JobKind.SLEEP: run_sleep_job,
}
