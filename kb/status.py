"""What `kb status` reports: counts derived from the files, nothing cached."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from kb.core.kinds import folder_kind
from kb.core.vault import Vault


@dataclass
class Status:
    vault: str
    sources: int
    pages: int
    source_pages: int
    concept_pages: int
    answer_pages: int
    links: int
    broken_links: int

    def as_dict(self) -> dict:
        return asdict(self)


def vault_status(vault: Vault) -> Status:
    wiki = vault.wiki_pages()
    graph = vault.graph()
    return Status(
        vault=str(vault.root),
        sources=len(vault.sources()),
        pages=len(wiki),
        source_pages=sum(folder_kind(p) == "source" for p in wiki),
        concept_pages=sum(folder_kind(p) == "concept" for p in wiki),
        answer_pages=sum(folder_kind(p) == "answer" for p in wiki),
        links=sum(len(v) for v in graph.outlinks.values()),
        broken_links=len(graph.broken),
    )


def sandbox_walls(allow_weak: bool) -> str:
    """Which walls model code runs behind on this machine; starts one sandbox (a fraction of a second)."""
    from kb.agents.sandbox import sandbox_mode
    return sandbox_mode(allow_weak)
