import pytest

from kb.core import markdown
from kb.core.errors import PageError


def targets(body):
    return [(l.target, l.heading, l.block, l.alias, l.embed, l.kind) for l in markdown.links(body)]


def test_wikilink_forms():
    body = "See [[Page]], [[Page|text]], [[Page#Heading]], [[Page#^block]], ![[image.png]] and ![[Note#Part|x]]."
    assert targets(body) == [
        ("Page", (), None, None, False, "wiki"),
        ("Page", (), None, "text", False, "wiki"),
        ("Page", ("Heading",), None, None, False, "wiki"),
        ("Page", (), "block", None, False, "wiki"),
        ("image.png", (), None, None, True, "wiki"),
        ("Note", ("Part",), None, "x", True, "wiki"),
    ]


def test_markdown_links_to_vault_files_count_urls_do_not():
    body = ("[a](notes/Other.md) [b](My%20Note.md#Sec) [c](https://example.com/x.md) "
            "[d](mailto:me@x.org) ![e](assets/pic.png) [f](#local)")
    got = targets(body)
    assert [t[0] for t in got] == ["notes/Other.md", "My Note.md", "assets/pic.png", ""]
    assert got[1][1] == ("Sec",)
    assert got[2][4] is True  # image is an embed


def test_links_in_code_are_not_links():
    body = "\n".join([
        "Inline `[[NotALink]]` code and a real [[Link]].",
        "",
        "```",
        "[[AlsoNot]] in a fence",
        "```",
        "",
        "    [[IndentedCode]]",
        "",
        "~~~python",
        "x = '[[Nope]]'",
        "~~~",
        "",
        "- a list item with [[InList]]",
        "> a quote with [[InQuote]]",
        "| table | [[InTable]] |",
    ])
    assert [l.target for l in markdown.links(body)] == ["Link", "InList", "InQuote", "InTable"]


def test_line_numbers_and_headings_and_blocks():
    parsed = markdown.parse("# Title\n\nIntro [[A]]\n\n## Second *part*\n\npara ^blk-1\n")
    assert parsed.headings == ["Title", "Second *part*"]
    assert parsed.blocks == {"blk-1"}
    assert parsed.links[0].line == 3


def test_frontmatter_roundtrip_and_errors():
    meta = {"title": "Ünïcode: yes", "tags": ["a", "b"], "sources": ["[[X]]"], "created": "2026-11-21"}
    text = markdown.join_frontmatter(meta, "# Body\n")
    again, body = markdown.split_frontmatter(text)
    assert again == meta and body == "# Body\n"
    assert markdown.split_frontmatter("no frontmatter\n") == ({}, "no frontmatter\n")
    with pytest.raises(PageError, match="invalid YAML"):
        markdown.split_frontmatter("---\ntitle: [unclosed\n---\nbody")
    with pytest.raises(PageError, match="never closed"):
        markdown.split_frontmatter("---\ntitle: x\nbody")
    with pytest.raises(PageError, match="mapping"):
        markdown.split_frontmatter("---\n- a\n- b\n---\nbody")


def test_brackets_that_are_not_links():
    assert markdown.links("[[ ]] and [[unclosed and [single] and [[a\nb]]") == []


@pytest.mark.parametrize("after", ["\n", "\n\n\n", "\n\r\n"])
def test_a_page_whose_frontmatter_does_not_parse_has_the_body_it_would_have_if_it_did(after):
    """Lint and the TUI's link graph both read such a page through after_frontmatter, so a link's
    line is the same in both, and the same as once the YAML is mended."""
    from kb.core.markdown import after_frontmatter, split_frontmatter
    sound, broken = f"---\ntitle: A\n---{after}Body [[B]]\n", f"---\ntitle: [A\n---{after}Body [[B]]\n"
    assert after_frontmatter(broken) == split_frontmatter(sound)[1]
    assert after_frontmatter("---\ntitle: [A\nno close\n") == "---\ntitle: [A\nno close\n"
