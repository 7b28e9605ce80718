"""User errors are RagtuneErrors, shown as a message (CLI exit status 2); anything else is a bug and says so
(exit status 3)."""

import importlib
import inspect
import pkgutil

import pytest
from streamlit.testing.v1 import AppTest

import ragtune_core
from ragtune_core import cli
from ragtune_core.errors import RagtuneBug, RagtuneError
from ragtune_core.store import Workspace, WorkspaceError

# Exceptions that never reach a user as an error: control flow, and the bug wrapper itself.
NOT_USER_ERRORS = {"CommandFailed", "TrainingCancelled", "RagtuneBug"}


def _exception_classes():
    for module_info in pkgutil.walk_packages(ragtune_core.__path__, "ragtune_core."):
        if module_info.name.endswith("__main__"):
            continue
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, Exception) and value.__module__ == module.__name__:
                yield name, value


def test_every_public_error_class_is_a_ragtune_error():
    classes = dict(_exception_classes())
    assert {"WorkspaceError", "FileContentError", "RoutingError", "UsageError", "JobError"} <= set(classes)
    strays = [
        name
        for name, cls in classes.items()
        if not name.startswith("_") and name not in NOT_USER_ERRORS and not issubclass(cls, RagtuneError)
    ]
    assert strays == []
    assert "RouterError" not in classes  # one routing error, not twins
    assert issubclass(RagtuneError, ValueError) and not issubclass(RagtuneBug, ValueError)


def _models_command(tmp_path, monkeypatch, capsys, raised: Exception) -> tuple[int, str, str]:
    def list_models(self, *args, **kwargs):
        raise raised

    monkeypatch.setattr(Workspace, "list_models", list_models)
    code = cli.main(["--workspace", str(tmp_path / "ws"), "models"])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_user_error_exits_2_with_its_message(tmp_path, monkeypatch, capsys):
    code, out, err = _models_command(tmp_path, monkeypatch, capsys, WorkspaceError("the catalogue is damaged"))
    assert code == 2 and out == "" and err == "error: the catalogue is damaged\n"


@pytest.mark.fault(
    "A bug in RAGTune under a CLI command (an exception that is not a RagtuneError, e.g. a KeyError)",
    sees="exit 3 with one line: 'internal error (a bug in RAGTune, please report it)', the exception and where "
    "it was raised; RAGTUNE_DEBUG=1 adds the traceback",
    kept="whatever the command had not changed yet",
)
def test_a_bug_exits_3_saying_it_is_a_bug(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("RAGTUNE_DEBUG", raising=False)
    code, out, err = _models_command(tmp_path, monkeypatch, capsys, KeyError("model_name"))
    assert code == 3 and out == ""
    assert err.startswith("error: internal error (a bug in RAGTune, please report it): KeyError: 'model_name'")
    assert "test_errors.py" in err and "Traceback" not in err and err.count("\n") == 1


def test_a_bug_shows_its_traceback_with_ragtune_debug(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RAGTUNE_DEBUG", "1")
    code, _, err = _models_command(tmp_path, monkeypatch, capsys, KeyError("model_name"))
    assert code == 3 and "Traceback" in err and "a bug in RAGTune" in err


def _page_raising(raised_name: str) -> None:
    import streamlit as st

    from app_pages.widgets.errors import errors_shown
    from ragtune_core.store import WorkspaceError

    with errors_shown(stop=False):
        raise WorkspaceError("no corpus 'x'") if raised_name == "user error" else KeyError("model_name")
    st.write("the page goes on")


@pytest.mark.fault(
    "A bug in RAGTune on a page (an exception that is not a RagtuneError)",
    sees="the exception under 'internal error (a bug in RAGTune, please report it)', with its traceback; the "
    "rest of the page still shows",
    kept="whatever the page had not changed yet",
)
def test_a_page_shows_a_user_error_as_its_message_and_a_bug_as_a_bug():
    user_error = AppTest.from_function(_page_raising, args=("user error",)).run()
    assert [e.value for e in user_error.error] == ["no corpus 'x'"] and not user_error.exception
    bug = AppTest.from_function(_page_raising, args=("bug",)).run()
    assert bug.error == [] and len(bug.exception) == 1
    assert "internal error (a bug in RAGTune, please report it): KeyError: 'model_name'" in bug.exception[0].message
    assert bug.exception[0].stack_trace and bug.markdown[-1].value == "the page goes on"
