"""The vault's vocabulary of places: the kinds of page kb writes and the folder each lives in, the
catalogues, and the copy kb leaves beside a page a person edited. Every module that asks "what
kind of page is this?" or "is this a page at all?" asks here, so the answer is written once.
"""

from __future__ import annotations

RAW = "raw/"
ASSETS = "raw/assets/"
CATALOGUES = ("index.md", "log.md")  # generated lists of everything: not pages about anything
CONFLICT_SUFFIX = ".kb-new.md"  # kb's version of a page a person edited, waiting beside it
TEMP_SUFFIX = ".kb-tmp"  # an atomic write's file before its rename: a watcher ignores it, compile sweeps it

# kind (a page's frontmatter `type`) -> (the folder kb files it in, what a group of them is called)
KINDS = {
    "source": ("wiki/sources/", "Sources"),
    "concept": ("wiki/concepts/", "Concepts"),
    "answer": ("wiki/answers/", "Answers"),
    "report": ("wiki/reports/", "Reports"),
}
PAGE_TYPES = tuple(KINDS)


def folder(kind: str) -> str:
    """Where pages of `kind` live, with its trailing slash: `folder("concept")` is 'wiki/concepts/'."""
    return KINDS[kind][0]


def folder_kind(rel: str) -> str | None:
    """The kind a vault path's folder stands for; None outside the wiki's four folders."""
    for kind, (prefix, _) in KINDS.items():
        if rel.startswith(prefix):
            return kind
    return None


def conflict_path(rel: str) -> str:
    """Where kb puts its version of `rel` when a person has edited `rel`."""
    return rel[:-3] + CONFLICT_SUFFIX


def is_page(rel: str) -> bool:
    """A markdown note that counts as a page: not kb's pending copy beside a page a person edited
    (that copy is for the person to merge; search, ask, lint and the index skip it)."""
    return rel.lower().endswith(".md") and not rel.endswith(CONFLICT_SUFFIX)
