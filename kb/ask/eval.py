"""`kb eval QA.jsonl`: ask every question in every mode and score the answers.

A question is right when its answer contains any of `accept` (case-insensitive), or all of
`accept_all`; a negative question (one the notes cannot answer) is right when the answer is a
refusal, decided by `is_refusal`, the test `kb ask` itself uses to recognise one, so a refusal
counts the same in both places whatever its wording. One engine and one corpus load serve the whole run, so modes are compared on the
same model, the same wiki and the same machine state.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from kb.agents.answer import is_refusal
from kb.core.errors import KbError, UsageError


@dataclass
class Case:
    id: str
    type: str
    question: str
    accept: list[str]
    accept_all: list[str]


@dataclass
class Result:
    id: str
    type: str
    mode: str
    correct: bool
    answer: str
    cited: list[str]
    tokens: int
    seconds: float
    status: str
    error: str | None = None


def load_cases(path: Path) -> list[Case]:
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    cases = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            cases.append(Case(str(d.get("id", n)), d.get("type", "?"), d["question"],
                              list(d.get("accept") or []), list(d.get("accept_all") or [])))
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise UsageError(f"{path}:{n}: not a question record ({type(e).__name__}: {e})") from None
        if not cases[-1].accept and not cases[-1].accept_all:
            raise UsageError(f"{path}:{n}: needs 'accept' or 'accept_all'")
    return cases


def score(case: Case, answer: str) -> bool:
    if case.type == "negative":
        return is_refusal(answer)
    a = answer.lower()
    if case.accept_all:
        return all(x.lower() in a for x in case.accept_all)
    return any(x.lower() in a for x in case.accept)


def run(ask, cases: list[Case], modes: list[str], on_result: Callable[[Result], None] = lambda r: None) -> list[Result]:
    results = []
    for mode in modes:
        for case in cases:
            t0 = time.perf_counter()
            try:
                ans = ask.answer(case.question, mode)
                r = Result(case.id, case.type, mode, score(case, ans.text), ans.text, [p for p, _ in ans.cited],
                           ans.prompt_tokens + ans.completion_tokens, time.perf_counter() - t0, ans.status)
            except KbError as e:  # one failing question is a data point, not the end of the run
                r = Result(case.id, case.type, mode, False, "", [], 0, time.perf_counter() - t0, "error", str(e))
            results.append(r)
            on_result(r)
    return results


def table(results: list[Result]) -> str:
    modes = list(dict.fromkeys(r.mode for r in results))
    types = sorted({r.type for r in results})
    by = defaultdict(list)
    for r in results:
        by[(r.mode, r.type)].append(r)
        by[(r.mode, "all")].append(r)
    head = f"{'mode':<6} " + " ".join(f"{t:>10}" for t in types + ["all"]) + f" {'tok/q':>8} {'s/q':>7}"
    lines = [head, "-" * len(head)]
    for m in modes:
        cells = []
        for t in types + ["all"]:
            rs = by[(m, t)]
            cells.append(f"{sum(r.correct for r in rs)}/{len(rs)}".rjust(10) if rs else " " * 10)
        rs = by[(m, "all")]
        lines.append(f"{m:<6} " + " ".join(cells) + f" {sum(r.tokens for r in rs) / len(rs):>8.0f}"
                     f" {sum(r.seconds for r in rs) / len(rs):>7.1f}")
    return "\n".join(lines)


def as_json(results: list[Result]) -> str:
    return json.dumps([asdict(r) for r in results], ensure_ascii=False)

