"""The grounding gate end to end: the sample vault compiled through the CLI with a real bundled
model, then every sentence a model could have written, read back from the pages, is held to the
text it came from: a source page's summary, key points and concept claims to its raw note, a
concept article's sentences to the source each cites. A sentence passes if the gate's judge backs
it or it is the source's own sentence (a stand-in for one that failed)."""

import json
import re
import shutil

import pytest

from kb.core import kinds
from kb.core.extract import extract
from kb.core.grounding import Source, check, split
from kb.core.vault import Vault
from conftest import ROOT, run_kb

pytestmark = pytest.mark.model
CITE = re.compile(r"\s*\(\[\[(wiki/sources/[^|\]]+)(?:\|[^\]]*)?\]\]\)")


def _backed(sentence: str, src: Source) -> bool:
    flat = " ".join(src.text.split())
    return check(sentence, src).ok or sentence.rstrip(".") in flat


def _section(body: str, name: str) -> str:
    m = re.search(rf"^## {name}\n\n(.*?)(?=^## |\Z)", body, re.S | re.M)
    return m.group(1).strip() if m else ""


def test_sample_vault_compiled_with_a_real_model_publishes_only_backed_sentences(tmp_path, small_model):
    root = tmp_path / "v"
    assert run_kb("init", root).returncode == 0
    for p in sorted((ROOT / "vault" / "raw").glob("*.md")):
        shutil.copy(p, root / "raw" / p.name)
    r = run_kb("compile", "--json", cwd=root, env={"KB_MODEL": str(small_model)}, timeout=1500)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert len(report["compiled"]) == 5 and not report["failed"]
    gate = report["gate"]
    assert sum(gate.values()) > 0 and f"gate | {gate['kept']} kept" in (root / "log.md").read_text()

    vault = Vault.open(root)
    manifest = json.loads((vault.state_dir / "manifest.json").read_text())
    sources = {e["page"]: Source.of(extract(vault.abspath(raw), raw, max_bytes=5 << 20).text)
               for raw, e in manifest["sources"].items()}
    checked, unbacked = 0, []
    for path, src in sources.items():
        body = vault.read(path).body
        said = split(_section(body, "Summary"))
        said += [line[2:] for line in _section(body, "Key points").splitlines() if line.startswith("- ")]
        said += [line.split("]]: ", 1)[1] for line in _section(body, "Concepts").splitlines() if "]]: " in line]
        for s in said:
            checked += 1
            if not _backed(s, src):
                unbacked.append((path, s))
    for path in vault.notes(kinds.folder("concept").rstrip("/")):
        article = vault.read(path).body.split("\n\n")[1]
        for cited in re.split(r"(?<=\]\]\))\s+", article):
            m = CITE.search(cited)
            if not m:
                continue
            for s in split(CITE.sub("", cited)):
                checked += 1
                if not _backed(s, sources[m.group(1) + ".md"]):
                    unbacked.append((path, s))
    assert checked >= 20
    assert not unbacked, unbacked
