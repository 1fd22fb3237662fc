"""The help screen: every key binding, and how to follow links with the keyboard."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

TIPS = """
[b]Pages[/b]  pick a page in the tree (arrows, Enter). Its links and backlinks are listed under it:
Tab to the list, arrows, Enter follows a link; Backspace goes back. Links in the text can be clicked.
[b]Search[/b]  results update as you type; Enter on a result opens it.
[b]Ask[/b]  the answer appears on the left, the agent's REPL trace (cells, outputs, sub-calls,
tokens, time) on the right as it runs.
[b]Jobs[/b]  compile, lint and reindex show progress and a log; the watcher compiles files as they
land in raw/ (w again stops it; its queue is kept).
"""


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape", "dismiss", "Close"), Binding("question_mark", "dismiss", "Close"),
                Binding("q", "dismiss", "Close")]

    def __init__(self, bindings: list[Binding]):
        super().__init__()
        self.keys = bindings

    def compose(self) -> ComposeResult:
        rows = "\n".join(f"  [b]{b.key.replace('question_mark', '?').replace('slash', '/'):<10}[/b] {b.description}"
                         for b in self.keys)
        with Vertical(id="help"):
            yield Static("[b]kb: keys[/b]\n\n" + rows + "\n" + TIPS + "\nEsc closes this screen.")
