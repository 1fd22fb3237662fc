"""The concept registry (`manifest.concepts`: key -> title, aliases, folded names, page path):
which page a name a model picked belongs to.

One idea is one page across sources: a pick joins a known concept when it is the same key, an
inflection of its title or alias (Compost / Composting), an alias or `Name (ACRONYM)` of it, or
its acronym. Names a source folded into a term (kb.core.terms: 'starter' in 'sourdough starter')
are kept as `folded`: they become the page's aliases, so links by them resolve, but they are never
matched against another source's text, and a folded name two concepts want is neither's alias.
"""

from __future__ import annotations

from typing import Callable

from kb.core import concepts as C
from kb.core import terms as T


class Registry:
    def __init__(self, concepts: dict[str, dict], unique_path: Callable[[str], str]):
        self.concepts = concepts  # the manifest's own dict: registering is recording
        self.unique_path = unique_path  # title -> a free page path
        self.retouch: set[str] = set()  # concepts whose folded names another one just claimed
        self.version = 0  # counts changes: a source linked at version v need not be relinked at v

    def key(self, name: str, aliases: list[str]) -> str:
        """The key of the concept `name` (with `aliases`) is, known or new."""
        key = C.concept_key(name)
        if key in self.concepts:
            return key
        roots = {T.root_key(n) for n in (name, *aliases)}
        for k, reg in self.concepts.items():  # an inflection, alias or acronym of a known one
            alias_keys = {C.concept_key(a) for a in reg["aliases"]}
            if key in alias_keys or any(C.concept_key(a) == k for a in aliases):
                return k
            if roots & {T.root_key(n) for n in (reg["title"], *reg["aliases"])}:
                return k
            if name.isupper() and 2 <= len(name) <= 6 and C.acronym_of(reg["title"]) == name:
                return k
        return key

    def register(self, key: str, name: str, aliases: list[str], folded: list[str] = ()) -> dict:
        title = name[:1].upper() + name[1:]
        reg = self.concepts.get(key)
        if reg is None:
            reg = self.concepts[key] = {"title": title, "aliases": [], "page": self.unique_path(title)}
            self.version += 1
        for a in (name, *aliases):  # a link by any name the sources use reaches the page
            if a.lower() not in {x.lower() for x in (reg["title"], *reg["aliases"])}:
                reg["aliases"].append(a)
                self.version += 1
        for a in folded:  # link-only names, never matched against another source's text
            if a.lower() not in {x.lower() for x in (reg["title"], *reg["aliases"], *reg.get("folded", []))}:
                reg.setdefault("folded", []).append(a)
                self.version += 1
                self.retouch |= {k for k, o in self.concepts.items()  # now contested there
                                 if o is not reg and a.lower() in {x.lower() for x in o.get("folded", [])}}
        return reg

    def aliases(self, key: str) -> list[str]:
        """A concept page's aliases: its other names, and each folded name no other concept
        claims ('bacteria' folded into three '... bacteria' phrases is nobody's alias). Computed
        when the page is written, so the order sources were compiled in does not matter."""
        reg = self.concepts[key]
        claimed: dict[str, int] = {}
        for other in self.concepts.values():
            for x in {x.lower() for x in (other["title"], *other["aliases"], *other.get("folded", []))}:
                claimed[x] = claimed.get(x, 0) + 1
        return reg["aliases"] + [f for f in reg.get("folded", []) if claimed.get(f.lower()) == 1]


def select(text: str) -> list[T.Term]:
    """The terms of a source that may name its concepts, most salient first."""
    return T.select(C.candidates(text, limit=80), text)


def by_name(terms: list[T.Term]) -> dict[str, T.Term]:
    """Lower-cased name -> the term of this source it belongs to."""
    return {n.lower(): t for t in terms for n in (t.name, *t.aliases, *t.folded)}


def names(picked: str, terms: dict[str, T.Term]) -> tuple[str, list[str], list[str]]:
    """A model's pick -> (the name its page is filed under, aliases that name it in text, names
    folded into it that only links use: 'starter' is this source's 'sourdough starter', not
    every source's)."""
    name, aliases = C.split_alias(picked)
    term = terms.get(name.lower())
    if term is None:
        return name, aliases, []
    return term.name, list(dict.fromkeys([*aliases, *term.aliases])), list(term.folded)
