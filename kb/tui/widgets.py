"""The TUI's panes: the vault tree, a page with its links, the agent's trace, the status bar.

Widgets only show what they are given; the app reads the vault and runs the jobs."""

from __future__ import annotations

import re

from rich.markup import escape
from rich.text import Text
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Label, ListItem, ListView, Markdown, RichLog, Static, Tree

from kb.agents.trace import Choice, Code, End, Event, Evidence, Llm, Output, Start, SubCall
from kb.core import kinds
from kb.core.links import nfc
from kb.core.markdown import WIKILINK

GROUPS = (("Raw sources", kinds.RAW), *((heading, prefix) for prefix, heading in kinds.KINDS.values()))


def plain(text: str) -> Content:
    """Text from the vault (a name, a title, a snippet, a job's line) as it is. Textual reads a
    str as markup, so `the [/i] tag` in a note crashed the search pane and `forum [draft].md`
    lost its `[draft]`: everything the vault says reaches a widget through here, or as a `$name`
    value of `styled`, never as markup."""
    return Content(str(text))


def styled(template: str, **values) -> Content:
    """kb's own markup with the vault's text put in as `$name` values, which are never parsed."""
    return Content.from_markup(template, **{k: str(v) for k, v in values.items()})


def snippet(text: str) -> Content:
    """A search snippet with its `**matched**` words in bold (the rest as it is)."""
    parts = re.split(r"\*\*(.+?)\*\*", text)
    return Content.assemble(*((part, "bold") if i % 2 else part for i, part in enumerate(parts) if part))


class VaultTree(Tree):
    """raw / sources / concepts / answers / reports, and a person's other notes."""

    def process_label(self, label) -> Text:
        return Text(label) if isinstance(label, str) else label  # file names, never markup

    def show(self, files: list[str]) -> None:
        self.clear()
        self.root.expand()
        placed: set[str] = set()
        for label, prefix in GROUPS:
            group = [f for f in files if f.startswith(prefix) and not f.startswith(kinds.ASSETS)]
            node = self.root.add(f"{label} ({len(group)})",
                                 expand=prefix in (kinds.folder("source"), kinds.folder("concept")))
            for f in group:
                node.add_leaf(f[len(prefix):].removesuffix(".md"), data=f)
            placed.update(group)
        other = [f for f in files if f.endswith(".md") and f not in placed and not f.startswith(kinds.RAW)]
        if other:
            node = self.root.add(f"Notes ({len(other)})")
            for f in other:
                node.add_leaf(f.removesuffix(".md"), data=f)


def to_markdown_links(body: str) -> str:
    """Wikilinks as markdown links the viewer can click (`kb:` + linkpath); embeds as their name."""
    def sub(m: re.Match) -> str:
        target, sub_, label = m["target"], m["subpath"], m["alias"]
        text = (label or (target.rsplit("/", 1)[-1] + sub_) or sub_).replace("]", "")
        href = "kb:" + target.replace(" ", "%20")
        return f"[{text}]({href})"
    return WIKILINK.sub(sub, body)


class PageView(Vertical):
    """A page rendered as markdown in a pane that scrolls by keyboard, then its outgoing links
    and backlinks as a list to follow (Tab to it, arrows, Enter)."""

    def compose(self):
        yield Static("", id="page-title")
        with VerticalScroll(id="page-scroll"):
            yield Markdown("", id="page-body", open_links=False)
        yield Label("Links (Enter follows) and backlinks", id="links-label")
        yield ListView(id="page-links")

    async def show(self, path: str, body: str, links: list[tuple[str, str]],
                   backlinks: list[tuple[str, str]]) -> None:
        """`links` and `backlinks`: (path, what to call it), the title where the page has one."""
        self.query_one("#page-title", Static).update(styled("[b]$path[/b]", path=path))
        await self.query_one("#page-body", Markdown).update(to_markdown_links(body))
        self.query_one("#page-scroll", VerticalScroll).scroll_home(animate=False)
        lv = self.query_one("#page-links", ListView)
        await lv.clear()
        items = [ListItem(Label(plain(f"→ {label}")), name=target) for target, label in links]
        items += [ListItem(Label(plain(f"← {label}")), name=source) for source, label in backlinks]
        if items:
            await lv.extend(items)
            lv.index = 0  # Tab, Enter follows the first link


class TraceView(RichLog):
    """The agent's REPL trace, one event at a time, as it happens."""

    def event(self, e: Event) -> None:
        if isinstance(e, Start):
            self.write(f"[b]task[/b] {str(e.task)[:200]}")
        elif isinstance(e, Llm):
            self.write(f"[cyan]model[/cyan] step {e.iteration}: {e.prompt_tokens} + "
                       f"{e.completion_tokens} tokens, {e.seconds} s")
        elif isinstance(e, Choice):
            args = "; ".join(f"{k}: {', '.join(v) if isinstance(v, list) else v}" for k, v in e.arguments.items() if v)
            self.write(f"[b]choice[/b] {e.action} ({escape(args)})" + (f" [dim]{escape(e.error)}[/dim]" if e.error else ""))
        elif isinstance(e, Code):
            self.write(f"[yellow]cell {e.iteration}.{e.cell}[/yellow]" + (" (written by kb)" if e.seeded else ""))
            for line in str(e.code).splitlines()[:30]:
                self.write("  " + escape(line))
        elif isinstance(e, Output):
            out = (str(e.output) + str(e.error or "")).strip()
            self.write(f"[green]output[/green] ({e.seconds} s): " + escape(out[:400].replace("\n", " | ")))
        elif isinstance(e, SubCall):
            place = f" {e.item}/{e.of}" if e.batch else ""
            self.write(f"[magenta]{e.fn}{place}[/magenta] {e.prompt_tokens} + {e.completion_tokens} tokens, "
                       f"{e.seconds:.1f} s: " + escape(str(e.output)[:120].replace("\n", " ")))
        elif isinstance(e, Evidence):
            held = "refused" if e.refused else f"{len(e.dropped)} sentence(s) left out" if e.dropped else "all found"
            self.write(f"[b]evidence[/b] {held}" + (f"; not in any text read: {escape(', '.join(e.missing))}"
                                                    if e.missing else "") + f"; cites {len(e.cited)} page(s)")
        elif isinstance(e, End):
            self.write(f"[b]end[/b] {e.status} after {e.iterations} steps, {e.tokens} tokens, {e.seconds} s")


class StatusBar(Static):
    """The model in use, its last measured speed, and the vault's health."""

    def show(self, model: str, tps: float | None, health: str) -> None:
        speed = f"{tps:.1f} tok/s" if tps else "speed: -"
        self.update(f" model: {model} · {speed} · {health}")


def link_targets(parsed_links, resolve) -> list[tuple[str, str]]:
    """(target path, label) for every link that resolves, once each, in page order."""
    out, seen = [], set()
    for link in parsed_links:
        target = resolve(link.target)
        if target and target not in seen:
            seen.add(target)
            out.append((target, link.alias or nfc(link.target).rsplit("/", 1)[-1] or target))
    return out
