"""One exception hierarchy for every layer.

Front ends (the CLI, the TUI) catch `KbError` and render `str(error)` as a single line; the
`exit_code` tells the CLI what to return. Anything that is not a `KbError` is a bug.
"""


class KbError(Exception):
    """A failure the user can act on; its message is one line that says what to do."""

    exit_code = 1


class UsageError(KbError):
    """The command line itself is wrong."""

    exit_code = 2


class ConfigError(KbError):
    """`.kb/config.toml` or an environment override is invalid."""

    exit_code = 2


class VaultError(KbError):
    """No vault where one was expected, or its layout is damaged."""


class PageError(KbError):
    """A page cannot be read or written (bad frontmatter, I/O)."""


class PageEditedError(PageError):
    """kb was about to overwrite a page that a person edited since kb wrote it."""

    def __init__(self, path: str):
        super().__init__(f"{path} was edited by hand since kb wrote it; not overwriting it")
        self.path = path


class ModelError(KbError):
    """A model file is missing, corrupt or cannot be loaded."""


class EngineError(KbError):
    """A model call failed (server unreachable, bad reply, script exhausted)."""


class HistoryError(KbError):
    """The vault's git history cannot do what was asked (no git, nothing to undo, an edit in the way)."""
