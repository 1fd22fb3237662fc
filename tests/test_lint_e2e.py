"""Lint end to end: the default model over the ml-blog vault, with a duplicate post and a changed
number seeded into it."""

import json
import re
import shutil

import pytest

from kb.core import models
from conftest import run_kb

pytestmark = [pytest.mark.model, pytest.mark.slow]


def seed_contradiction(root):
    """Change the first multi-digit number in the first figure line of a source page that has one;
    returns (page, original sentence, changed sentence)."""
    for page in sorted((root / "wiki" / "sources").glob("*.md")):
        text = page.read_text()
        for line in text.splitlines():
            m = re.match(r"^- “(.*\b(\d{2,})\b.*)”$", line)
            if m and len(m.group(1)) > 60:
                old, num = m.group(1), m.group(2)
                new = old.replace(num, str(int(num) + 7), 1)
                page.write_text(text.replace(old, new, 1))
                return page, old, new
    raise AssertionError("no source page states a number")


def test_lint_default_model_finds_seeded_duplicate_and_contradiction(mlblog_vault, tmp_path):
    src, env, _ = mlblog_vault
    root = tmp_path / "v"
    shutil.copytree(src, root)
    shutil.copy(root / "raw" / "muon-optimizer.md", root / "raw" / "muon-notes-copy.md")
    r = run_kb("compile", cwd=root, env=env)  # the copy gets its page (its analysis is cached by hash)
    assert r.returncode == 0, r.stderr
    page, old, new = seed_contradiction(root)

    default = models.resolve(models.DEFAULT_MODEL, models.models_dir())
    r = run_kb("lint", "--json", cwd=root, env={"KB_MODEL": str(default)}, timeout=1500)
    assert r.returncode in (0, 1) and "Traceback" not in r.stderr, r.stderr
    data = json.loads(r.stdout)
    assert data["model"]["sub_calls"] >= 1 and data["model"]["model"]

    dupes = [f for f in data["findings"] if f["check"] == "duplicate-source"]
    assert any({"raw/muon-optimizer.md", "raw/muon-notes-copy.md"} <= set(f["pages"]) for f in dupes), dupes

    rel = str(page.relative_to(root))
    hits = [f for f in data["findings"] if f["check"] == "contradiction"
            and any(q["path"] == rel and q["text"] == new for q in f["quotes"])]
    assert hits, [f for f in data["findings"] if f["check"] == "contradiction"]
    assert any(q["text"] == old for q in hits[0]["quotes"])  # and the place that says otherwise

    report = (root / data["report"]).read_text()
    assert "muon-notes-copy" in report and new[:60] in report and old[:60] in report
