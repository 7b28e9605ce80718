"""`compare-selectors` (match rates of router selectors on a router dataset, saved, with McNemar's test
between every two and a fine-tuned LLM's agreement with its teacher) and `route` (one query)."""

from __future__ import annotations

import argparse
import sys

from ..evaluation.retrieval import PARTS
from ..llm.config import key_rule
from ..reporting.headline import p_phrase
from ..reporting.history import recorded_comparison
from ..reporting.serving import finetuned_llms, teacher_agreements
from ..routing.compare import llm_routing_estimates, load_router_task, route_query
from ..routing.duration import describe_comparison, endpoint_paces, estimate_comparison, learn_from_comparison
from ..routing.llm_selector import BATCH_STATES, FinetunedLLM, batch_states_in
from ..routing.selectors import Choice
from ..routing.specs import SelectorSpec, llm_model_spec, load_selectors, untuned_llm_spec
from ..routing.stats import pairwise_mcnemar
from ..routing.tables import route_rows
from ..store.models import LLM
from ..store.workspace import Workspace, WorkspaceError
from ..timing.work import Meter
from ..training.cross_encoder import MODEL_KIND
from .cross_encoder import EMBEDDING_KIND, model_of_kind
from .errors import CommandFailed, UsageError
from .evaluate import BASE, PART_HELP, part_to_report
from .llm_flags import add_llm_flags, llm_config_from, refuse_unavailable_batch
from .progress import EtaPrinter, command_seconds


def register(subparsers) -> None:
    compare = subparsers.add_parser(
        "compare-selectors",
        help="match rates of router selectors (embedding, cross-encoder, LLM) on a router dataset",
        description=f"An LLM selector's API key comes from the environment: {key_rule()} (--llm-api-key-env). "
        "Without a key OpenAI's API cannot be used and the LLM selector is skipped. A selector whose "
        "every selection failed is reported under 'failed' with its first error, and the command "
        "then exits with status 2.",
    )
    compare.add_argument("dataset", metavar="DATASET", help="router dataset id or name")
    _add_selector_flags(compare)
    compare.add_argument(
        "--llm-batch",
        action="store_true",
        help="route through the LLM endpoint's Batch API (cheaper, results within 24 h); run again, "
        "a stopped comparison resumes its batch",
    )
    compare.add_argument("--part", choices=PARTS, help=PART_HELP)
    compare.set_defaults(handler=run_compare_selectors)

    route = subparsers.add_parser("route", help="each selector's pick for one query among a router dataset's tools")
    route.add_argument("dataset", metavar="DATASET", help="router dataset id or name (its tools are the choices)")
    route.add_argument("query", metavar="QUERY", help="the query to route")
    _add_selector_flags(route)
    route.set_defaults(handler=run_route)


def _add_selector_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--embedding",
        action="append",
        default=[],
        metavar="M",
        help=f"embedding selector: '{BASE}' (the bundled default), a workspace model's name or id, "
        "a folder or a Hub id (hf:owner/name); repeatable",
    )
    parser.add_argument(
        "--cross-encoder",
        action="append",
        default=[],
        metavar="M",
        help="cross-encoder selector: a workspace cross-encoder's name or id, a folder or a Hub id (hf:owner/name); "
        "repeatable",
    )
    parser.add_argument(
        "--finetuned-llm",
        action="append",
        default=[],
        metavar="NAME",
        help="fine-tuned LLM selector: a workspace LLM's name or id (from train-llm), trained on "
        "this dataset's tools; repeatable",
    )
    parser.add_argument(
        "--untuned-llm",
        action="append",
        default=[],
        metavar="M",
        help=f"a causal LM on this machine as it comes, the baseline of its fine-tunes: '{BASE}' "
        "(SmolLM2-135M-Instruct, offline), a folder or a Hub id (hf:owner/name); repeatable",
    )
    parser.add_argument("--llm-model", help="model of the LLM selector")
    add_llm_flags(parser, prefix="llm-", what="the LLM selector")


def selector_specs(ws: Workspace, args: argparse.Namespace, choices: list[Choice]) -> list[SelectorSpec]:
    """The selectors the flags name, labelled by model name, in the order embedding, cross-encoder,
    fine-tuned LLM, untuned LLM, LLM; a fine-tuned LLM that learned other tools than `choices` is refused here."""
    specs = []
    for name in args.embedding:
        model = model_of_kind(ws, name, EMBEDDING_KIND, "--embedding")
        specs.append(SelectorSpec(model.label, "embedding", model.path))
    for name in args.cross_encoder:
        model = model_of_kind(ws, name, MODEL_KIND, "--cross-encoder")
        specs.append(SelectorSpec(f"cross-encoder {model.label}", "cross_encoder", model.path))
    specs += [finetuned_llm_spec(ws, name, choices) for name in args.finetuned_llm]
    specs += [untuned_llm_spec(None if name == BASE else name) for name in args.untuned_llm]
    if args.llm_base_url and not args.llm_model:
        raise UsageError("--llm-model is required with --llm-base-url")
    if getattr(args, "llm_batch", False) and not args.llm_model:
        raise UsageError("--llm-batch needs --llm-model")
    if args.llm_model:
        config = llm_config_from(args, args.llm_model, prefix="llm-")
        refuse_unavailable_batch(config, "--llm-batch")
        specs.append(SelectorSpec(f"LLM {args.llm_model}", "llm", llm=config.to_public_dict(), api_key=config.api_key))
    if not specs:
        raise UsageError(
            "name at least one selector: --embedding, --cross-encoder, --finetuned-llm, --untuned-llm or --llm-model"
        )
    return specs


def finetuned_llm_spec(ws: Workspace, name: str, choices: list[Choice]) -> SelectorSpec:
    """A workspace fine-tuned LLM as a selector, labelled as the app labels it (its cost and teacher
    rows find it by that label); ValueError for an unknown name or another tool set."""
    try:
        record = ws.resolve("models", name)
    except WorkspaceError:
        known = ", ".join(m.name for m in ws.list_models(LLM)) or "none yet (train one with train-llm)"
        raise UsageError(
            f"--finetuned-llm {name!r}: no fine-tuned LLM of that name or id (the workspace has: {known})"
        ) from None
    if record.kind != LLM:
        raise UsageError(f"--finetuned-llm {name!r} is a workspace {record.kind} model, not a fine-tuned LLM")
    try:
        FinetunedLLM.load(record.path).check_choices(choices)
    except (OSError, ValueError) as exc:
        raise UsageError(f"--finetuned-llm {name!r}: {exc}") from None
    return llm_model_spec(record.name, record.path)


def run_compare_selectors(args: argparse.Namespace, ws: Workspace) -> dict:
    record = ws.resolve("datasets", args.dataset)
    part, note = part_to_report(ws, record.id, args.part)
    specs = selector_specs(ws, args, load_router_task(ws, record.id).choices)
    sets = [(record.name, load_router_task(ws, record.id, part))]
    estimate = estimate_comparison(sets, specs, endpoint_paces(ws, specs))
    _print_progress(0, 0, f"estimated: {describe_comparison(estimate, specs)}")
    for cost in llm_routing_estimates(ws, [(record.id, part)], specs):
        _print_progress(0, 0, cost)
    meter = Meter(estimate, EtaPrinter("compare-selectors"), command_seconds)
    with batch_states_in(ws.dir(*BATCH_STATES)):
        comparison = recorded_comparison(ws, record.id, specs, part, meter)
    learn_from_comparison(sets, specs, meter.timed_phases())
    total = len(comparison.queries)
    for report in comparison.reports:
        if report.failures:
            _print_progress(
                0,
                0,
                f"{report.name}: {report.failures} of {total} queries failed (counted as misses); "
                f"first error: {report.first_error}",
            )
    tests = pairwise_mcnemar(comparison)
    for test in tests:
        _print_progress(
            0,
            0,
            f"{test.a} vs {test.b}: right only by one {test.a_only} vs {test.b_only} queries, "
            f"{p_phrase(test.p_value)} ({test.method}): {test.verdict()}",
        )
    summary = {
        "comparison_id": comparison.comparison_id,
        "dataset_id": record.id,
        "dataset": record.name,
        "part": comparison.part,
        "queries": total,
        "tools": len(comparison.choices),
        "match_rates": {r.name: r.match_rate for r in comparison.reports},
        "failures": {r.name: r.failures for r in comparison.reports},
        "skipped": dict(comparison.skipped),
        "failed": dict(comparison.failed),
        "mcnemar": [test.to_dict() for test in tests],
        "teacher_agreement": {
            row.selector: row.to_dict() for row in teacher_agreements(ws, comparison, finetuned_llms(ws))
        },
        "estimated_seconds": round(estimate.seconds, 1),
        "seconds": round(command_seconds(), 1),
        **note,
    }
    if comparison.failed:
        raise CommandFailed(
            "; ".join(f"selector {label!r} failed on every query: {error}" for label, error in comparison.failed),
            summary,
        )
    return summary


def run_route(args: argparse.Namespace, ws: Workspace) -> dict:
    record = ws.resolve("datasets", args.dataset)
    choices = load_router_task(ws, record.id).choices
    selectors, skipped = load_selectors(selector_specs(ws, args, choices))
    routed = route_query(args.query, choices, selectors)
    return {
        "dataset_id": record.id,
        "dataset": record.name,
        "query": args.query,
        "picks": route_rows(routed, choices),
        "skipped": dict(skipped),
    }


def _print_progress(done: int, total: int, message: str) -> None:
    # Once per selector, on stderr: stdout carries only the JSON summary.
    print(f"compare-selectors: {message}", file=sys.stderr, flush=True)
