"""Charts of an answer's numbers, drawn only from numbers that share a unit and have a label each.

A bar chart says its bars measure the same thing. Numbers picked from pages without that check
chart nonsense: 'Published: 2026' beside 'a ratio of about 30:1'. So a number counts only as a
measure: written with a unit ('55 °C', '48.5 tokens/s', '2%') or in a table column whose header
names what it measures, and with a label (the table row's name, or the words before 'label: 9 g').
The model may choose which measures answer the question and name them; code checks every value
is written in the text with the one unit they share. No shared unit: no chart, and a reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from kb.core.concepts import STOP
from kb.core.kinds import TEMP_SUFFIX

UNITS = {"%", "°c", "°f", "x", "×", "ms", "s", "sec", "seconds", "min", "minutes", "h", "hours", "days",
         "weeks", "months", "years", "mg", "g", "kg", "t", "ml", "l", "litre", "litres", "liter", "liters",
         "mm", "cm", "m", "km", "kb", "mb", "gb", "tb", "kib", "mib", "gib", "tokens", "tokens/s", "tok/s",
         "it/s", "w", "kw", "kwh", "hz", "mhz", "ghz", "ppm", "params", "parameters", "layers", "experts",
         "gpus", "steps", "epochs", "$", "€", "usd", "eur", "k", "m", "b", "billion", "million", "fps", "qps"}
NUM = r"\d[\d,]*(?:\.\d+)?"
# a number (or a range) and the word after it; a ratio ('30:1') or a date ('2026-05') is neither
QUANTITY = re.compile(rf"(?<![\w.:/-])({NUM})(?:\s*[-–]\s*({NUM}))?(?![\d:/]|-\d)\s*(°\s?[CF]|%|×|[A-Za-z]+(?:/[a-z]+)?)?")
LABELLED = re.compile(rf"([A-Za-z][A-Za-z0-9 ()'+-]{{1,40}}?)\s*(?::|=|\bof\b|\bat\b|\bis\b|\bwas\b|\bare\b|\bwere\b)"
                      rf"\s*(?:about|around|roughly|nearly|~|≈)?\s*({NUM})(?![\d:/]|\s*[-–]\s*\d)\s*(°\s?[CF]|%|×|[A-Za-z]+(?:/[a-z]+)?)")
SCHEMA = {
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


@dataclass(frozen=True)
class Measure:
    label: str
    value: float
    unit: str


SPELLING = {"°c": "°C", "°f": "°F", "kb": "KB", "mb": "MB", "gb": "GB", "tb": "TB", "kib": "KiB",
            "mib": "MiB", "gib": "GiB", "w": "W", "kw": "kW", "kwh": "kWh", "hz": "Hz", "mhz": "MHz",
            "ghz": "GHz", "usd": "USD", "eur": "EUR", "gpus": "GPUs", "fps": "FPS", "qps": "QPS"}


def _unit(word: str | None) -> str | None:
    """A unit's one spelling ('°c' and '° C' are '°C'), or None when the word is not a unit."""
    u = re.sub(r"\s+", "", word or "").lower()
    return SPELLING.get(u, u) if u in UNITS else None


def _value(num: str) -> float:
    return float(num.replace(",", ""))


def _table_measures(text: str) -> list[Measure]:
    """Markdown tables: a column of numbers measures what its header says, per row label."""
    out = []
    for block in re.findall(r"(?:^\|.*\|[ \t]*\n?)+", text, re.M):
        rows = [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in block.strip().splitlines()]
        rows = [r for r in rows if not all(re.fullmatch(r":?-{2,}:?", c) for c in r)]
        if len(rows) < 3:
            continue
        head, body = rows[0], [r for r in rows[1:] if len(r) == len(rows[0])]
        label_col = next((j for j in range(len(head)) if not all(re.fullmatch(NUM, r[j]) for r in body)), None)
        for j, name in enumerate(head):
            if j == label_col or not body or not all(re.fullmatch(NUM + r"\s*%?", r[j]) for r in body):
                continue
            if label_col is not None and re.search(r"[A-Za-z%]", name):
                out += [Measure(r[label_col][:40], _value(r[j].rstrip("% ")), name) for r in body]
            break
    return out


def measures(text: str) -> list[Measure]:
    """Every labelled number with a unit in the text, tables included, in order."""
    out = _table_measures(text)
    for m in LABELLED.finditer(re.sub(r"^\|.*$", "", text, flags=re.M)):
        unit = _unit(m.group(3))
        label = " ".join(re.split(r"[,;.!?(]", m.group(1))[-1].split()[-4:])
        if unit and any(w.lower() not in STOP and re.search(r"[A-Za-z]{2}", w) for w in label.split()):
            out.append(Measure(label, _value(m.group(2)), unit))
    return out


def units_of(value: float, text: str) -> set[str]:
    """The units this number is written with anywhere in the text (a range's unit counts for both ends)."""
    units = {m.unit for m in _table_measures(text) if m.value == value}
    for m in QUANTITY.finditer(text):
        unit = _unit(m.group(3))
        if unit and value in {_value(n) for n in m.groups()[:2] if n}:
            units.add(unit)
    return units


def _num_in(value: float, text: str) -> bool:
    forms = {f"{value:g}", f"{value:,.0f}" if value == int(value) else f"{value:,}", str(value)}
    if value == int(value):
        forms.add(str(int(value)))
    return any(re.search(r"(?<![\d.])" + re.escape(f) + r"(?![\d])", text) for f in forms)


def chart_data(engine, question: str, text: str) -> dict | None:
    """Labelled numbers the model picks for the question, kept when each is written in the text
    and all share one unit there; None otherwise."""
    user = (f"Text:\n{text[:6000]}\n\nQuestion: {question}\n"
            "List the numbers from the text that answer the question, each with a short label, as JSON. "
            "Use only numbers written in the text, all in the same unit.")
    reply = engine.chat([{"role": "user", "content": user}], json_schema=SCHEMA, max_tokens=300, temperature=0.0)
    try:
        data = reply.json()
    except Exception:  # noqa: BLE001 - a reply that is not the JSON asked for is no chart, not a crash
        return None
    seen, items = set(), []
    for i in data.get("items", []) if isinstance(data, dict) else []:
        if not isinstance(i, dict) or not isinstance(i.get("value"), (int, float)):
            continue
        label, value = str(i.get("label", "")).strip()[:40], float(i["value"])
        if label and (label.lower(), value) not in seen and _num_in(value, text):
            seen.add((label.lower(), value))
            items.append({"label": label, "value": value})
    if len(items) < 2:
        return None
    shared = set.intersection(*(units_of(i["value"], text) for i in items))
    if not shared:
        return None
    said = _unit(str(data.get("unit", "")))
    unit = said if said in shared else sorted(shared)[0]
    return {"title": str(data.get("title") or question)[:80], "unit": unit, "items": items}


def from_text(text: str) -> tuple[dict | None, str]:
    """Without the model: the largest group of measures that share a unit (at least two, with
    different labels). (data, "") or (None, the reason there is no chart)."""
    groups: dict[str, dict[str, float]] = {}
    for m in measures(text):
        groups.setdefault(m.unit, {}).setdefault(m.label, m.value)
    if not groups or max(len(g) for g in groups.values()) < 2:
        return None, ("the pages behind this answer give no two labelled numbers in the same unit "
                      "(a chart compares like with like)")
    unit, group = max(groups.items(), key=lambda kv: len(kv[1]))
    items = [{"label": k, "value": v} for k, v in list(group.items())[:8]]
    return {"title": f"Figures in the knowledge base ({unit})", "unit": unit, "items": items}, ""


def chart_for(engine, question: str, text: str) -> tuple[dict | None, str]:
    """(data, "") for a chart, or (None, a one-line reason there is none)."""
    if not text.strip():
        return None, "no pages behind this answer to take numbers from"
    data = chart_data(engine, question, text) if engine is not None else None
    return (data, "") if data else from_text(text)


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
    tmp = png.with_name(f".{png.name}{TEMP_SUFFIX}")
    fig.savefig(tmp, format="png")
    plt.close(fig)
    tmp.replace(png)
    return png
