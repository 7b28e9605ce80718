"""Every stage package's public names import, and importing a stage stays light: pages and the CLI
import the core at start-up, so torch and Streamlit load only where a model or a page needs them."""

import importlib
import subprocess
import sys

import pytest

STAGES = ("store", "corpus", "llm", "questions", "questions.router", "routing", "training", "evaluation", "jobs", "cli")


@pytest.mark.parametrize("stage", STAGES)
def test_every_public_name_imports(stage):
    package = importlib.import_module(f"ragtune_core.{stage}")
    missing = [name for name in getattr(package, "__all__", []) if not hasattr(package, name)]
    assert not missing


@pytest.mark.parametrize("stage", STAGES)
def test_importing_a_stage_loads_neither_torch_nor_streamlit(stage):
    code = (
        f"import sys, ragtune_core.{stage}; "
        "print(sorted(m for m in ('torch', 'streamlit', 'sentence_transformers') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"
