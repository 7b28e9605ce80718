"""`compare-selectors` (match rates of router selectors on a router dataset, saved) and `route` (one query)."""

from __future__ import annotations

import argparse
import sys

from ..training.cross_encoder import MODEL_KIND
from ..evaluation.retrieval import PARTS
from ..llm.client import key_rule
from ..routing.compare import compare_selectors, load_router_task, route_query
from ..routing.specs import SelectorSpec, load_selectors
from ..routing.tables import route_rows
from ..store.workspace import Workspace
from .errors import CommandFailed
from .cross_encoder import EMBEDDING_KIND, model_of_kind
from .evaluate import BASE, default_part
from .llm_flags import add_llm_flags, llm_config_from


def register(subparsers) -> None:
    compare = subparsers.add_parser(
        "compare-selectors", help="match rates of router selectors (embedding, cross-encoder, LLM) on a router dataset",
        description=f"An LLM selector's API key comes from the environment: {key_rule()} (--llm-api-key-env). "
                    "Without a key OpenAI's API cannot be used and the LLM selector is skipped. A selector whose "
                    "every selection failed is reported under 'failed' with its first error, and the command "
                    "then exits with status 2.")
    compare.add_argument("dataset", metavar="DATASET", help="router dataset id or name")
    _add_selector_flags(compare)
    compare.add_argument("--part", choices=PARTS, help="which queries (default: val if the dataset is split, else all)")
    compare.set_defaults(handler=run_compare_selectors)

    route = subparsers.add_parser("route", help="each selector's pick for one query among a router dataset's tools")
    route.add_argument("dataset", metavar="DATASET", help="router dataset id or name (its tools are the choices)")
    route.add_argument("query", metavar="QUERY", help="the query to route")
    _add_selector_flags(route)
    route.set_defaults(handler=run_route)


def _add_selector_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--embedding", action="append", default=[], metavar="M",
                        help=f"embedding selector: '{BASE}' (the bundled default), a workspace model's name or id, "
                             "a folder or a Hub id; repeatable")
    parser.add_argument("--cross-encoder", action="append", default=[], metavar="M",
                        help="cross-encoder selector: a workspace cross-encoder's name or id, a folder or a Hub id; "
                             "repeatable")
    parser.add_argument("--llm-model", help="model of the LLM selector")
    add_llm_flags(parser, prefix="llm-", what="the LLM selector")


def selector_specs(ws: Workspace, args: argparse.Namespace) -> list[SelectorSpec]:
    """The selectors the flags name, labelled by model name, in the order embedding, cross-encoder, LLM."""
    specs = []
    for name in args.embedding:
        model = model_of_kind(ws, name, EMBEDDING_KIND, "--embedding")
        specs.append(SelectorSpec(model.label, "embedding", model.path))
    for name in args.cross_encoder:
        model = model_of_kind(ws, name, MODEL_KIND, "--cross-encoder")
        specs.append(SelectorSpec(f"cross-encoder {model.label}", "cross_encoder", model.path))
    if args.llm_base_url and not args.llm_model:
        raise ValueError("--llm-model is required with --llm-base-url")
    if args.llm_model:
        config = llm_config_from(args, args.llm_model, prefix="llm-")
        specs.append(SelectorSpec(f"LLM {args.llm_model}", "llm", llm=config.to_public_dict(), api_key=config.api_key))
    if not specs:
        raise ValueError("name at least one selector: --embedding, --cross-encoder or --llm-model")
    return specs


def run_compare_selectors(args: argparse.Namespace, ws: Workspace) -> dict:
    record = ws.resolve("datasets", args.dataset)
    part = default_part(ws, record.id, args.part)
    comparison = compare_selectors(ws, record.id, selector_specs(ws, args), part, on_progress=_print_progress)
    total = len(comparison.queries)
    for report in comparison.reports:
        if report.failures:
            _print_progress(0, 0, f"{report.name}: {report.failures} of {total} queries failed (counted as misses); "
                                  f"first error: {report.first_error}")
    summary = {"comparison_id": comparison.comparison_id, "dataset_id": record.id, "dataset": record.name,
               "part": comparison.part, "queries": total, "tools": len(comparison.choices),
               "match_rates": {r.name: r.match_rate for r in comparison.reports},
               "failures": {r.name: r.failures for r in comparison.reports},
               "skipped": dict(comparison.skipped), "failed": dict(comparison.failed)}
    if comparison.failed:
        raise CommandFailed("; ".join(f"selector {label!r} failed on every query: {error}"
                                      for label, error in comparison.failed), summary)
    return summary


def run_route(args: argparse.Namespace, ws: Workspace) -> dict:
    record = ws.resolve("datasets", args.dataset)
    choices = load_router_task(ws, record.id).choices
    selectors, skipped = load_selectors(selector_specs(ws, args))
    routed = route_query(args.query, choices, selectors)
    return {"dataset_id": record.id, "dataset": record.name, "query": args.query,
            "picks": route_rows(routed, choices), "skipped": dict(skipped)}


def _print_progress(done: int, total: int, message: str) -> None:
    # Once per selector, on stderr: stdout carries only the JSON summary.
    print(f"compare-selectors: {message}", file=sys.stderr, flush=True)
