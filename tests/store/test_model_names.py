"""Model names: a typo is named as unknown, with the models that exist; the Hub is asked only for a
name marked as a Hub id (hf:owner/name) or with Hub names switched on (store.models.hub_id)."""

import pytest

from ragtune_core.questions.qa_dataset import QADataset, save_dataset
from ragtune_core.store.llm_models import resolve_base_model
from ragtune_core.store.models import HUB_MODELS_ENV, ModelNotFound, bundled_model_path, resolve_model


@pytest.fixture(autouse=True)
def hub_names_off(monkeypatch):
    monkeypatch.delenv(HUB_MODELS_ENV, raising=False)


@pytest.mark.fault(
    "ragtune evaluate --model with a name that is no model (a typo, does-not-exist)",
    sees="exit 2: unknown model, with the workspace's models and how to name a Hub model (hf:owner/name); "
    "the Hub is not asked",
    kept="the workspace; no report is saved",
)
def test_an_unknown_model_name_is_named_with_the_models_that_exist(workspace, run_cli, monkeypatch):
    import huggingface_hub

    def no_hub(*args, **kwargs):
        raise AssertionError("the Hub was asked")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_hub)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_hub)
    save_dataset(workspace, "qa", QADataset({"q": "Which?"}, {"p": "This."}, {"q": ["p"]}), None, {})
    workspace.register_model("cities-minilm", "embedding", workspace.model_dir("cities-minilm"), "base")
    code, out, err = run_cli("evaluate", "qa", "--model", "does-not-exist")
    assert (code, out) == (2, "")
    assert "unknown model 'does-not-exist'" in err and "base, cities-minilm" in err and "hf:owner/name" in err
    assert "huggingface.co" not in err and "internet" not in err and "Traceback" not in err
    assert list(workspace.dir("evaluations").iterdir()) == []


def test_only_a_marked_name_or_the_switch_makes_a_hub_id(monkeypatch, tmp_path):
    assert resolve_model("hf:acme/encoder") == "acme/encoder"
    for name in ("acme/encoder", "typo"):
        with pytest.raises(ModelNotFound, match=f"unknown model '{name}'"):
            resolve_model(name)
    monkeypatch.setenv(HUB_MODELS_ENV, "1")
    assert resolve_model("acme/encoder") == "acme/encoder"
    with pytest.raises(ModelNotFound, match="unknown model 'typo'"):
        resolve_model("typo")  # not of the form owner/name: never a Hub id
    assert resolve_model(str(tmp_path)) == str(tmp_path.resolve())


@pytest.mark.skipif(bundled_model_path() is None, reason="needs the bundled model")
def test_the_bundled_model_answers_to_its_names_marked_or_not():
    bundled = str(bundled_model_path())
    assert {
        resolve_model(n)
        for n in (None, "sentence-transformers/all-MiniLM-L6-v2", "hf:sentence-transformers/all-MiniLM-L6-v2")
    } == {bundled}


def test_an_unknown_base_llm_is_named_not_sent_to_the_hub():
    with pytest.raises(ModelNotFound, match="unknown model 'SmolLM-typo'"):
        resolve_base_model("SmolLM-typo")
    assert resolve_base_model("hf:HuggingFaceTB/SmolLM2-135M-Instruct") == "HuggingFaceTB/SmolLM2-135M-Instruct"
