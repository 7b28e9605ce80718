import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # bench/ and tests/ import as packages
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from ragtune_core.store.workspace import Workspace  # noqa: E402


@pytest.fixture
def workspace(tmp_path) -> Workspace:
    return Workspace(tmp_path / "workspace")


@pytest.fixture
def run_cli(workspace, capsys):
    """Run `python -m ragtune_core` on the test workspace: (exit code, stdout, stderr)."""
    from ragtune_core import cli

    def run(*argv: str) -> tuple[int, str, str]:
        code = cli.main(["--workspace", str(workspace.root), *argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
