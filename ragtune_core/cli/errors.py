"""How a command reports options it cannot use, or a failure after doing its work (see `ragtune_core.cli.main`)."""

from ..errors import RagtuneError


class UsageError(RagtuneError):
    """Options that cannot go together, or that name nothing there is; the message names the option."""


class CommandFailed(Exception):
    """Raised by a handler whose work is done (its summary worth printing) but failed in part:
    main prints the summary on stdout, the message on stderr, and exits with status 2."""

    def __init__(self, message: str, summary: dict):
        super().__init__(message)
        self.summary = summary
