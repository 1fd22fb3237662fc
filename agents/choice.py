"""The root model's first move, as a typed choice: a small model cannot plan REPL code (asked to,
a 0.5B copied the example, looped, or overwrote the data), but it can pick one of five ways to
compute and the words to compute with, in constrained JSON, as compile's calls do. kb writes
the code for the choice (agents/cells.py), runs it as the first cell (shown in the trace), and
the model reads its output and may go on with code of its own.

- lookup: search, read the best pages near the question's words, ask a sub-model about each
  (each question a question joins, on its own);
- compare: the same for each thing named, one batched sub-call per thing, then one to join them;
- count / list: grep the notes for the terms: the number and the titles come from code;
- find_all: grep for the kind of thing, a batched sub-call lists the items in each matching
  note, and code keeps only the items the note's text contains; where the question states the
  items' form (arXiv IDs, "abbreviations ending in PO"), code alone finds every one.

The terms are an enum of phrases taken from the question by code: the model chooses, it cannot
invent. What it sends is checked again here, and a reply kb cannot use becomes a lookup.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path

from kb.agents.cells import code
from kb.agents.question import candidates, form, is_name, parts
from kb.agents.rlm import FirstStep

PROMPTS = Path(__file__).with_name("prompts")
ACTIONS = ("lookup", "compare", "count", "list", "find_all")
AGGREGATE = ("count", "list", "find_all")


@dataclass(frozen=True)
class Choice:
    action: str
    terms: tuple[str, ...]
    pattern: str = ""  # a regular expression the model gave, checked to compile
    check: str = ""  # count/list: a yes/no question each matching note must pass
    parts: tuple[str, ...] = ()  # lookup: the questions a question joins, each looked up (read by code)

    def arguments(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items() if k != "action"}


def schema(cands: list[str]) -> dict:
    term = {"type": "string", "enum": cands} if cands else {"type": "string"}
    return {"type": "object", "required": ["action", "terms"],
            "properties": {"action": {"type": "string", "enum": list(ACTIONS)},
                           "terms": {"type": "array", "minItems": 1, "maxItems": 4, "items": term},
                           "pattern": {"type": "string"}, "check": {"type": "string"}}}


def default_terms(cands: list[str]) -> tuple[str, ...]:
    names = [c for c in cands if " " not in c and is_name(c)]
    return tuple((names or sorted((c for c in cands if " " not in c), key=len, reverse=True))[:3])


def parse(data, question: str, cands: list[str]) -> tuple[Choice, str | None]:
    """The model's choice as kb will run it, and why it differs from what was sent (if it does)."""
    if not isinstance(data, dict):
        return Choice("lookup", default_terms(cands)), "the reply was not a JSON choice: kb looked the question up"
    errors = []
    action = data.get("action")
    if action not in ACTIONS:
        errors.append(f"no action {str(action)[:40]!r}: kb looked the question up")
        action = "lookup"
    raw = data.get("terms") if isinstance(data.get("terms"), list) else []
    terms = tuple(dict.fromkeys(t.strip() for t in raw if isinstance(t, str) and t.strip()
                                and t.strip().lower() in question.lower()))[:4]
    if len(terms) < len([t for t in raw if isinstance(t, str) and t.strip()]):
        errors.append("terms that are not in the question were left out")
    if not terms:
        terms = default_terms(cands)
        errors.append(f"no term from the question: kb used {', '.join(terms) or 'the question'}")
    pattern = data.get("pattern") if isinstance(data.get("pattern"), str) else ""
    if pattern.strip():
        try:
            re.compile(pattern)
            if len(pattern) > 200:
                raise re.error("longer than 200 characters")
        except (re.error, RecursionError) as e:
            errors.append(f"pattern {pattern[:60]!r} left out ({e})")
            pattern = ""
    check = data.get("check") if isinstance(data.get("check"), str) else ""
    asked = form(question)
    if asked and action != asked:
        errors.append(f"the question asks across the notes ({asked}): kb ran {asked}, not {action}")
        action = asked
    elif not asked and action in AGGREGATE:
        errors.append(f"the question asks about one thing, not across the notes: kb looked it up, not {action}")
        action = "lookup"
    if action == "compare" and len(terms) < 2:
        errors.append("a compare needs two things: kb looked the question up")
        action = "lookup"
    joined = tuple(parts(question)) if action == "lookup" else ()
    return (Choice(action, terms, pattern.strip(), " ".join(check.split())[:300], joined if len(joined) > 1 else ()),
            "; ".join(errors) or None)


def step(question: str, *, notes: str = "sources", batch: int = 12) -> FirstStep:
    """The typed first move for one question, ready for the RLM loop."""
    cands = candidates(question)

    def decide(data):
        choice, error = parse(data, question, cands)
        return choice.action, choice.arguments(), code(choice, question, notes=notes, batch=batch), error

    safe = question.replace("{", "{{").replace("}", "}}")
    prompt = (PROMPTS / "ask_choice.md").read_text(encoding="utf-8").replace("{question}", safe)
    return FirstStep(system="You choose how kb answers a question from a personal knowledge base. Reply "
                     "with JSON only.", prompt=prompt, schema=schema(cands), decide=decide)
