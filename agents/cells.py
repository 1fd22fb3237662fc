"""The code kb writes for a typed choice (agents/choice.py): plain cells over the REPL's
functions, so the trace shows exactly what was computed and the root model can read it and write
the next cell. Kept apart from the choice itself: what a model may pick is one question, what
code runs for each pick is another.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from kb.agents.evidence import REFUSAL
from kb.agents.question import borrows, is_name, shape, subjects
from kb.core.concepts import singular
from kb.core.terms import common

if TYPE_CHECKING:
    from kb.agents.choice import Choice


def pattern_for(terms: tuple[str, ...]) -> str:
    """A case-insensitive regular expression matching any of the terms, as notes write them:
    'Muon optimizer' is 'Muon' (the name, without the noun after it), hyphens and spaces are one,
    a plural counts, and a name may run on ('Qwen' matches 'Qwen2.5'). An everyday word beside a
    name is left out ('models' would match every note); everyday words alone are kept."""
    parts = []
    for term in terms:
        words = [w for w in re.split(r"[\s-]+", term.strip()) if w]
        if any(map(is_name, words)):
            while len(words) > 1 and not is_name(words[-1]):
                words.pop()
        elif any(not common(w) for w in words):
            while len(words) > 1 and common(words[-1]):
                words.pop()
        if words:
            parts.append(words)
    if any(len(w) > 1 or is_name(w[0]) or not common(w[0]) for w in parts):
        parts = [w for w in parts if len(w) > 1 or is_name(w[0]) or not common(w[0])]
    alts = []
    for words in parts:
        *head, last = words
        tail = re.escape(last) if is_name(last) else re.escape(singular(last)) + r"(?:e?s)?\b"
        body = r"[\s-]*".join([*map(re.escape, head), tail])
        alts.append((r"\b" if words[0][:1].isalnum() else "") + body)
    return "|".join(alts) or r"(?!)"


# What both lookups define first. A helper reply that only says the question back ("torchft
# calls the server that coordinates across the replica groups.", asked what it calls that server)
# answers nothing: the next page is read.
LOOKUP = (
    "def pages_for(query):  # each page once, a note before the concept pages drawn from it\n"
    "    hits, seen = [], set()\n"
    "    for h in search(query, 8):\n"
    "        if h['page'] not in seen:\n"
    "            seen.add(h['page'])\n"
    "            hits.append(h)\n"
    "    return sorted(hits, key=lambda h: h['kind'] not in ('source', 'raw'))\n"
    "def ask_page(asked, page, near, chars):  # the helper, on one page's passages near the question\n"
    "    text = read(page, near=near, chars=chars)\n"
    "    return llm_query('Question: ' + asked + '\\n\\nText:\\n' + text + '\\n\\nQuestion again: ' + asked + "
    "'\\nAnswer in one or two sentences. If the text does not answer it, say it is not in the knowledge base.')\n"
    "FILLER = {'this', 'that', 'with', 'from', 'which', 'they', 'their', 'them', 'also', 'have', 'been', "
    "'were', 'there', 'these', 'those', 'what', 'when', 'where', 'note', 'notes', 'text', 'mention', "
    "'mentions', 'mentioned', 'question', 'answer', 'according', 'about', 'does', 'said', 'says'}\n"
    "def adds(reply, asked):  # a word (or number) the question did not already say\n"
    "    said = [w for w in re.findall(r'[a-z0-9]+', asked.lower()) if len(w) > 2]\n"
    "    return any(not any(w.startswith(a) or a.startswith(w) for a in said)\n"
    "               for w in re.findall(r'[a-z0-9]+', reply.lower()) if (len(w) > 3 and w not in FILLER) or w.isdigit())\n")


# the end of a find-all: `items` (item -> the notes naming it) as the answer, or the refusal
NAMED = ("for item, where in items.items():\n"
         "    print(item, '->', where)\n"
         "answer = ('Named in the notes: ' + '; '.join(item + ' (' + ', '.join(where) + ')' for item, where "
         "in items.items()) + '.') if items else 'Not in the knowledge base.'\n"
         "print('answer =', answer)")


def code(choice: Choice, question: str, *, notes: str = "sources", batch: int = 12) -> str:
    """The first cell kb runs for a choice: plain code over the REPL's functions, so the trace
    shows exactly what was computed, and the model can read it and write the next cell."""
    q, terms = question, list(choice.terms)
    head = f"question = {q!r}\n"
    refusal = f"refused = re.compile({REFUSAL.pattern!r})  # a helper reply that says the text does not answer\n"
    if choice.action == "lookup" and len(choice.parts) > 1:
        return head + refusal + LOOKUP + _lookup_parts(choice.parts)
    if choice.action == "lookup":
        query = " ".join([q, *terms])
        return head + refusal + LOOKUP + (
            f"hits = pages_for({query!r})\n"
            f"answer = 'Not in the knowledge base.'\n"
            f"for h in hits[:3]:\n"
            f"    reply = ask_page(question, h['page'], {' '.join(terms) + ' ' + q!r}, 6000)\n"
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
    form = shape(q) if choice.action == "find_all" else None
    if form:
        return head + (
            f"shape = {form!r}  # the items' own form, read off the question: code finds every one\n"
            f"found = grep(shape, where={notes!r}, context=0, limit=20)\n"
            f"items = {{}}\n"
            f"for f in found:\n"
            f"    for item in f['matches']:\n"
            f"        where = items.setdefault(item, [])\n"
            f"        if f['title'] not in where:\n"
            f"            where.append(f['title'])\n" + NAMED)
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
            f"                where.append(f['title'])\n" + NAMED)
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
        f"    found = None\n"
        f"    for h in pages_for(part)[:3]:\n"
        f"        reply = ask_page(part, h['page'], part, 5000)\n"
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
