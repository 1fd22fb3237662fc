"""The root model's first move, as a typed choice: a small model cannot plan REPL code (asked to,
a 0.5B copied the example, looped, or overwrote the data), but it can pick one of five ways to
compute and the words to compute with, in constrained JSON, as compile's calls do. kb writes
the code for the choice, runs it as the first cell (shown in the trace), and the model reads its
output and may go on with code of its own.

- lookup: search, read the best pages near the question's words, ask a sub-model about each;
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

from kb.agents.evidence import REFUSAL
from kb.agents.question import borrows, candidates, form, parts, shape, subjects
from kb.agents.rlm import FirstStep
from kb.core.concepts import singular
from kb.core.terms import common

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


def _is_name(word: str) -> bool:
    return any(c.isupper() or c.isdigit() for c in word)


def default_terms(cands: list[str]) -> tuple[str, ...]:
    names = [c for c in cands if " " not in c and _is_name(c)]
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


def pattern_for(terms: tuple[str, ...]) -> str:
    """A case-insensitive regular expression matching any of the terms, as notes write them:
    'Muon optimizer' is 'Muon' (the name, without the noun after it), hyphens and spaces are one,
    a plural counts, and a name may run on ('Qwen' matches 'Qwen2.5'). An everyday word beside a
    name is left out ('models' would match every note); everyday words alone are kept."""
    parts = []
    for term in terms:
        words = [w for w in re.split(r"[\s-]+", term.strip()) if w]
        if any(map(_is_name, words)):
            while len(words) > 1 and not _is_name(words[-1]):
                words.pop()
        elif any(not common(w) for w in words):
            while len(words) > 1 and common(words[-1]):
                words.pop()
        if words:
            parts.append(words)
    if any(len(w) > 1 or _is_name(w[0]) or not common(w[0]) for w in parts):
        parts = [w for w in parts if len(w) > 1 or _is_name(w[0]) or not common(w[0])]
    alts = []
    for words in parts:
        *head, last = words
        tail = re.escape(last) if _is_name(last) else re.escape(singular(last)) + r"(?:e?s)?\b"
        body = r"[\s-]*".join([*map(re.escape, head), tail])
        alts.append((r"\b" if words[0][:1].isalnum() else "") + body)
    return "|".join(alts) or r"(?!)"


# A helper reply that only says the question back ("torchft calls the server that coordinates
# across the replica groups.", asked what it calls that server) answers nothing: the next page is read.
SAYS_NOTHING = (
    "FILLER = {'this', 'that', 'with', 'from', 'which', 'they', 'their', 'them', 'also', 'have', 'been', "
    "'were', 'there', 'these', 'those', 'what', 'when', 'where', 'note', 'notes', 'text', 'mention', "
    "'mentions', 'mentioned', 'question', 'answer', 'according', 'about', 'does', 'said', 'says'}\n"
    "def adds(reply, asked):  # a word (or number) the question did not already say\n"
    "    said = [w for w in re.findall(r'[a-z0-9]+', asked.lower()) if len(w) > 2]\n"
    "    return any(not any(w.startswith(a) or a.startswith(w) for a in said)\n"
    "               for w in re.findall(r'[a-z0-9]+', reply.lower()) if (len(w) > 3 and w not in FILLER) or w.isdigit())\n")


def code(choice: Choice, question: str, *, notes: str = "sources", batch: int = 12) -> str:
    """The first cell kb runs for a choice: plain code over the REPL's functions, so the trace
    shows exactly what was computed, and the model can read it and write the next cell."""
    q, terms = question, list(choice.terms)
    head = f"question = {q!r}\n"
    refusal = f"refused = re.compile({REFUSAL.pattern!r})  # a helper reply that says the text does not answer\n"
    if choice.action == "lookup" and len(choice.parts) > 1:
        return head + refusal + SAYS_NOTHING + _lookup_parts(choice.parts)
    if choice.action == "lookup":
        query = " ".join([q, *terms])
        return head + refusal + SAYS_NOTHING + (
            f"hits, seen = [], set()\n"
            f"for h in search({query!r}, 8):\n"
            f"    if h['page'] not in seen:\n"
            f"        seen.add(h['page'])\n"
            f"        hits.append(h)\n"
            f"hits.sort(key=lambda h: h['kind'] not in ('source', 'raw'))  # a note before the concept pages drawn from it\n"
            f"answer = 'Not in the knowledge base.'\n"
            f"for h in hits[:3]:\n"
            f"    text = read(h['page'], near={' '.join(terms) + ' ' + q!r}, chars=6000)\n"
            f"    reply = llm_query('Question: ' + question + '\\n\\nText:\\n' + text + '\\n\\nQuestion again: ' + "
            f"question + '\\nAnswer in one or two sentences. If the text does not answer it, say it is not in "
            f"the knowledge base.')\n"
            f"    print(h['title'], '->', reply)\n"
            f"    if not refused.search(reply.lower()) and adds(reply, question):\n"
            f"        answer = reply\n"
            f"        break\n"
            f"print('answer =', answer)")
    if choice.action == "compare":
        queries = {t: " ".join([t, *(w for w in q.split() if not any(
            w.lower().strip("?,.;:") in o.lower().split() for o in terms if o != t))]) for t in terms}
        return head + refusal + (
            f"things = {terms!r}\n"
            f"queries = {queries!r}  # each thing with the question, less the other things\n"
            f"texts = []\n"
            f"for thing in things:\n"
            f"    hits = search(queries[thing], 3)\n"
            f"    texts.append(read(hits[0]['page'], near=queries[thing], chars=3000) if hits else '')\n"
            f"replies = llm_query_batched(['Question: ' + question + '\\n\\nText:\\n' + text + '\\n\\nWhat does "
            f"this text say about ' + thing + ' that helps answer the question? One or two sentences. If "
            f"nothing, say it is not in the knowledge base.' for thing, text in zip(things, texts)])\n"
            f"facts = []\n"
            f"for thing, reply in zip(things, replies):\n"
            f"    print(thing, '->', reply)\n"
            f"    if not refused.search(reply.lower()):\n"
            f"        facts.append('- ' + thing + ': ' + reply)\n"
            f"answer = 'Not in the knowledge base.'\n"
            f"if facts:\n"
            f"    answer = llm_query('Question: ' + question + '\\n\\nFacts from the notes:\\n' + '\\n'.join(facts) "
            f"+ '\\n\\nAnswer the question in one or two sentences, using only these facts.')\n"
            f"print('answer =', answer)")
    # everyday words count only when they are all there is ('optimizers' named anywhere); beside a
    # name they would match every note ('Streaming DiLoCo', 'shard', 'model')
    pattern = choice.pattern or pattern_for(choice.terms)
    label = " or ".join(terms)
    if choice.action == "find_all" and shape(q):
        return head + (
            f"shape = {shape(q)!r}  # the items' own form, read off the question: code finds every one\n"
            f"found = grep(shape, where={notes!r}, context=0, limit=20)\n"
            f"items = {{}}\n"
            f"for f in found:\n"
            f"    for item in f['matches']:\n"
            f"        where = items.setdefault(item, [])\n"
            f"        if f['title'] not in where:\n"
            f"            where.append(f['title'])\n"
            f"for item, where in items.items():\n"
            f"    print(item, '->', where)\n"
            f"answer = ('Named in the notes: ' + '; '.join(item + ' (' + ', '.join(where) + ')' for item, where "
            f"in items.items()) + '.') if items else 'Not in the knowledge base.'\n"
            f"print('answer =', answer)")
    if choice.action == "find_all":
        kind = terms[0] if len(terms) == 1 else label
        return head + (
            f"found = sorted(grep({pattern!r}, where={notes!r}, context=300), key=lambda f: -f['count'])\n"
            f"print(len(found), 'notes match; the helper reads', min(len(found), {batch}))\n"
            f"found = found[:{batch}]\n"
            f"replies = llm_query_batched(['Text:\\n' + '\\n...\\n'.join(f['matches']) + '\\n\\nList every ' + "
            f"{kind!r} + ' named in this text, separated by commas. If there is none, reply none.' for f in found])\n"
            f"items = {{}}\n"
            f"for f, reply in zip(found, replies):\n"
            f"    text = ' '.join(f['matches']).lower()\n"
            f"    for item in re.split(r'[,;\\n]', reply):\n"
            f"        item = item.strip(' .*-\"\\'')\n"
            f"        if len(item) > 1 and item.lower() not in ('none', {kind.lower()!r}) and item.lower() in text:\n"
            f"            where = items.setdefault(next((k for k in items if k.lower() == item.lower()), item), [])\n"
            f"            if f['title'] not in where:\n"
            f"                where.append(f['title'])\n"
            f"for item, where in items.items():\n"
            f"    print(item, '->', where)\n"
            f"answer = ('Named in the notes: ' + '; '.join(item + ' (' + ', '.join(where) + ')' for item, where "
            f"in items.items()) + '.') if items else 'Not in the knowledge base.'\n"
            f"print('answer =', answer)")
    checked = ""
    if choice.check:
        checked = (
            f"replies = llm_query_batched(['Text:\\n' + '\\n...\\n'.join(f['matches']) + '\\n\\n' + "
            f"{choice.check!r} + ' Answer yes or no.' for f in found[:{batch}]])\n"
            f"found = [f for f, reply in zip(found, replies) if not reply.strip().lower().startswith('no')] + "
            f"found[{batch}:]\n")
    show = ("for f in found:\n    print(f['title'], '|', f['page'], '|', f['count'], 'matches')\n"
            if choice.action == "list" else "")
    return head + (
        f"found = grep({pattern!r}, where={notes!r})\n{checked}{show}"
        f"count = len(found)\n"
        f"print(count, 'notes match')\n"
        f"titles = [f['title'] for f in found]\n"
        f"noun = 'note mentions' if count == 1 else 'notes mention'\n"
        f"answer = str(count) + ' ' + noun + ' ' + {label!r} + ': ' + '; '.join(titles) + '.' if found else "
        f"{'Not in the knowledge base: no note mentions ' + label + '.'!r}\n"
        f"print('answer =', answer)")


def _lookup_parts(joined: tuple[str, ...]) -> str:
    """Each question the question joins, looked up on its own; a part that says "it" searches
    with the first part's subjects too. The answers are joined by code, and a part no page
    answers is said to be missing, not guessed."""
    about = ", ".join(subjects(joined[0]))
    plan = [(f"{p} ({about})" if i and about and borrows(p) else p) for i, p in enumerate(joined)]
    return (
        f"parts = {plan!r}  # the questions this one joins, each asked alone\n"
        f"answers, unanswered = [], []\n"
        f"for part in parts:\n"
        f"    hits, seen = [], set()\n"
        f"    for h in search(part, 8):\n"
        f"        if h['page'] not in seen:\n"
        f"            seen.add(h['page'])\n"
        f"            hits.append(h)\n"
        f"    hits.sort(key=lambda h: h['kind'] not in ('source', 'raw'))  # a note before the concept pages drawn from it\n"
        f"    found = None\n"
        f"    for h in hits[:3]:\n"
        f"        text = read(h['page'], near=part, chars=5000)\n"
        f"        reply = llm_query('Question: ' + part + '\\n\\nText:\\n' + text + '\\n\\nQuestion again: ' + part + "
        f"'\\nAnswer in one or two sentences. If the text does not answer it, say it is not in the knowledge base.')\n"
        f"        print(part, '|', h['title'], '->', reply)\n"
        f"        if not refused.search(reply.lower()) and adds(reply, part):\n"
        f"            found = reply\n"
        f"            break\n"
        f"    if found:\n"
        f"        answers.append(found)\n"
        f"    else:\n"
        f"        unanswered.append(part)\n"
        f"answer = ' '.join(answers) if answers else 'Not in the knowledge base.'\n"
        f"if answers and unanswered:\n"
        f"    answer += ' The notes read do not answer: ' + ' '.join(unanswered)\n"
        f"print('answer =', answer)")


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
