"""The vault's vocabulary is written once (issue 12): one wikilink syntax, one folder <-> kind map,
one page filter, one frontmatter builder, one size limit, one `file_hash` / `current_hash`. These
tests read the source tree and fail when a second copy creeps back, naming where it is.

    wikilink syntax        kb/core/markdown.py   (the parser; OPEN/CLOSE/WL_* pieces, WIKILINK, wikilink_re)
    kinds and folders      kb/core/kinds.py      (KINDS, folder, folder_kind, RAW, ASSETS, CATALOGUES)
    page filter            kb/core/kinds.py      (is_page, conflict_path, CONFLICT_SUFFIX)
    temp file suffix       kb/core/kinds.py      (TEMP_SUFFIX: atomic writes, the watcher, the sweep)
    frontmatter            kb/core/pages.py      (frontmatter, FRONTMATTER)
    source size limits     kb/core/extract.py    (MAX_SOURCE_MB, MAX_READ_MB, limit)
    source hashes          kb/core/manifest.py   (file_hash, Manifest.current_hash)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from kb.core import kinds, markdown, pages

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIRS = ("kb", "agents", "tools")


def sources() -> dict[str, ast.Module]:
    out = {}
    for d in SOURCE_DIRS:
        for path in sorted((ROOT / d).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            out[rel] = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
    return out


SOURCES = sources()


def docstrings(tree: ast.Module) -> set[int]:
    """ids of the Constant nodes that are docstrings (prose may name anything)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def strings(tree: ast.Module):
    """(line, text) of every string literal in code, f-string parts included, docstrings not."""
    skip = docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            yield node.lineno, node.value


def found(predicate, allowed: tuple[str, ...]) -> list[str]:
    return [f"{rel}:{line}: {text!r}" for rel, tree in SOURCES.items() if rel not in allowed
            for line, text in strings(tree) if predicate(text)]


def test_the_scan_sees_the_tree():
    assert "kb/core/markdown.py" in SOURCES and "tools/search.py" in SOURCES and "agents/linter.py" in SOURCES


def test_one_wikilink_syntax():
    """A regex for `[[...]]` is built from kb/core/markdown.py's pieces, never spelled out again."""
    assert found(lambda s: "\\[\\[" in s or "\\]\\]" in s, ("kb/core/markdown.py",)) == []


def test_one_folder_kind_map():
    """Code names a kind's folder through kinds.folder() / KINDS, never as its own literal."""
    folders = {prefix for prefix, _ in kinds.KINDS.values()} | {p.rstrip("/") for p, _ in kinds.KINDS.values()}
    assert found(lambda s: s in folders, ("kb/core/kinds.py",)) == []


def test_one_page_filter():
    """Only kinds.py knows the name of kb's copy beside an edited page; everyone else asks is_page()."""
    assert found(lambda s: ".kb-new" in s, ("kb/core/kinds.py",)) == []


def test_one_temp_file_suffix():
    assert found(lambda s: "kb-tmp" in s, ("kb/core/kinds.py",)) == []


def test_one_frontmatter_builder():
    """A page's frontmatter comes from pages.frontmatter(): no other dict literal has both a title
    and a type."""
    out = []
    for rel, tree in SOURCES.items():
        if rel == "kb/core/pages.py":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
                if {"title", "type"} <= keys:
                    out.append(f"{rel}:{node.lineno}")
    assert out == []


def test_one_size_limit():
    """extract()'s max_bytes comes from kb/core/extract.py's limits, never a number at the call."""
    out = []
    for rel, tree in SOURCES.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "max_bytes" and isinstance(node.value, ast.Constant):
                out.append(f"{rel}:{node.value.lineno}: max_bytes={node.value.value!r}")
            if isinstance(node, ast.Constant) and node.value in (5_000_000, 20_000_000, 5.0 * 1e6) \
                    and rel != "kb/core/extract.py":
                out.append(f"{rel}:{node.lineno}: {node.value!r}")
    assert out == []


def test_one_file_hash_and_current_hash():
    """file_hash and current_hash are defined once, and only the manifest reads a recorded stamp
    (`entry.get("mtime_ns")`) to decide whether a source must be hashed again."""
    defs: dict[str, list[str]] = {}
    stamp_reads = []
    for rel, tree in SOURCES.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name in ("file_hash", "current_hash"):
                defs.setdefault(node.name, []).append(rel)
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
                    and node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value == "mtime_ns"
                    and rel != "kb/core/manifest.py"):
                stamp_reads.append(f"{rel}:{node.lineno}")
    assert defs == {"file_hash": ["kb/core/manifest.py"], "current_hash": ["kb/core/manifest.py"]}
    assert stamp_reads == []


# -- the definitions themselves ------------------------------------------------------------------

@pytest.mark.parametrize("text, groups", [
    ("[[a]]", ("", "a", "", None)),
    ("![[img.png|300]]", ("!", "img.png", "", "300")),
    ("[[Page#H1#H2|see]]", ("", "Page", "#H1#H2", "see")),
    ("[[#^block]]", ("", "", "#^block", None)),
])
def test_wikilink_regex_groups(text, groups):
    m = markdown.WIKILINK.fullmatch(text)
    assert m and (m["embed"], m["target"], m["subpath"], m["alias"]) == groups


def test_wikilink_regex_for_one_target_is_literal():
    pat = markdown.wikilink_re("wiki/sources/A (2)")
    assert pat.search("see [[wiki/sources/A (2)#x|A]]")["subpath"] == "#x"
    assert not pat.search("see [[wiki/sources/A 2]]")


def test_kinds_and_folders():
    assert kinds.PAGE_TYPES == ("source", "concept", "answer", "report")
    for kind in kinds.PAGE_TYPES:
        assert kinds.folder_kind(kinds.folder(kind) + "X.md") == kind
    assert kinds.folder_kind("notes/x.md") is None and kinds.folder_kind("raw/x.md") is None


def test_page_filter():
    assert kinds.is_page("wiki/concepts/Yeast.md") and kinds.is_page("notes/Garden.MD")
    assert not kinds.is_page(kinds.conflict_path("wiki/concepts/Yeast.md"))
    assert not kinds.is_page("raw/paper.pdf")


def test_frontmatter_order_and_extras():
    fm = pages.frontmatter("source", "T", description="d", sources=["[[raw/t.md|t.md]]"], raw="raw/t.md",
                           raw_hash="h", created="2020-01-02")
    assert list(fm) == ["title", "type", "aliases", "tags", "sources", "raw", "raw_hash", "description",
                        "created", "updated"]
    assert fm["tags"] == ["source"] and fm["created"] == "2020-01-02"
    deck = pages.frontmatter("answer", "Q", description="d", tags=["marp"], aliases=None, mode="rlm", model="m")
    assert "aliases" not in deck and deck["tags"] == ["answer", "marp"]
    assert list(deck)[-4:] == ["mode", "model", "created", "updated"]
    with pytest.raises(TypeError):
        pages.frontmatter("report", "R", description="d", titel="typo")
