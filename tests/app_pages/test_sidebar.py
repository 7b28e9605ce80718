"""The sidebar names the workspace's folder as the user would type it, not as an absolute path."""

from pathlib import Path

from app_pages.widgets.sidebar import readable_path

CWD, HOME = Path("/home/ada/projects/rag"), Path("/home/ada")


def test_a_workspace_under_the_current_directory_is_relative_to_it():
    assert readable_path(CWD / "workspace", CWD, HOME) == "workspace"
    assert readable_path(CWD, CWD, HOME) == "."


def test_a_workspace_elsewhere_under_home_starts_with_a_tilde():
    assert readable_path(HOME / "ragtune" / "ws", CWD, HOME) == "~/ragtune/ws"
    assert readable_path(HOME, CWD, HOME) == "~"


def test_any_other_workspace_is_absolute():
    assert readable_path(Path("/tmp/pytest-7/ws"), CWD, HOME) == "/tmp/pytest-7/ws"
    assert readable_path(Path("/home/bob/ws"), CWD, HOME) == "/home/bob/ws"  # another user's home


def test_a_root_directory_is_neither_the_current_directory_nor_home():
    """A server started from / (a service), or a user whose home is /: no "tmp/ws" that reads as relative."""
    assert readable_path(Path("/tmp/ws"), Path("/"), Path("/")) == "/tmp/ws"


def test_the_current_directory_and_home_default_to_this_process_s(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path.parent))
    assert readable_path(tmp_path.resolve() / "ws") == "ws"
    assert readable_path(tmp_path.parent.resolve() / "other") == "~/other"
