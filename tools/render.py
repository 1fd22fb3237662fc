"""Answers as files a person keeps: a markdown page, a Marp slide deck, a matplotlib chart.

Everything here is deterministic formatting of an answer that already exists; the only model
call is the chart's, which asks for labelled numbers and keeps only numbers that occur verbatim
in the text the answer was drawn from (a chart of invented figures is worse than none).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from kb.core.pages import first_sentence, link
from kb.core.vault import Page


def _sources_md(cited: list[tuple[str, str]]) -> list[str]:
    return [f"- {link(p, t)}" for p, t in cited] or ["- (no page in the knowledge base answers this)"]


def answer_page(path: str, question: str, answer: str, cited: list[tuple[str, str]], *, mode: str,
                model: str, fmt: str = "md", extra: list[str] = ()) -> Page:
    body = [f"# {question}", "", answer.strip(), "", *extra, "## Sources", "", *_sources_md(cited), ""]
    meta = {"title": question, "type": "answer", "aliases": [], "tags": ["answer", fmt],
            "sources": [link(p, t) for p, t in cited], "description": first_sentence(answer),
            "mode": mode, "model": model, "created": date.today().isoformat(),
            "updated": date.today().isoformat()}
    return Page(path, meta, "\n".join(body))


def marp_deck(path: str, question: str, answer: str, cited: list[tuple[str, str]], *, mode: str,
              model: str) -> Page:
    """A Marp deck: `marp: true` frontmatter, `---` between slides, at most 4 bullets a slide."""
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", answer.strip()) if s.strip()]
    slides = [f"# {question}\n\n*Answered from the knowledge base ({mode}, {date.today().isoformat()})*"]
    for i in range(0, max(1, len(sentences)), 4):
        chunk = sentences[i:i + 4] or [answer.strip()]
        slides.append("## Answer\n\n" + "\n".join(f"- {s}" for s in chunk))
    slides.append("## Sources\n\n" + "\n".join(_sources_md(cited)))
    meta = {"marp": True, "theme": "default", "paginate": True, "title": question, "type": "answer",
            "tags": ["answer", "marp"], "sources": [link(p, t) for p, t in cited],
            "description": first_sentence(answer), "mode": mode, "model": model,
            "created": date.today().isoformat(), "updated": date.today().isoformat()}
    return Page(path, meta, "\n\n---\n\n".join(slides) + "\n")


CHART_SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "unit": {"type": "string"},
        "items": {"type": "array", "minItems": 1, "maxItems": 8,
                  "items": {"type": "object", "properties": {"label": {"type": "string"},
                                                            "value": {"type": "number"}},
                            "required": ["label", "value"]}},
    },
    "required": ["title", "unit", "items"],
}


def _num_in(value: float, text: str) -> bool:
    forms = {f"{value:g}", f"{value:,.0f}" if value == int(value) else f"{value:,}", str(value)}
    if value == int(value):
        forms.add(str(int(value)))
    return any(re.search(r"(?<![\d.])" + re.escape(f) + r"(?![\d])", text) for f in forms)


def chart_data(engine, question: str, text: str) -> dict | None:
    """Labelled numbers for a chart, each checked against the text; None when fewer than two hold."""
    user = (f"Text:\n{text[:6000]}\n\nQuestion: {question}\n"
            "List the numbers from the text that answer the question, each with a short label, as JSON. "
            "Use only numbers written in the text.")
    reply = engine.chat([{"role": "user", "content": user}], json_schema=CHART_SCHEMA, max_tokens=300,
                        temperature=0.0)
    try:
        data = reply.json()
    except Exception:
        return None
    items = [i for i in data.get("items", []) if isinstance(i.get("value"), (int, float))
             and str(i.get("label", "")).strip() and _num_in(float(i["value"]), text)]
    seen, unique = set(), []
    for i in items:
        key = (str(i["label"]).strip().lower(), float(i["value"]))
        if key not in seen:
            seen.add(key)
            unique.append({"label": str(i["label"]).strip()[:40], "value": float(i["value"])})
    if len(unique) < 2:
        return None
    return {"title": str(data.get("title") or question)[:80], "unit": str(data.get("unit") or "")[:30],
            "items": unique}


def figures_from_text(text: str) -> dict | None:
    """Fallback when the model gives no checkable numbers: 'label: number' pairs written in the text."""
    pairs = re.findall(r"([A-Za-z][A-Za-z0-9 ./-]{2,30}?)\s*(?:[:=]|of|at|is)\s*(\d[\d,]*\.?\d*)\s*(%?)", text)
    items, seen = [], set()
    for label, num, pct in pairs:
        try:
            value = float(num.replace(",", ""))
        except ValueError:
            continue
        label = label.strip()
        if label.lower() in seen:
            continue
        seen.add(label.lower())
        items.append({"label": label[:40], "value": value})
        if len(items) == 8:
            break
    return {"title": "Figures in the knowledge base", "unit": "", "items": items} if len(items) >= 2 else None


def render_chart(data: dict, png: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    labels = [i["label"] for i in data["items"]]
    values = [i["value"] for i in data["items"]]
    fig, ax = plt.subplots(figsize=(7, 0.6 * len(labels) + 1.6), dpi=110)
    bars = ax.barh(labels[::-1], values[::-1], color="#4C72B0")
    ax.bar_label(bars, labels=[f"{v:g}" for v in values[::-1]], padding=3)
    ax.set_title(data["title"])
    if data.get("unit"):
        ax.set_xlabel(data["unit"])
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    tmp = png.with_name(f".{png.name}.kb-tmp")
    fig.savefig(tmp, format="png")
    plt.close(fig)
    tmp.replace(png)
    return png
