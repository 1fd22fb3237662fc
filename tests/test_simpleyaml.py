"""kb/core/simpleyaml.py reads plain frontmatter without PyYAML: whatever it reads must read
exactly as PyYAML (the loader split_frontmatter uses) reads it, and what kb writes must take it."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kb.core import markdown, pages, simpleyaml

KEYS = ["title", "type", "tags", "up", "kb_hash", "a-b", "yes", "null", "on", "x y", "1", "_k", "Title"]
SCALARS = ["word", "Two words", "it's", "'quoted'", "'it''s'", "'bad'quote'", '"dq"', '"d\\"q"', "", " ", "~",
           "null", "yes", "No", "on", "true", "3", "-3", "+3", "0", "012", "0x1f", "1_000", "1.5", ".inf", "1e3",
           "2026-11-01", "2026-1-1", "2026-02-30", "2026-11-01 10:00:00", "C#", "a #b", "a: b", "a:b", "x:",
           "[[wiki/x|y]]", "'[[wiki/x|y]]'", "- a", "-a", "?", "&a", "*a", "!x", "|", ">", "%", "@a", "`a`",
           "[]", "[a, b]", "[a,b]", "[a, ]", "[ a ]", "[a, [b]]", "{}", "{a: b}", "[a: b]", "[a:b]", "[\"a\"]",
           "Café", "a\u00a0b", "tab\tx", "é ü", "<<", "=", "a  ", "  a"]
ITEMS = ["- a", "- 'x'", "  - a", " - a", "-", "- ", "- [a]", "- a: b", "- 2026-11-01", "- ~", "-a"]


@st.composite
def frontmatter(draw) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 6))):
        key, value = draw(st.sampled_from(KEYS)), draw(st.sampled_from(SCALARS))
        lines.append(f"{key}: {value}" if value or draw(st.booleans()) else f"{key}:")
        if not value:
            lines += draw(st.lists(st.sampled_from(ITEMS), max_size=3))
        if draw(st.integers(0, 9)) == 0:
            lines.append(draw(st.sampled_from(["", "# c", "  more", "key:value", "---x"])))
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n"]))


def pyyaml(raw: str):
    try:
        return yaml.load(raw, Loader=markdown._Loader)
    except (yaml.YAMLError, ValueError) as e:
        return type(e)


@settings(max_examples=4000, deadline=None)
@given(frontmatter())
def test_plain_frontmatter_reads_as_pyyaml_reads_it(raw):
    fast = simpleyaml.load(raw) if raw.strip() else None
    if fast is not None:
        assert repr(fast) == repr(pyyaml(raw)), raw  # types too: True is not 1, a date is not its string


def test_what_kb_writes_takes_the_plain_path():
    meta = pages.frontmatter("source", "Kimchi: at home", description="It's #1 — “quoted”", tags=["x"],
                             sources=["[[raw/kimchi.md|kimchi.md]]"], raw="raw/kimchi.md", raw_hash="0123abc")
    text = markdown.join_frontmatter({**meta, "kb_hash": "00ff"}, "# Body\n")
    raw = text.split("---\n")[1]
    assert repr(simpleyaml.load(raw)) == repr(pyyaml(raw))
    assert markdown.split_frontmatter(text)[0]["created"] == meta["created"]
