"""Widgets shared by the pages: the workspace, the job panel, pickers, LLM settings and charts.

Text a user or a document wrote (names, titles, questions, tool descriptions, an LLM's answer, an
error quoting any of them) goes into a Markdown element only through `literal`: Markdown in it
would otherwise load remote images (`![](http://host/beacon)` pings that host from every viewer's
browser), make links, or render HTML. Charts go through `chart`, which escapes the text of their
labels, legends, titles and hover boxes: Plotly renders tags in them (`<a href>` makes a link).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager

import pandas as pd
import plotly.express as px
import streamlit as st

from app_pages.basics import literal, workspace
from app_pages.llm_prices import batch_choice, price_settings
from app_pages.state import State
from ragtune_core import jobs
from ragtune_core.errors import RagtuneBug, RagtuneError, bug_message
from ragtune_core.llm import (
    API_KEY_ENV_VARS,
    BASE_URL_ENV_VARS,
    OPENAI_BASE_URL,
    LLMConfig,
    LLMConfigError,
    same_endpoint,
)
from ragtune_core.questions import GENERATORS
from ragtune_core.reporting.chart_text import escape_chart_text
from ragtune_core.routing import SelectorSpec, availability, untuned_llm_spec
from ragtune_core.runs import JobState
from ragtune_core.store import DEFAULT_BASE_MODEL
from ragtune_core.timing import clock
from ragtune_core.training.verdict import VERDICT

POLL_SECONDS = 1.0
log = logging.getLogger(__name__)
@contextmanager
def errors_shown(stop: bool = True):
    """Bad input and damaged workspace files (a RagtuneError: WorkspaceError, DatasetError, a file's
    content named by key...; an OSError naming a file) become an st.error saying what is wrong, never a
    traceback; any other exception is a bug in RAGTune, shown as one with its traceback. With `stop` the
    page ends there. The details go to the server's log."""
    try:
        yield
    except (RagtuneError, OSError) as exc:
        log.warning("shown to the user: %s", exc, exc_info=True)
        st.error(literal(exc), icon=":material/error:")
        if stop:
            st.stop()
    except Exception as exc:
        log.error("a bug, shown to the user: %s", exc, exc_info=True)
        st.exception(RagtuneBug(bug_message(exc)).with_traceback(exc.__traceback__))
        if stop:
            st.stop()


def when(timestamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp)) if timestamp else ""


# --- jobs -----------------------------------------------------------------------------------
def job_indicator() -> None:
    """A sidebar line per running job, so the user sees work in progress from any page."""
    for status in jobs.active_jobs(workspace()):
        st.caption(f":material/progress_activity: {literal(status.kind.replace('_', ' '))} · {status.fraction:.0%}")


def run_panel(kinds: Iterable[str], started: State, chart: Callable[[list[dict]], None] | None = None) -> str | None:
    """The job panel of the run this session started (its id under `started`), or else of the
    newest queued or running run of these kinds: a reload or another tab re-attaches to it. A
    damaged status or catalogue is named in an st.error; the page goes on. Returns the run shown."""
    run_id = None
    with errors_shown(stop=False):
        run_id = st.session_state.get(started) or _newest_active_run(kinds)
        if run_id:
            _job_panel(run_id, chart)
    return run_id


def _newest_active_run(kinds: Iterable[str]) -> str | None:
    active = [run for kind in kinds for run in workspace().list_runs(kind) if run.state in jobs.ACTIVE_STATES]
    return max(active, key=lambda run: run.created).id if active else None


def _job_panel(run_id: str, chart: Callable[[list[dict]], None] | None) -> None:
    """Progress, ETA, cancel (and stop keeping the best model, for a training) and an optional live
    chart of the run's events.

    Polls (st.fragment with run_every) only while the job is active; when it ends, the whole page
    reruns once so it can show the results.
    """
    status = jobs.read_status(workspace(), run_id)

    @st.fragment(run_every=POLL_SECONDS if status.is_active else None)
    def panel():
        with errors_shown(stop=False):  # the files may be damaged while the job runs
            current = jobs.read_status(workspace(), run_id)
            _render_status(current)
            if chart is not None:
                _chart_events(chart, jobs.read_events(workspace(), run_id))
            if status.is_active and not current.is_active:
                st.rerun()  # the job just ended: let the page show its results

    panel()


def _chart_events(chart: Callable[[list[dict]], None], events: list[dict]) -> None:
    """Chart the events; events that are well-formed lines but not what the chart reads (a field
    missing, of another type) are said in a warning instead of the chart."""
    try:
        chart(events)
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("events not charted: %r", exc, exc_info=True)
        st.warning(f"The run's events (events.jsonl) hold something this chart cannot read "
                   f"({literal(type(exc).__name__)}: {literal(exc)}); the chart is left out.")


def _render_status(status: jobs.JobStatus) -> None:
    label = f"{status.kind.replace('_', ' ')} · {status.state}"
    if status.is_active:
        detail = f"{status.done}/{status.total}" if status.total else "starting…"
        st.progress(status.fraction, text=f"{label} · {detail} · {literal(status.message)} · "
                    f"elapsed {clock(status.elapsed)} · ETA {clock(status.eta_seconds)}")
        _job_buttons(status)
    elif status.state == JobState.SUCCEEDED:  # a model no better than its start is said in a warning (VERDICT)
        (st.warning if status.result.get(VERDICT) else st.success)(f"{label} in {clock(status.elapsed)}. "
                                                                   f"{literal(status.message)}")
    elif status.state == JobState.CANCELLED:
        st.warning(f"{label}: cancelled by the user.")
    else:
        st.error(f"{label}: {literal(status.error or status.message)}")


def _job_buttons(status: jobs.JobStatus) -> None:
    """Cancel stops any job at once and keeps nothing; a training can also stop after its current
    step and keep its best model so far, registered (jobs.request_stop)."""
    cancel, stop = st.columns(2)
    if cancel.button("Cancel", key=f"cancel-{status.run_id}", icon=":material/stop_circle:",
                     help="Stop now; nothing is kept."):
        jobs.cancel_job(workspace(), status.run_id)
        st.rerun()
    if status.kind not in jobs.STOPPABLE_KINDS:
        return
    if jobs.stop_pending(workspace(), status):
        stop.caption("Stopping after the current step; the best model so far will be kept.")
    elif stop.button("Stop and keep best", key=f"stop-{status.run_id}", icon=":material/save:",
                     help="Stop after the current step and register the best model evaluated so far."):
        jobs.request_stop(workspace(), status.run_id)
        st.rerun()


def line_chart(events: list[dict], event: str, fields: list[str], title: str, x: str = "step") -> None:
    rows = [{x: e[x], **{f: e.get(f) for f in fields}} for e in events if e.get("event") == event]
    if not rows:
        return
    frame = pd.DataFrame(rows).melt(id_vars=x, var_name="series", value_name="value").dropna()
    figure = px.line(frame, x=x, y="value", color="series", title=title, markers=len(rows) < 30)
    figure.update_layout(height=300, margin=dict(l=10, r=10, t=40, b=10))
    chart(figure)


# --- charts ---------------------------------------------------------------------------------
def chart(figure, key: str | None = None) -> None:
    """Show a Plotly figure, every page's only way to: its text is escaped first (`escape_chart_text`).
    `key` tells apart two charts of the same figure on one page."""
    st.plotly_chart(escape_chart_text(figure), width="stretch", key=key)


# --- pickers --------------------------------------------------------------------------------
def pick(label: str, records: list, key: str, help: str | None = None):
    """A selectbox over workspace records, shown by name; None when there are none."""
    if not records:
        return None
    by_id = {r.id: r for r in records}
    chosen = st.selectbox(label, list(by_id), format_func=lambda i: by_id[i].name, key=key, help=help)
    return by_id.get(chosen)


def models_by_name(kind: str) -> dict[str, str | None]:
    """Workspace models of a kind by name; embedding models start with the bundled base (path None)."""
    base = {DEFAULT_BASE_MODEL: None} if kind == "embedding" else {}
    return base | {m.name: m.path for m in workspace().list_models(kind)}


def selector_picker(key: str, batch: bool = False):
    """Selectors to run: embedding models, cross-encoders and, when configured, an LLM (`batch`: with a
    Batch API toggle, for routing a whole dataset).

    Also offers the untuned local LLM, the baseline of its fine-tunes.

    Returns (chosen SelectorSpecs, the API key's env for a worker or None, the LLMConfig or None).
    """
    specs = [SelectorSpec(f"embedding · {name}", "embedding", path) for name, path in models_by_name("embedding").items()]
    specs += [SelectorSpec(f"cross-encoder · {name}", "cross_encoder", path)
              for name, path in models_by_name("cross_encoder").items()]
    specs += [SelectorSpec(f"fine-tuned LLM · {name}", "finetuned_llm", path) for name, path in models_by_name("llm").items()]
    defaults = [spec.label for spec in specs][:4]
    specs.append(untuned_llm_spec())  # the baseline a local LLM fine-tune is measured against: on request
    labels = {spec.label: spec for spec in specs}
    chosen = [labels[label] for label in st.multiselect("Selectors", list(labels), default=defaults, key=f"{key}-selectors")]
    config = None
    if st.toggle("Add an LLM selector (OpenAI-compatible)", key=f"{key}-use-llm"):
        config = llm_settings(f"{key}-llm")
        if config is not None and batch:

            config = batch_choice(config, f"{key}-llm")
        if config is not None:
            spec = SelectorSpec(f"LLM · {config.model}", "llm", llm=config.to_public_dict(), api_key=config.api_key)
            ready, reason = availability(spec)
            if ready:
                chosen.append(spec)
            else:
                st.warning(f"LLM selector unavailable: {literal(reason)}")
                config = None
    return chosen, config.secret_env() if config else None, config


# --- LLM ------------------------------------------------------------------------------------
def _secret(names: tuple[str, ...]) -> str | None:
    """The first of `names` set in the environment, else in .streamlit/secrets.toml."""
    for name in names:
        if os.environ.get(name, "").strip():
            return os.environ[name].strip()
    try:
        return next((str(st.secrets[name]).strip() for name in names if name in st.secrets), None)
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):
        return None


def server_llm() -> tuple[str, str | None]:
    """(the endpoint the server is configured for, the server's key or None): the environment's or
    .streamlit/secrets.toml's RAGTUNE_LLM_BASE_URL / OPENAI_BASE_URL (default: OpenAI's API) and
    RAGTUNE_LLM_API_KEY / OPENAI_API_KEY."""
    return _secret(BASE_URL_ENV_VARS) or OPENAI_BASE_URL, _secret(API_KEY_ENV_VARS)


def llm_settings(key: str, base_url: str | None = None, model: str | None = None) -> LLMConfig | None:
    """Base URL, model, API key, timeout, retries and prices of an OpenAI-compatible endpoint, or None if unusable.
    `base_url` and `model` are the fields' first values (default: the server's endpoint, $RAGTUNE_LLM_MODEL).

    The server's key goes only to the endpoint it is configured for: whoever can open the app must
    not collect it by typing a URL of their own. Another URL needs its key typed here; a typed key
    lives only in this browser session and is never written to the workspace or a log.
    """
    server_url, server_key = server_llm()
    base_url = st.text_input("Base URL", value=base_url or server_url, key=f"{key}-url",
                             help="Any OpenAI-compatible API: OpenAI, Azure OpenAI, Ollama, vLLM, LM Studio.")
    model = st.text_input("Model", value=model or os.environ.get("RAGTUNE_LLM_MODEL", "gpt-4o-mini"), key=f"{key}-model")
    own_endpoint = same_endpoint(base_url.strip() or None, server_url)
    usable_key = server_key if own_endpoint else None
    typed = st.text_input("API key", type="password", key=f"{key}-api-key",
                          placeholder="the server's key" if usable_key else "sk-… (none for a local server)",
                          help="Kept in this browser session only; never saved.")
    if server_key and not own_endpoint and not typed:
        st.caption("The server's API key is sent only to the endpoint it is configured for: type this "
                   "endpoint's key (a local server may need none).")
    defaults = LLMConfig.__dataclass_fields__
    with st.expander("Timeout and retries", icon=":material/timer:"):
        left, middle, right = st.columns(3)
        timeout = left.number_input("Timeout per request (s)", 1.0, 600.0, float(defaults["timeout"].default), 5.0,
                                    key=f"{key}-timeout", help="A request that takes longer is given up and tried "
                                    f"{defaults['timeout_retries'].default} more time.")
        first = middle.number_input("First answer within (s)", 1.0, 600.0,
                                    float(defaults["first_answer_timeout"].default), 5.0, key=f"{key}-first-timeout",
                                    help="The timeout while the endpoint has answered nothing yet: a hung server "
                                         "is given up in about twice this. Raise it for a server slow to start.")
        retries = right.number_input("Retries", 0, 10, int(defaults["max_retries"].default), key=f"{key}-retries",
                                     help="How often a request refused for now (429 rate limit, 5xx, a dropped "
                                          "connection) is tried again, with growing waits.")
    if not model.strip():
        return None
    try:
        config = LLMConfig(base_url=base_url.strip() or None, model=model.strip(), api_key=typed or usable_key,
                           timeout=float(timeout), first_answer_timeout=float(first), max_retries=int(retries))
    except LLMConfigError as exc:
        st.error(literal(exc))
        return None

    return price_settings(config, key)


# --- question generation: both forms of the Questions page ----------------------------------
def generator_settings(n_items: int, per_item: int, key: str) -> tuple[str, LLMConfig | None]:
    """The offline/LLM question generator choice with the LLM's settings; says what a run will ask for."""
    generator = st.radio("Generator", GENERATORS, horizontal=True, key=f"{key}-generator",
                         format_func={"offline": "Offline (no LLM, no key)", "llm": "LLM (OpenAI-compatible)"}.get,
                         help="The offline generator phrases questions from each chunk's key terms with templates. "
                              "An LLM writes more natural questions.")
    if generator == "offline":
        st.caption(f"Offline generator · about {n_items * per_item} questions.")
        return generator, None
    return generator, llm_settings(key)


def generate_button(kind: str, params: dict, name: str, config: LLMConfig | None) -> None:
    """Starts a question generation job; its panel then follows it (State.GENERATION_RUN)."""
    if st.button("Generate", type="primary", icon=":material/play_arrow:"):
        status = jobs.start_job(workspace(), kind, params, name=name, secret_env=config.secret_env() if config else None)
        st.session_state[State.GENERATION_RUN] = status.run_id
