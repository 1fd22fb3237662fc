"""kb/core/simplemd.py reads plain pages without markdown-it: whatever it reads must read exactly
as markdown-it reads it (links and their lines, headings, block ids, which sections are empty),
and the pages kb writes must be plain enough to take that path."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kb.core import markdown, pages, simplemd
from kb.lint.checks import empty_sections

PREFIXES = ["", "", "", "- ", "- ", "> ", "  > ", "# ", "## ", "###### ", "####### ", "#", "#tag ", ">", "> ",
            "  ", "    ", "* ", "+ ", "1. ", "2) ", "10. ", "-", "---", "===", "***", "___", "```", "~~~",
            "<div>", "| a | b |", "[ref]: /u.md", " - ", "-  ", ">  ", ">> ", "- > ", "- # ", "  - ", "- [ ] "]
FRAGMENTS = ["word", "two words", " ", "  ", "[[A]]", "[[B|b]]", "![[img.png]]", "[[A#H]]", "[[A#H#I]]",
             "[[A#^id]]", "[[", "]]", "[", "]", "!", "![", "[[[x]]", "[[x]]]", "[[ ]]", "[[a|]]", "^blk",
             " ^blk-1", "`", "<", "\\", "](x.md)", "[t](y.md)", "[ref]", "*", "_", "&amp;", "#", " #", "|",
             "“q”", ":", "3", "\u00a0", "\u2028", "=", "-", ">", "[[A]]:", "[[x", "y]]"]

# mostly what the plain reading takes: its containers in every order, lazy lines, links and block ids
PLAIN_PREFIXES = ["", "", "- ", "- ", "> ", "  > ", "  > ", "# ", "## ", ">", "> "]
PLAIN_FRAGMENTS = ["word", "two words", "[[A]]", "[[B|b]]", "![[i.png]]", "[[A#^id]]", " ^blk", "[[", "]]", "x  "]


def lines(prefixes: list[str], fragments: list[str], size: int):
    line = st.tuples(st.sampled_from(prefixes), st.lists(st.sampled_from(fragments), max_size=size)).map(
        lambda t: t[0] + "".join(t[1]))
    return st.lists(line | st.just(""), max_size=14).map("\n".join)


page = lines(PREFIXES, FRAGMENTS, 5) | lines(PLAIN_PREFIXES, PLAIN_FRAGMENTS, 3)


def same(body: str, meta: dict | None = None) -> bool:
    """True when the plain reading was taken (and matched markdown-it's)."""
    fast = simplemd.read(body, meta)
    if fast is None:
        return False
    tokens = markdown.parser().parse(body)
    assert fast.parsed == markdown.parse(body, tokens, meta), body  # links (with lines), headings, block ids
    assert fast.outline == simplemd.outline(tokens), body
    assert empty_sections(body) == empty_sections(body, tokens), body
    return True


@settings(max_examples=3000, deadline=None)
@given(page)
def test_plain_reading_matches_markdown_it(body):
    same(body)


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=8).map("".join))
def test_property_values_read_as_markdown_it_reads_them(value):
    fast = simplemd.inline(value)
    if fast is not None:
        full = [c for tok in markdown.parser().parseInline(value) for c in tok.children or ()]
        assert fast == [c.meta for c in full if c.type == "wikilink"]
        assert not [c for c in full if c.type in ("link_open", "image")]


def test_the_shapes_kb_writes_take_the_plain_path():
    src = pages.source_page("wiki/sources/S.md", title="S", raw="raw/s.md", raw_hash="ab", meta={"author": "A"},
                            summary="It says 5 things.\nOver two lines.", key_points=["One [[x]] point", "Two"],
                            figures=["It ran for 3 days."], concepts=[("wiki/concepts/C.md", "C", "a claim")],
                            images=["raw/assets/a.png"])
    concept = pages.concept_page("wiki/concepts/C.md", title="C", aliases=[], related=[("wiki/concepts/D.md", "D")],
                                 claims=[("wiki/sources/S.md", "S", "A claim", "A quote ^q1"),
                                         ("wiki/sources/T.md", "T", "Another", None)])
    index = pages.index_page([("wiki/sources/S.md", "S", "It says"), ("wiki/concepts/C.md", "C", "")])
    log = "# Log\n\nAppend-only record.\n\n## [2026-01-02] ingest | S\n\n## [2026-01-02] lint | 0 errors\n"
    for body in (src.body, concept.body, index.body, log, "# T\n\n- a\n\n  > q\n\n- b\n> c\nlazy\n"):
        assert same(body), body
    assert same(concept.body, concept.meta)  # its `sources` property links too


def test_what_markdown_it_must_read():
    for body in ("Inline `[[A]]` code", "    [[Indented]]", "[a](b.md)", "Title\n===", "# C#", "<b>x</b>",
                 "- a\n  continued", "1. one", "\tTab", "[ref]: /x.md"):
        assert simplemd.read(body) is None, body
        assert markdown.parse(body) == markdown.parse(body, markdown.parser().parse(body))


def test_the_parser_rules_it_was_written_for():
    """simplemd mirrors these rules; a rule enabled or added (tables, linkify) must be mirrored there too."""
    md = markdown.parser()
    assert md.block.ruler.get_active_rules() == ["code", "fence", "blockquote", "hr", "list", "reference",
                                                 "html_block", "heading", "lheading", "paragraph"]
    assert md.inline.ruler.get_active_rules() == ["text", "newline", "escape", "backticks", "emphasis",
                                                  "wikilink", "link", "image", "autolink", "html_inline", "entity"]
