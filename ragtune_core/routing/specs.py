"""Selectors named as plain data (`SelectorSpec`): what a job's parameters and the CLI carry."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Annotated

from ..llm.config import LLMConfig
from ..questions.router.tools import RoutingError
from ..store.llm_models import DEFAULT_LLM
from ..store.shapes import FILE_SHAPE, NOT_STORED, parse
from .llm_selector import HOSTED, FinetunedLLM, FinetunedLLMSelector, LLMSelector
from .local_llm_selector import LocalLLMSelector
from .selectors import CrossEncoderSelector, EmbeddingSelector, Selector

SELECTOR_KINDS = ("embedding", "cross_encoder", "llm", "finetuned_llm", "local_llm")


# --- selector specs ---------------------------------------------------------------------------
@dataclass
class SelectorSpec:
    __pydantic_config__ = FILE_SHAPE  # how from_dict checks plain data

    label: str  # the name the selector's results are shown and stored under
    kind: str  # one of SELECTOR_KINDS
    # A model folder or Hub id; None for an embedding or a local LLM: the bundled or offline default.
    path: str | None = None
    llm: dict | None = None  # public LLMConfig settings; the key comes from the environment
    # A key given with the settings (typed in the app, named by the CLI's --llm-api-key-env): kept in
    # memory only, never in to_dict; a worker gets its key through its environment instead.
    api_key: Annotated[str | None, NOT_STORED] = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.label, str) or not self.label.strip():
            raise RoutingError("a selector needs a label")
        where = f"selector {self.label!r}"
        if self.kind not in SELECTOR_KINDS:
            raise RoutingError(f"{where}: kind must be one of {', '.join(SELECTOR_KINDS)}, not {self.kind!r}")
        if self.path is not None and (not isinstance(self.path, str) or not self.path.strip()):
            raise RoutingError(f"{where}: path must be a model folder or Hub id")
        if self.kind == "cross_encoder" and self.path is None:
            raise RoutingError(
                f"{where}: a cross-encoder selector needs a trained cross-encoder "
                "(a workspace model's folder or a Hub id)"
            )
        if self.kind == "finetuned_llm" and self.path is None:
            raise RoutingError(f"{where}: a fine-tuned LLM selector needs the model's folder")
        if self.llm is not None and self.kind != "llm":
            raise RoutingError(f"{where}: LLM settings are only for an llm selector, not a {self.kind} one")
        try:
            self.llm_config()  # refuses a stored API key and unusable settings now, not in the worker
        except ValueError as exc:
            raise RoutingError(f"{where}: {exc}") from exc

    def llm_config(self) -> LLMConfig | None:
        if self.llm is None:
            return None
        config = LLMConfig.from_public_dict(self.llm)
        config.api_key = self.api_key
        return config

    def to_dict(self) -> dict:
        """The spec as plain data, without its key."""
        data = asdict(self)
        del data["api_key"]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> SelectorSpec:
        """A spec from plain data (a job's parameters, a saved comparison): its fields only, never a key."""
        label = data.get("label", "?") if isinstance(data, dict) else "?"
        return parse(cls, data, f"selector {label!r}", RoutingError)


def untuned_llm_spec(model: str | None = None) -> SelectorSpec:
    """A causal LM on this machine as it comes (None: the offline SmolLM2), the baseline of its fine-tunes."""
    return SelectorSpec(f"untuned LLM · {model or DEFAULT_LLM}", "local_llm", model)


def llm_model_spec(name: str, path: str) -> SelectorSpec:
    """A workspace's fine-tuned LLM (its name and folder) as a selector, under the label the selector picker,
    the CLI and the Compare page's cost and teacher rows (reporting.serving) know it by."""
    return SelectorSpec(f"fine-tuned LLM · {name}", "finetuned_llm", path)


def make_selector(spec: SelectorSpec) -> Selector:
    """The selector a spec names, named by its label; raises RoutingError for an unavailable LLM."""
    if spec.kind == "embedding":
        return EmbeddingSelector(spec.path, label=spec.label)
    if spec.kind == "cross_encoder":
        return CrossEncoderSelector(spec.path, label=spec.label)
    if spec.kind == "local_llm":  # untuned: the baseline of a local LLM fine-tune
        return LocalLLMSelector(spec.path, label=spec.label)
    usable, reason = availability(spec)
    if usable and spec.kind == "finetuned_llm":
        return FinetunedLLMSelector(spec.path, label=spec.label, api_key=spec.api_key)
    if not usable:
        raise RoutingError(f"selector {spec.label!r}: {reason}")
    selector = LLMSelector(spec.llm_config())
    selector.name = spec.label
    return selector


def availability(spec: SelectorSpec) -> tuple[bool, str]:
    """(usable, reason): local models always are; an LLM needs settings and, for OpenAI, a key."""
    if spec.kind == "finetuned_llm":
        try:
            model = FinetunedLLM.load(spec.path)
        except (OSError, ValueError) as exc:
            return False, f"the fine-tuned LLM cannot be read: {exc}"
        if model.where != HOSTED:
            return True, "a local model"
        return LLMSelector.availability(model.selector(spec.path, spec.api_key).config)
    if spec.kind != "llm":
        return True, "a local model"
    return LLMSelector.availability(spec.llm_config())


def check_specs(specs: list[SelectorSpec]) -> None:
    """At least one selector, each label used once (results are stored and shown by label)."""
    if not specs:
        raise RoutingError("choose at least one selector to compare")
    labels = [spec.label for spec in specs]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise RoutingError(f"selector label {repeated[0]!r} is used more than once: give each selector its own")


def load_selectors(specs: list[SelectorSpec]) -> tuple[list[Selector], list[tuple[str, str]]]:
    """(selectors that can run, [(label, reason)] of those skipped); every model is loaded here,
    so a name that does not load fails before any query is routed. Raises when none can run."""
    check_specs(specs)
    selectors, skipped = [], []
    for spec in specs:
        usable, reason = availability(spec)
        if usable:
            selectors.append(make_selector(spec))
        else:
            skipped.append((spec.label, reason))
    if not selectors:
        raise RoutingError("no selector can run: " + "; ".join(f"{label}: {why}" for label, why in skipped))
    return selectors, skipped
