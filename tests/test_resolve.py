"""Link resolution against Obsidian's rules (a port of MetadataCache.getLinkpathDest)."""

import unicodedata

import pytest

from kb.core.links import LinkIndex
from kb.core.vault import Vault
from conftest import write

FILES = [
    "Home.md", "Same Name.md", "A Folder/Same Name.md", "A Folder/Sub/Same Name.md",
    "A Folder/Sub/Deep.md", "notes/Alpha.md", "notes/sub/Beta.md", "archive/old/deep/Beta.md",
    "raw/assets/diagram.png", "wiki/concepts/Attention.md", "wiki/concepts/Mixture of Experts.md",
    "wiki/sources/v1.2 release.md", "Café.md", ".obsidian/hidden.md", ".kb/state.md",
    "x/Gamma.md", "x/y/Gamma.md", "z/Gamma.md", "x/y/note.md", "z/note.md",
]

CASES = [
    # (linkpath, linking note, expected target)
    ("Home", "notes/Alpha.md", "Home.md"),                                  # unique name
    ("home", "notes/Alpha.md", "Home.md"),                                  # case-insensitive
    ("Home.md", "notes/Alpha.md", "Home.md"),                               # .md optional
    ("HOME.MD", "notes/Alpha.md", "Home.md"),
    ("Same Name", "A Folder/Sub/Deep.md", "Same Name.md"),                  # exact path first
    ("Same Name", "Home.md", "Same Name.md"),
    ("A Folder/Same Name", "notes/Alpha.md", "A Folder/Same Name.md"),      # vault-relative path
    ("a folder/same name.md", "notes/Alpha.md", "A Folder/Same Name.md"),
    ("Sub/Same Name", "A Folder/Sub/Deep.md", "A Folder/Sub/Same Name.md"),  # path suffix
    ("Sub/Same Name", "Home.md", "A Folder/Sub/Same Name.md"),
    ("/Same Name", "A Folder/Sub/Deep.md", "Same Name.md"),                 # leading / is the root
    ("/Sub/Same Name", "A Folder/Sub/Deep.md", None),                       # ...and nothing else
    ("./Same Name", "A Folder/Sub/Deep.md", "A Folder/Sub/Same Name.md"),   # relative to the note
    ("../Same Name", "A Folder/Sub/Deep.md", "A Folder/Same Name.md"),
    ("../../Same Name", "A Folder/Sub/Deep.md", "Same Name.md"),
    ("Beta", "Home.md", "notes/sub/Beta.md"),                               # shortest path
    ("Beta", "archive/old/x.md", "archive/old/deep/Beta.md"),               # note's folder wins
    ("Gamma", "x/y/note.md", "x/y/Gamma.md"),                               # ...over a shorter path
    ("Gamma", "z/note.md", "z/Gamma.md"),
    ("Gamma", "Home.md", "x/Gamma.md"),                                     # tie: alphabetical
    ("diagram.png", "wiki/concepts/Attention.md", "raw/assets/diagram.png"),  # attachments by name
    ("diagram", "wiki/concepts/Attention.md", None),                        # non-notes need the extension
    ("Mixture of Experts", "Home.md", "wiki/concepts/Mixture of Experts.md"),
    ("mixture OF experts", "Home.md", "wiki/concepts/Mixture of Experts.md"),
    ("concepts/Attention", "Home.md", "wiki/concepts/Attention.md"),
    ("wiki/concepts/Attention.md", "x/y/note.md", "wiki/concepts/Attention.md"),
    ("v1.2 release", "Home.md", "wiki/sources/v1.2 release.md"),            # a dot that is no extension
    (unicodedata.normalize("NFD", "Café"), "Home.md", "Café.md"),           # NFD spelling, one note
    ("hidden", "Home.md", None),                                            # dot-folders are invisible
    ("state", "Home.md", None),
    ("Missing", "Home.md", None),
    ("", "notes/Alpha.md", "notes/Alpha.md"),                               # [[#Heading]]: the note itself
    ("  Home  ", "notes/Alpha.md", "Home.md"),                              # surrounding spaces ignored
]


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    root = tmp_path_factory.mktemp("vault")
    (root / ".kb").mkdir()
    for rel in FILES:
        write(root, rel, "# x\n")
    return LinkIndex(Vault(root).files())


@pytest.mark.parametrize("linkpath,source,expected", CASES)
def test_resolution(index, linkpath, source, expected):
    assert index.resolve(linkpath, source) == expected


def test_table_is_big_enough():
    assert len(CASES) >= 25


def test_subpaths_are_checked_against_the_target(tmp_path):
    (tmp_path / ".kb").mkdir()
    write(tmp_path, "wiki/concepts/Attention.md",
          "# Attention\n\n## Overview\n\nText.\n\n### Scaled dot-product\n\nA quote. ^quote1\n\n- item ^item-2\n")
    write(tmp_path, "Home.md", "\n".join([
        "[[Attention#Scaled dot-product]]",          # ok
        "[[Attention#scaled DOT-product]]",          # ok: case-insensitive
        "[[Attention#Overview#Scaled dot-product]]",  # ok: heading chain in order
        "[[Attention#Scaled dot-product#Overview]]",  # broken: wrong order
        "[[Attention#Nope]]",                         # broken
        "[[Attention#^quote1]]",                      # ok
        "[[Attention#^item-2]]",                      # ok: block id on a list item
        "[[Attention#^nope]]",                        # broken
        "[[#Local]]",                                 # ok: own heading
        "[[#Elsewhere]]",                             # broken
        "",
        "## Local",
    ]))
    graph = Vault(tmp_path).graph()
    res = {r.link.target + r.link.subpath: r for r in graph.outlinks["Home.md"]}
    broken = sorted(k for k, r in res.items() if not r.ok)
    assert broken == ["#Elsewhere", "Attention#Nope", "Attention#Scaled dot-product#Overview", "Attention#^nope"]
    assert "no heading 'Nope'" in res["Attention#Nope"].problem
    assert graph.inbound("wiki/concepts/Attention.md") == {"Home.md"}
