"""The installed `ragtune` command (pyproject.toml's console script) and `python -m ragtune_core`
both start the CLI: `--help` exits 0 and lists every command."""

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ragtune_core.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
# The commands the walk-through of docs/tour.md ("Command line") goes through.
TOUR_COMMANDS = (
    "ingest",
    "generate",
    "train",
    "stop",
    "evaluate",
    "router-dataset",
    "train-cross-encoder",
    "compare-selectors",
    "route",
    "report",
)


def parser_commands() -> list[str]:
    subparsers = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return list(subparsers.choices)


def console_script() -> Path | None:
    """The `ragtune` script beside this interpreter, where `pip install -e .` put it (None: not installed)."""
    script = Path(sys.executable).parent / ("ragtune.exe" if os.name == "nt" else "ragtune")
    return script if script.exists() else None


def help_output(command: list[str]) -> str:
    result = subprocess.run(
        [*command, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def assert_lists_every_command(text: str) -> None:
    assert text.startswith("usage: ")
    # "    train-llm (llm-finetune)   help...": a command, then its aliases in brackets
    listed = {
        name
        for command, aliases in re.findall(r"^    (\S+)(?: \(([^)]*)\))?", text, re.MULTILINE)
        for name in (command, *filter(None, aliases.split(", ")))
    }
    assert set(TOUR_COMMANDS) <= set(parser_commands())
    assert set(parser_commands()) <= listed


def test_the_tour_walks_through_its_commands():
    walked = set(re.findall(r"^ragtune (\S+)", (ROOT / "docs" / "tour.md").read_text(), re.MULTILINE))
    assert set(TOUR_COMMANDS) <= walked


def test_python_dash_m_ragtune_core_lists_every_command():
    assert_lists_every_command(help_output([sys.executable, "-m", "ragtune_core"]))


def test_the_ragtune_console_script_lists_every_command():
    script = console_script()
    if script is None:
        pytest.skip("the project is not installed in this interpreter's environment (make test runs pip install -e .)")
    assert_lists_every_command(help_output([str(script)]))


def test_the_console_script_exits_with_main_s_status(tmp_path):
    script = console_script()
    if script is None:
        pytest.skip("the project is not installed in this interpreter's environment")
    result = subprocess.run(
        [
            str(script),
            "--workspace",
            str(tmp_path),
            "export-dataset",
            "no-such-dataset",
            "--out",
            str(tmp_path / "out.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, (result.stdout, result.stderr)  # main() returned 2: the handler refused
    assert result.stderr.startswith("error: ") and "no-such-dataset" in result.stderr
