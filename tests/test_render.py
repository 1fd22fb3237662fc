"""Answers rendered as charts and Marp decks, through `kb ask` against a scripted model server."""

import json
import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kb.agents.fake_engine import FakeEngine
from kb.compile.job import Compile
from kb.core.vault import Vault
from conftest import ROOT, run_kb
from fakes import CompileFake
from scripted_server import ScriptedServer


def vault_with(tmp_path, notes: dict[str, str]) -> Path:
    vault, _ = Vault.init(tmp_path / "v", "")
    for name, text in notes.items():
        (vault.root / "raw" / name).write_text(text)
    Compile(vault, lambda: CompileFake()).run()
    return vault.root


def ask(root, script, *args):
    with ScriptedServer(FakeEngine(script)) as server:
        r = run_kb("ask", "--mode", "rag", *args, cwd=root, env=server.env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


# -- charts -----------------------------------------------------------------------------------

PILE = ("# Pile notes\n\nPublished: 2026\n\nA carbon-to-nitrogen ratio of about 30: 1 suits most compost "
        "piles, and the pile is turned weekly with a garden fork.\n")
BENCH = ("# Bench notes\n\nPublished: 2026\n\nWe timed two small models on one laptop processor, five runs "
         "each, and kept the median throughput of every model.\n\n| Model | Tokens per second |\n|---|---|\n"
         "| Qwen2.5-0.5B | 12.5 |\n| SmolLM2-135M | 48.5 |\n")


def test_no_chart_from_numbers_that_share_no_unit(tmp_path):
    root = vault_with(tmp_path, {"pile.md": PILE})
    r = ask(root, ["A carbon-to-nitrogen ratio of about 30:1 [1].", "not JSON"],
            "--format", "chart", "--save", "--json", "What ratio suits a compost pile?")
    out = json.loads(r.stdout)
    assert out["png"] is None  # 'Published: 2026' and '30: 1' are not bars of one chart
    page = (root / out["path"]).read_text()
    assert page.count("*No chart:") == 1 and "same unit" in page
    assert not list((root / "wiki" / "answers").rglob("*.png"))


def test_chart_keeps_the_numbers_that_share_a_unit(tmp_path):
    root = vault_with(tmp_path, {"bench.md": BENCH})
    mixed = {"title": "Speed", "unit": "", "items": [{"label": "SmolLM2-135M", "value": 48.5},
                                                     {"label": "Published", "value": 2026}]}
    r = ask(root, ["SmolLM2-135M ran at 48.5 tokens per second [1].", json.dumps(mixed)],
            "--format", "chart", "--save", "--json", "How fast are the small models?")
    out = json.loads(r.stdout)
    png = Path(out["png"])
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert "No chart" not in (root / out["path"]).read_text()


def test_chart_data_is_one_unit_with_labels():
    from kb.tools import chart
    text = BENCH + "\nKimchi ferments at 18-22 °C and keeps at 4 °C. Salt: 2 g.\n"
    mixed = {"title": "Speed", "unit": "", "items": [{"label": "SmolLM2-135M", "value": 48.5},
                                                     {"label": "Published", "value": 2026}]}
    data, why = chart.chart_for(FakeEngine([json.dumps(mixed)]), "How fast?", text)
    assert why == "" and data["unit"] == "Tokens per second"
    assert [(i["label"], i["value"]) for i in data["items"]] == [("Qwen2.5-0.5B", 12.5), ("SmolLM2-135M", 48.5)]
    temps = {"title": "Temperatures", "unit": "°C", "items": [{"label": "start", "value": 18},
                                                              {"label": "fridge", "value": 4}]}
    data, _ = chart.chart_for(FakeEngine([json.dumps(temps)]), "How warm?", text)
    assert data["unit"] == "°C" and len(data["items"]) == 2  # a range's unit counts for both ends
    assert chart.from_text(PILE) == (None, chart.from_text("")[1])


# -- Marp decks -------------------------------------------------------------------------------

KIMCHI = (ROOT / "vault" / "raw" / "kimchi-at-home.md").read_text()
LONG = ("Rinse it and mix in the paste of garlic, ginger, fish sauce and gochugaru, working it into every "
        "leaf so that nothing is left dry, which takes a while but matters a great deal for an even "
        "fermentation later on, in the jar and in the fridge, over the following weeks and months")
ANSWER = ("Kimchi is napa cabbage fermented in brine, e.g. about 2-3% salt by weight [1]. It keeps for "
          "weeks at 4 °C [1]. " + " ".join(f"Point {i} is one more thing a reader of this deck should "
                                            "know about kimchi and its fermentation." for i in range(6)) +
          f"\n\nThe steps:\n\n1. Brine the cabbage overnight [1].\n2. {LONG}.\n3. Pack it into a jar.\n"
          f"4. Leave it 1-2 days at room temperature.\n5. Move it to the fridge [1].\n")


def visible(line: str) -> str:
    return re.sub(r"\]\([^)]*\)", "]", line).strip()


def slides_of(deck: str) -> list[str]:
    body = deck.split("\n---\n", 1)[1]  # past the frontmatter
    return [s.strip() for s in body.split("\n---\n")]


@pytest.fixture(scope="module")
def deck(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("marp")
    root = vault_with(tmp, {"kimchi-at-home.md": KIMCHI})
    ask(root, [ANSWER], "--format", "marp", "--out", tmp / "deck.md", "How do I make kimchi?")
    return tmp / "deck.md"


def test_deck_stays_on_its_slides(deck):
    text = deck.read_text()
    slides = slides_of(text)
    assert "[[" not in "\n".join(slides)  # Marp shows wikilinks as typed
    for s in slides:
        lines = [visible(ln) for ln in s.splitlines()[1:] if ln.strip() and not ln.startswith("```")]
        wrapped = sum(max(1, math.ceil(len(ln) / 75)) for ln in lines)
        assert wrapped <= 9, s  # the default theme holds 9 to 10 lines of 29 px text under a title
    bullets = [ln for s in slides for ln in s.splitlines() if ln.startswith("- ")]
    assert any("e.g. about 2-3% salt by weight" in b for b in bullets)  # one sentence, one bullet
    numbered = [ln.split(".", 1)[0] for s in slides for ln in s.splitlines() if re.match(r"\d+\. ", ln)]
    sources = slides[-1]
    assert numbered[:5] == ["1", "2", "3", "4", "5"]  # the list keeps its order across slides
    assert sources.startswith("## Sources") and "1. Kimchi at home" in sources
    listed = len(re.findall(r"^\d+\. ", sources, re.M))
    markers = {int(n) for s in slides[:-1] for group in re.findall(r"\[(\d+(?:, \d+)*)\]", s)
               for n in group.split(", ")}
    assert markers and max(markers) <= listed  # every [n] is a numbered source


def _marp() -> Path | None:
    cache = Path.home() / ".cache" / "kb"
    for exe in (shutil.which("marp"), *(cache / d / "node_modules" / ".bin" / "marp" for d in ("marp", "npm-marp"))):
        if exe and Path(exe).exists():
            return Path(exe)
    return None


OVERFLOW = """<script>window.addEventListener('load', () => { const out = [];
document.querySelectorAll('section').forEach((s) => { const r = s.getBoundingClientRect(); let worst = 0;
s.querySelectorAll('li, p, pre, h1, h2, table').forEach((e) => { const b = e.getBoundingClientRect();
worst = Math.max(worst, b.bottom - r.bottom, r.top - b.top, b.right - r.right); });
out.push(Math.round(worst)); });
const d = document.createElement('pre'); d.id = 'kb-overflow'; d.textContent = out.join(',');
document.body.appendChild(d); });</script>"""


def test_deck_renders_with_marp_cli_and_nothing_runs_off(deck, tmp_path):
    marp, chromium = _marp(), shutil.which("chromium") or shutil.which("chromium-browser")
    if marp is None or chromium is None:
        pytest.skip("needs marp-cli and Debian's chromium (`make marp` installs both)")
    env = {**os.environ, "CHROME_PATH": chromium, "CI": "1"}
    html = tmp_path / "deck.html"
    r = subprocess.run([str(marp), "--no-stdin", "--template", "bare", str(deck), "-o", str(html)],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    html.write_text(html.read_text().replace("</body>", OVERFLOW + "</body>"))
    r = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", html.as_uri()],
                       capture_output=True, text=True, timeout=120)
    past = re.search(r'<pre id="kb-overflow">([^<]*)</pre>', r.stdout)
    assert past, r.stderr[-2000:]
    overflow = [int(x) for x in past.group(1).split(",")]
    assert len(overflow) == len(slides_of(deck.read_text())) and max(overflow) <= 0, overflow
    r = subprocess.run([str(marp), "--no-stdin", "--images", "png", str(deck), "-o", str(tmp_path / "deck.png")],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0 and (tmp_path / "deck.001.png").read_bytes()[:4] == b"\x89PNG", r.stderr
