"""`kb eval --closed-book`: the finetuning validation questions asked with no wiki, before and
after finetuning, side by side: what a model knows in its weights.

Which models to compare is decided here, not by a front end: `before` defaults to the base the
last finetune started from (else the configured model), `after` to the GGUF it exported
(`latest.json`, written by the finetune job). Each model is built by the caller's
`engine_for(name)`, so config stays at the composition root.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from kb.core.errors import KbError
from kb.core.text import normalise
from kb.core.vault import Vault
from kb.finetune.data import SYSTEM, out_dir


def score(engine, rows: list[dict], max_tokens: int = 48) -> list[dict]:
    """One reply per validation question. An answer counts when the pair's short answer occurs in
    the reply (case and punctuation ignored) and not already in the question: an answer the
    question contains proves nothing."""
    out = []
    for row in rows:
        q = row["messages"][1]["content"]
        reply = engine.chat([{"role": "system", "content": SYSTEM}, {"role": "user", "content": q}],
                            max_tokens=max_tokens, temperature=0.0)
        a = normalise(row["answer"])
        out.append({"question": q, "answer": row["answer"], "reply": reply.text.strip(),
                    "correct": bool(a) and a in normalise(reply.text) and a not in normalise(q)})
    return out


@dataclass
class Run:
    label: str  # before | after
    model: str
    results: list[dict] = field(default_factory=list)

    @property
    def correct(self) -> int:
        return sum(r["correct"] for r in self.results)


@dataclass
class Comparison:
    questions: int
    pages: int
    runs: list[Run] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {r.label: {"model": r.model, "results": r.results} for r in self.runs}

    @property
    def finetuned(self) -> bool:
        return any(r.label == "after" for r in self.runs)


def validation_rows(vault: Vault, limit: int | None = None) -> list[dict]:
    val = out_dir(vault) / "validation.jsonl"
    if not val.exists():
        raise KbError(f"{val}: no validation split yet; run `kb finetune-data` first")
    rows = [json.loads(line) for line in val.read_text().splitlines() if line.strip()]
    return rows[:limit] if limit else rows


def models(vault: Vault, configured: str, before: str | None = None, after: str | None = None) -> list[tuple[str, str]]:
    """(label, model name or path) for each side; no `after` until a finetune has run."""
    latest = out_dir(vault) / "latest.json"
    info = json.loads(latest.read_text()) if latest.exists() else {}
    runs = [("before", before or info.get("base") or configured)]
    after = after or info.get("gguf")
    if after:
        runs.append(("after", after))
    return runs


def compare(vault: Vault, engine_for: Callable[[str], object], configured: str, *, before: str | None = None,
            after: str | None = None, limit: int | None = None,
            on_run: Callable[[str, str, int], None] | None = None) -> Comparison:
    """Score each model on the same validation rows; `on_run(label, model, questions)` before each
    model loads (a model load is the slow part)."""
    rows = validation_rows(vault, limit)
    out = Comparison(questions=len(rows), pages=len({r["page"] for r in rows}))
    for label, name in models(vault, configured, before, after):
        if on_run:
            on_run(label, name, len(rows))
        out.runs.append(Run(label, name, score(engine_for(name), rows)))
    return out


def model_label(name: str) -> str:
    return Path(name).name
