"""The app's .streamlit/config.toml: no stack traces for visitors, and a file watcher that walks no folder."""

import tomllib
from pathlib import Path

from streamlit import config as streamlit_config

CONFIG = Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml"


def test_visitors_see_a_short_message_not_a_stack_trace():
    shown = tomllib.loads(CONFIG.read_text())["client"]["showErrorDetails"]
    assert shown in ("none", "type")  # details go to the server's log only
    assert shown in {o.value for o in streamlit_config.ShowErrorDetailsConfigOptions}


def test_the_file_watcher_does_not_walk_the_virtualenv_or_the_workspace():
    server = tomllib.loads(CONFIG.read_text())["server"]
    # watchdog watches the folder of app.py recursively (.venv and workspace inside it): inotify overflows.
    assert server["fileWatcherType"] in ("poll", "none")
    assert {".venv", "workspace"} <= set(server["folderWatchBlacklist"])
