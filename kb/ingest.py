"""`kb ingest PATH...`: copy sources into raw/ without touching the originals. The same content
twice is one source (by hash), whatever its name."""

from __future__ import annotations

import secrets
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from kb.core import kinds
from kb.core.errors import KbError
from kb.core.extract import IMAGE_EXTS, TEXT_KINDS
from kb.core.manifest import file_hash
from kb.core.vault import Vault


@dataclass
class Ingested:
    source: str  # the path given
    dest: str | None  # vault-relative path in raw/, None when skipped
    note: str  # added | duplicate of X | unsupported


def ingest(vault: Vault, paths: list[Path]) -> list[Ingested]:
    known = {}
    for rel in vault.files(kinds.RAW):  # what is there already, by content (unreadable ones skipped)
        try:
            known[file_hash(vault.abspath(rel))] = rel
        except (OSError, KbError):
            continue
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
        try:
            digest = file_hash(f)
        except OSError as e:  # unreadable, a symlink loop
            out.append(Ingested(str(f), None, f"failed: cannot read {f} ({e.strerror or e})"))
            continue
        if digest in known:
            out.append(Ingested(str(f), known[digest], f"duplicate of {known[digest]}"))
            continue
        folder = kinds.ASSETS if ext in IMAGE_EXTS else kinds.RAW
        name = unicodedata.normalize("NFC", f.name)
        dest = vault.root / folder / name
        n = 2
        while dest.exists():
            dest = vault.root / folder / f"{Path(name).stem} ({n}){Path(name).suffix}"
            n += 1
        tmp = dest.with_name(f".{secrets.token_hex(8)}{kinds.TEMP_SUFFIX}")  # short: a 250-byte name's temp fits
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, tmp)  # copy, never move: the original stays as it was
            tmp.replace(dest)
        except OSError as e:  # a read-only vault, a directory in the way: this file, not the batch
            tmp.unlink(missing_ok=True) if tmp.is_file() else None
            out.append(Ingested(str(f), None, f"failed: cannot write {e.filename or dest} ({e.strerror or e})"))
            continue
        rel = dest.relative_to(vault.root).as_posix()
        known[digest] = rel
        out.append(Ingested(str(f), rel, "added"))
    return out
