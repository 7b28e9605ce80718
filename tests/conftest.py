import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # bench/ and tests/ import as packages
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The machine's measured pace (timing.pace) is kept for the session, not in the user's cache folder.
os.environ.setdefault("RAGTUNE_CACHE", tempfile.mkdtemp(prefix="ragtune-test-cache-"))

from ragtune_core.store.workspace import Workspace  # noqa: E402
from tests.fake_pace import MEASURED_PACE  # noqa: E402


@pytest.fixture(autouse=True)
def own_corpus_vectors(tmp_path, monkeypatch):
    """Each test encodes its corpora anew: vectors an earlier test kept (evaluation.corpus_vectors) would
    change what it sees, its progress and its encoder's calls."""
    from ragtune_core.evaluation import corpus_vectors

    monkeypatch.setattr(corpus_vectors, "vectors_folder", lambda: tmp_path / "corpus-vectors")


@pytest.fixture
def workspace(tmp_path) -> Workspace:
    return Workspace(tmp_path / "workspace")


@pytest.fixture
def kept_pace(tmp_path, monkeypatch) -> Path:
    """MEASURED_PACE kept as this machine's measurement in a pace.json of its own (its path), under a
    machine key that needs no torch."""
    from ragtune_core.timing import pace

    monkeypatch.setenv(pace.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(pace, "machine_key", lambda model: "this machine")
    monkeypatch.setattr(pace, "measure_pace", lambda model, imports=None: MEASURED_PACE)
    return tmp_path / pace.PACE_FILE


@pytest.fixture
def run_cli(workspace, capsys):
    """Run `python -m ragtune_core` on the test workspace: (exit code, stdout, stderr)."""
    from ragtune_core import cli

    def run(*argv: str) -> tuple[int, str, str]:
        code = cli.main(["--workspace", str(workspace.root), *argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture
def plain_llm_environment(monkeypatch):
    """No server key, endpoint or allow-list from the machine running the tests; no job key adopted."""
    from ragtune_core import llm
    from ragtune_core.llm import config as llm_config
    from ragtune_core.llm.config import JOB_API_KEY_ENV
    from ragtune_core.network import ALLOWED_HOSTS_ENV

    for name in (*llm.API_KEY_ENV_VARS, *llm.BASE_URL_ENV_VARS, ALLOWED_HOSTS_ENV, JOB_API_KEY_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(llm_config, "_job_key", None)


@pytest.fixture
def wiki(monkeypatch):
    """A stand-in MediaWiki API on 127.0.0.1 (tests/corpus/test_mediawiki.py), reached without the
    machine's proxies: a worker process builds its own session, which would use them."""
    from tests.corpus.test_mediawiki import FakeWiki

    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    server = FakeWiki()
    yield server
    server.close()
