"""The one base of the errors a user can act on: bad input, a damaged file, a server that refuses.

Every stage's error class derives from `RagtuneError`, and this module imports nothing of the project,
so any stage may import it. The CLI and the pages show a RagtuneError's message as it is; any other
exception is a bug in RAGTune and says so. It is a ValueError too, as each stage's error always was.
"""


class RagtuneError(ValueError):
    """An error the user can fix; the message names the file, field or setting and what is wrong."""


class RagtuneBug(Exception):
    """Any other exception, as the pages show it: its words say it is a bug, its traceback is the original's."""


def bug_message(exc: BaseException) -> str:
    """How the CLI and the pages name an exception that is not a RagtuneError: a bug, to be reported."""
    return f"internal error (a bug in RAGTune, please report it): {type(exc).__name__}: {exc}"
