"""Raw sources' near-duplicate fingerprints, kept between lint runs under each source's hash.

Extracting every raw source (HTML through trafilatura, PDFs page by page) to compare them was
most of what the duplicate check cost, on every run. A fingerprint depends only on a source's
bytes and its kind, so lint keeps it in `.kb/cache/lint-fingerprints.npz` keyed by the source's
hash, which the manifest already holds while the file's size and mtime match
(`Manifest.current_hash`): an unchanged source is neither read nor hashed again. The file is
derived state: one that does not load is rebuilt, one that cannot be written is left, and it
holds the sources of the last run only.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from kb.core.kinds import TEMP_SUFFIX
from kb.core.text import Fingerprint, fingerprint
from kb.core.vault import Vault

VERSION = 1  # of the file, and of the fingerprint (kb.core.text.fingerprint's shingles and hash)
NAME = "lint-fingerprints.npz"
NONE = ""  # the digest kept for a source that does not extract (compile reports it, lint skips it)


def _load(path: Path) -> dict[str, Fingerprint]:
    import numpy as np
    try:
        with np.load(path, allow_pickle=False) as z:
            if int(z["version"]) != VERSION:
                return {}
            keys, digests, offsets, samples = z["keys"], z["digests"], z["offsets"], z["samples"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return {}
    if len(keys) != len(digests) or len(offsets) != len(keys) + 1 or (len(keys) and offsets[-1] != len(samples)):
        return {}
    bounds = offsets.tolist()
    return {k: Fingerprint(d, samples[bounds[i]:bounds[i + 1]])
            for i, (k, d) in enumerate(zip(keys.tolist(), digests.tolist()))}


def _save(path: Path, prints: dict[str, Fingerprint]) -> None:
    import numpy as np
    keys = sorted(prints)
    sizes = [len(prints[k].sample) for k in keys]
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TEMP_SUFFIX}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            np.savez(f, version=np.array(VERSION), keys=np.array(keys, dtype=str),
                     digests=np.array([prints[k].digest for k in keys], dtype=str),
                     offsets=np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64),
                     samples=np.concatenate([prints[k].sample for k in keys] or [np.zeros(0, np.uint64)]))
        os.replace(tmp, path)
    except OSError:  # a read-only vault lints all the same, without keeping them
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _extract(path: str, rel: str) -> Fingerprint:
    from kb.core.extract import SourceError, extract, limit
    try:
        return fingerprint(extract(Path(path), rel, max_bytes=limit()).text)
    except (SourceError, OSError):
        return Fingerprint(NONE, fingerprint("").sample)


def raw_fingerprints(vault: Vault, sources: dict[str, tuple[str, str]]) -> dict[str, Fingerprint]:
    """The fingerprint of each raw source that extracts. `sources`: raw path -> (its current
    hash, where it is). Only the sources not fingerprinted under their hash before are read."""
    path = vault.state_dir / "cache" / NAME
    cache = _load(path)
    kept: dict[str, Fingerprint] = {}
    out: dict[str, Fingerprint] = {}
    for rel, (digest, where) in sources.items():
        key = f"{os.path.splitext(rel)[1].lower()}:{digest}"  # the kind decides how the bytes are read
        found = kept.get(key) or cache.get(key) or _extract(where, rel)
        kept[key] = found
        if found.digest != NONE:
            out[rel] = found
    if kept.keys() != cache.keys():
        _save(path, kept)
    return out
