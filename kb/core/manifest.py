"""`.kb/manifest.json`: what compile knows about each raw source (hash, the pages it produced,
the concepts and claims it contributed). Written atomically and only after the pages it
describes, so after a crash it never claims more than the vault holds."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from kb.core.errors import PageError
from kb.core.kinds import folder
from kb.core.vault import Vault, atomic_write

VERSION = 1


def file_hash(path: Path | str) -> str:
    """sha256 of a file's bytes: a raw source's identity (ingest, compile and lint key by it)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class Manifest:
    path: Path
    sources: dict[str, dict] = field(default_factory=dict)  # raw path -> entry
    concepts: dict[str, dict] = field(default_factory=dict)  # concept key -> {title, aliases, page}
    log: list[list] = field(default_factory=list)  # [line, log.md size] saved here before appended there
    problem: str | None = None  # why the file on disk was not used (it is rebuilt from the files)
    saved_log: bool = False  # the file on disk still lists log lines (appended since): save again

    @classmethod
    def load(cls, vault: Vault) -> "Manifest":
        """The manifest is derived state: one that does not parse, or parses to the wrong shape, is
        rebuilt from the source pages' frontmatter (each such source recompiles, from the model
        cache when its text is unchanged) and `problem` says so in one line."""
        path = vault.state_dir / "manifest.json"
        if not path.exists():
            return cls(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            bad = _shape_problem(data)
        except (json.JSONDecodeError, UnicodeDecodeError, OSError) as e:
            bad = f"not readable JSON ({type(e).__name__})"
        if bad:
            return cls(path, _rebuilt(vault), problem=f"{path}: {bad}; rebuilt from the wiki's source pages")
        return cls(path, data["sources"], data.get("concepts", {}), data.get("log", []),
                   saved_log=bool(data.get("log")))

    def save(self) -> None:
        data = {"version": VERSION, "sources": self.sources, "concepts": self.concepts}
        if self.log:
            data["log"] = self.log
        self.saved_log = bool(self.log)
        atomic_write(self.path, json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True) + "\n")

    def current_hash(self, vault: Vault, rel: str, path: Path | str | None = None) -> str:
        """The hash of raw source `rel` as it is now: the recorded one while its size and mtime
        still match this manifest (no need to read it), else a fresh one. `path`: where `rel` is,
        when the caller has it from `vault.files()` already (a lookup instead of a resolve)."""
        path = vault.abspath(rel) if path is None else path
        entry = self.sources.get(rel) or {}
        st = os.stat(path)
        if entry.get("size") == st.st_size and entry.get("mtime_ns") == st.st_mtime_ns and entry.get("hash"):
            return entry["hash"]
        return file_hash(path)

    def queue_log(self, line: str, log_size: int) -> None:
        """Remember a log line before saving: after a kill between the save and the append, the
        next compile finds it here and appends it (kb.core.catalog.settle_log)."""
        self.log.append([line, log_size])

    def claims(self, key: str) -> list[tuple[str, dict]]:
        """(raw path, claim) for every source that says something about concept `key`."""
        return sorted((raw, e["concepts"][key]) for raw, e in self.sources.items()
                      if key in e.get("concepts", {}))


def _shape_problem(data) -> str | None:
    if not isinstance(data, dict):
        return f"a JSON {type(data).__name__}, not an object"
    sources, concepts, log = data.get("sources"), data.get("concepts", {}), data.get("log", [])
    if not isinstance(sources, dict) or not all(isinstance(e, dict) and isinstance(e.get("hash"), str)
                                                 and isinstance(e.get("concepts", {}), dict)
                                                 for e in sources.values()):
        return "'sources' is not a map of source entries"
    if not isinstance(concepts, dict) or not all(
            isinstance(c, dict) and isinstance(c.get("title"), str) and isinstance(c.get("page"), str)
            and isinstance(c.get("aliases"), list) for c in concepts.values()):
        return "'concepts' is not a map of concept entries"
    if not isinstance(log, list) or not all(isinstance(x, list) and len(x) == 2 for x in log):
        return "'log' is not a list of pending lines"
    return None


def _rebuilt(vault: Vault) -> dict[str, dict]:
    """Source entries from the source pages kb wrote (`raw`, title, path). Their hashes are left
    empty, so each counts as changed and is compiled again into the same page."""
    out: dict[str, dict] = {}
    for rel in vault.notes(folder("source")):
        try:
            page = vault.read(rel)
        except PageError:
            continue
        raw = page.meta.get("raw")
        if page.state != "foreign" and isinstance(raw, str) and raw not in out:
            out[raw] = {"hash": "", "page": rel, "title": page.title, "concepts": {}}
    return out
