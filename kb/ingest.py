"""`kb ingest PATH...`: copy sources into raw/ without touching the originals. The same content
twice is one source (by hash), whatever its name."""

from __future__ import annotations

import hashlib
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from kb.core.errors import KbError
from kb.core.extract import IMAGE_EXTS, TEXT_KINDS
from kb.core.vault import Vault


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class Ingested:
    source: str  # the path given
    dest: str | None  # vault-relative path in raw/, None when skipped
    note: str  # added | duplicate of X | unsupported


def ingest(vault: Vault, paths: list[Path]) -> list[Ingested]:
    known = {file_hash(vault.abspath(rel)): rel for rel in vault.files("raw")}
    out = []
    files: list[Path] = []
    for p in paths:
        if not p.exists():
            raise KbError(f"{p}: no such file or directory")
        files.extend(sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p])
    for f in files:
        ext = f.suffix.lower()
        if ext not in TEXT_KINDS and ext not in IMAGE_EXTS:
            out.append(Ingested(str(f), None, f"unsupported type '{ext or '(none)'}'"))
            continue
        digest = file_hash(f)
        if digest in known:
            out.append(Ingested(str(f), known[digest], f"duplicate of {known[digest]}"))
            continue
        folder = "raw/assets" if ext in IMAGE_EXTS else "raw"
        name = unicodedata.normalize("NFC", f.name)
        dest = vault.root / folder / name
        n = 2
        while dest.exists():
            dest = vault.root / folder / f"{Path(name).stem} ({n}){Path(name).suffix}"
            n += 1
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.kb-tmp")
        shutil.copyfile(f, tmp)  # copy, never move: the original stays as it was
        tmp.replace(dest)
        rel = dest.relative_to(vault.root).as_posix()
        known[digest] = rel
        out.append(Ingested(str(f), rel, "added"))
    return out
