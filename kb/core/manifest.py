"""`.kb/manifest.json`: what compile knows about each raw source (hash, the pages it produced,
the concepts and claims it contributed). Written atomically and only after the pages it
describes, so after a crash it never claims more than the vault holds."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from kb.core.errors import VaultError
from kb.core.vault import Vault, atomic_write

VERSION = 1


@dataclass
class Manifest:
    path: Path
    sources: dict[str, dict] = field(default_factory=dict)  # raw path -> entry
    concepts: dict[str, dict] = field(default_factory=dict)  # concept key -> {title, aliases, page}

    @classmethod
    def load(cls, vault: Vault) -> "Manifest":
        path = vault.state_dir / "manifest.json"
        if not path.exists():
            return cls(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise VaultError(f"{path}: corrupt manifest; move it aside and run `kb compile` "
                             "to rebuild it (sources will be recompiled)") from None
        return cls(path, data.get("sources", {}), data.get("concepts", {}))

    def save(self) -> None:
        data = {"version": VERSION, "sources": self.sources, "concepts": self.concepts}
        atomic_write(self.path, json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True) + "\n")

    def claims(self, key: str) -> list[tuple[str, dict]]:
        """(raw path, claim) for every source that says something about concept `key`."""
        return sorted((raw, e["concepts"][key]) for raw, e in self.sources.items()
                      if key in e.get("concepts", {}))
