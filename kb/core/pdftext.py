"""PDF text in reading order. pypdf's plain extraction follows the order a writer drew the text,
which for many writers is row by row across the page: two columns come out interleaved line by
line, table cells run together, and words hyphenated at a line end stay split. Its layout mode
keeps every line where it stood on the page; from that picture this module reads columns one
after the other (a gutter of spaces that runs down a block of prose lines), keeps table rows as
`| cell | cell |` rows, drops the blank lines layout mode puts between spaced lines, and joins
words hyphenated across a line break. Plain extraction stays as the fallback for pages layout
mode cannot read."""

from __future__ import annotations

import re

GAP = re.compile(r"\S( {3,})(?=\S)")  # a run of 3+ spaces between two words: a gutter or a cell break
HYPHEN = re.compile(r"([A-Za-z]{2,})-\n([a-z]\S*) ?")


def page_text(page) -> str:
    """Layout-read text where the page has columns or a table; elsewhere plain extraction, which
    spaces words more faithfully than layout mode ('See Section', not 'SeeSection')."""
    try:
        text, found = reading_order(page.extract_text(extraction_mode="layout") or "")
    except Exception:  # noqa: BLE001 - layout mode trips on fonts plain mode reads; plain is the fallback
        text, found = "", False
    return dehyphenate(text if found else (page.extract_text() or ""))


def dehyphenate(text: str) -> str:
    """'extrac-\\ntion' -> 'extraction\\n'; a hyphen before a capital ('Anglo-\\nSaxon') stays."""
    return HYPHEN.sub(lambda m: m.group(1) + m.group(2) + "\n", text)


def _gaps(line: str) -> set[int]:
    """Character positions that fall in a gutter on this line; past its end counts as empty."""
    out = set(range(len(line), 400))
    for m in GAP.finditer(line):
        out.update(range(m.start(1) + 1, m.end(1) - 1))
    return out


def _blocks(lines: list[str]) -> list[list[str]]:
    """Runs of lines separated by two or more blank lines (one blank line is only line spacing)."""
    blocks, cur, blank = [], [], 0
    for line in lines:
        if not line.strip():
            blank += 1
            continue
        if blank >= 2 and cur:
            blocks.append(cur)
            cur = []
        blank = 0
        cur.append(line.rstrip())
    if cur:
        blocks.append(cur)
    return blocks


def _segments(block: list[str]) -> list[tuple[list[str], set[int]]]:
    """Consecutive lines that share a gutter position, with the positions they share."""
    out: list[tuple[list[str], set[int]]] = []
    for line in block:
        gaps = _gaps(line)
        if out and out[-1][1] & gaps:
            out[-1] = (out[-1][0] + [line], out[-1][1] & gaps)
        else:
            out.append(([line], gaps))
    return out


def _prose(lines: list[str]) -> str:
    return "\n".join(" ".join(ln.split()) for ln in lines)


def _split(lines: list[str], shared: set[int]) -> str | None:
    """The segment's text in reading order, or None when it has neither columns nor a table."""
    two_sided = [ln for ln in lines if GAP.search(ln)]
    width = max(len(ln) for ln in lines)
    gutter = [g for g in sorted(shared) if g < width]
    if len(two_sided) < 2 or not gutter:  # wide word spacing here and there is not a gutter
        return None
    g = gutter[len(gutter) // 2]
    sides = [s for s in ([ln[:g] for ln in lines], [ln[g:] for ln in lines]) if any(x.strip() for x in s)]
    if len(two_sided) >= 3 and all(sum(len(x.strip()) for x in s) / sum(1 for x in s if x.strip()) >= 20
                                   for s in sides):
        return "\n\n".join(_prose([x for x in s if x.strip()]) for s in sides)  # columns: left first
    rows = []  # a table: one row a line, cells kept apart
    for ln in lines:
        cells = [c.strip() for c in re.split(r" {3,}", ln.strip())]
        rows.append("| " + " | ".join(cells) + " |" if len(cells) > 1 else ln.strip())
    return "\n".join(rows)


def reading_order(layout: str) -> tuple[str, bool]:
    """(the text, whether any columns or table were found in it)."""
    parts, found = [], False
    for block in _blocks(layout.splitlines()):
        for lines, shared in _segments(block):
            text = _split(lines, shared)
            found = found or text is not None
            parts.append(text if text is not None else _prose(lines))
    return "\n\n".join(p for p in parts if p.strip()), found
