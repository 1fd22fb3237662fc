"""The TUI's panes: the vault tree, a page with its links, the agent's trace, the status bar.

Widgets only show what they are given; the app reads the vault and runs the jobs."""

from __future__ import annotations

import re

from rich.markdown import Heading as RichHeading
from rich.markdown import Markdown as RichMarkdown
from rich.markup import escape
from rich.segment import Segment
from rich.style import Style as RichStyle
from rich.text import Text
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Label, OptionList, RichLog, Static, Tree

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
    """raw / sources / concepts / answers / reports, and a person's other notes. A big group gets
    its leaves when it is first opened (a tree node costs about 0.07 ms: 18,000 of them at start
    were most of a second); sources and concepts start open when they are small."""

    SMALL = 1000  # a group this size or smaller gets its leaves at once

    def process_label(self, label) -> Text:
        return Text(label) if isinstance(label, str) else label  # file names, never markup

    def show(self, files: list[str]) -> None:
        self.clear()
        self.root.expand()
        placed: set[str] = set()
        for label, prefix in GROUPS:
            group = [f for f in files if f.startswith(prefix) and not f.startswith(kinds.ASSETS)]
            self._group(f"{label} ({len(group)})", [(f[len(prefix):].removesuffix(".md"), f) for f in group],
                        prefix in (kinds.folder("source"), kinds.folder("concept")))
            placed.update(group)
        other = [f for f in files if f.endswith(".md") and f not in placed and not f.startswith(kinds.RAW)]
        if other:
            self._group(f"Notes ({len(other)})", [(f.removesuffix(".md"), f) for f in other], False)

    def _group(self, label: str, leaves: list[tuple[str, str]], open_: bool) -> None:
        node = self.root.add(label, data=Group(leaves))
        if len(leaves) <= self.SMALL:
            self.fill(node)
            if open_:
                node.expand()
        else:
            node.allow_expand = True

    def fill(self, node) -> None:
        """Give a group its leaves, once."""
        group = node.data
        if isinstance(group, Group) and not group.filled:
            group.filled = True
            for label, path in group.leaves:
                node.add_leaf(label, data=path)

    def _on_tree_node_expanded(self, event: Tree.NodeExpanded) -> None:
        self.fill(event.node)

    def leaf(self, path: str):
        """The node of a file, its group given its leaves first (None when the tree lacks it)."""
        for group in self.root.children:
            if isinstance(group.data, Group) and any(p == path for _, p in group.data.leaves):
                self.fill(group)
                return next((n for n in group.children if n.data == path), None)
        return None


class Group:
    """A tree group's leaves: (label, path), added to the tree when the group first opens."""

    def __init__(self, leaves: list[tuple[str, str]]):
        self.leaves = leaves
        self.filled = False


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
    and backlinks as a list to follow (Tab to it, arrows, Enter). Each is one widget however
    long the page and its lists: mounting a widget per block and per link was most of a page open."""

    def compose(self):
        yield Static("", id="page-title")
        with VerticalScroll(id="page-scroll"):
            yield PageBody(id="page-body")
        yield Label("Links (Enter follows) and backlinks", id="links-label")
        yield LinkList(id="page-links")

    def show(self, path: str, body: str, links: list[tuple[str, str]], backlinks: list[tuple[str, str]]) -> None:
        """`links` and `backlinks`: (path, what to call it), the title where the page has one."""
        self.query_one("#page-title", Static).update(styled("[b]$path[/b]", path=path))
        self.query_one(PageBody).show(body)
        self.query_one("#page-scroll", VerticalScroll).scroll_home(animate=False)
        self.list_links(links, backlinks)

    def list_links(self, links: list[tuple[str, str]], backlinks: list[tuple[str, str]]) -> None:
        self.query_one(LinkList).show([(t, f"→ {label}") for t, label in links]
                                      + [(s, f"← {label}") for s, label in backlinks])


class PageBody(Static):
    """A page's markdown, drawn by Rich in one widget; a link in it is clicked to follow it
    (`app.follow`). A very long page (the index of a big vault) is shown up to `MAX_CHARS`, cut
    at a line's end: Rich draws about 100 KB a second here, all of it before the first row shows."""

    MAX_CHARS = 12_000

    source = ""

    def show(self, body: str) -> None:
        if len(body) > self.MAX_CHARS:
            cut = body.rfind("\n", 0, self.MAX_CHARS) + 1 or self.MAX_CHARS
            more = body[cut:].count("\n") + 1
            body = body[:cut] + f"\n*… {more} more lines not shown here (`kb show` prints the whole page).*\n"
        self.source = to_markdown_links(body)
        self.update(_Clickable(_PageMarkdown(self.source, hyperlinks=True)))


class _Heading(RichHeading):
    LEVEL_ALIGN = {**RichHeading.LEVEL_ALIGN, "h1": "left"}


class _PageMarkdown(RichMarkdown):
    elements = {**RichMarkdown.elements, "heading_open": _Heading}


class _Clickable:
    """Rich's rendering with each link made a click on `app.follow(href)` (an action with its
    argument as data, so an href is never parsed as an action), not a terminal hyperlink."""

    def __init__(self, renderable):
        self.renderable = renderable

    def __rich_console__(self, console, options):
        for seg in console.render(self.renderable, options):
            style = seg.style
            if style is not None and style.link:
                seg = Segment(seg.text, style.update_link(None) + RichStyle(meta={"@click": ("app.follow", (style.link,))}))
            yield seg


class LinkList(OptionList):
    """A page's links then its backlinks: (path, line shown); Enter on one follows it."""

    targets: list[str] = []

    def show(self, items: list[tuple[str, str]]) -> None:
        self.targets = [t for t, _ in items]
        self.clear_options()
        self.add_options([plain(label) for _, label in items])
        if items:
            self.highlighted = 0  # Tab, Enter follows the first link

    def labels(self) -> list[str]:
        return [str(self.get_option_at_index(i).prompt) for i in range(self.option_count)]


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


def link_targets(resolved) -> list[tuple[str, str]]:
    """(target path, label) for every link that resolves (links.Resolved), once each, in page order."""
    out, seen = [], set()
    for r in resolved:
        if r.target and r.target not in seen:
            seen.add(r.target)
            out.append((r.target, r.link.alias or nfc(r.link.target).rsplit("/", 1)[-1] or r.target))
    return out
