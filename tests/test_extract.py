"""What compile reads from HTML and PDF sources, seen through `kb compile`: the text a scripted
model server is sent, and the source page written from it."""

import re

import pytest

from conftest import run_kb
from fakes import CompileFake
from scripted_server import ScriptedServer

ARTICLE = """<html><head><title>Benchmarks of small models</title></head><body>
<div class="cookie-banner">We use cookies to improve your experience. Accept all cookies?</div>
<nav><a href="/">Home</a> <a href="/about">About</a></nav>
<aside class="sidebar"><h3>Popular posts</h3><ul><li>Ten tricks for pandas dataframes</li></ul></aside>
<article>
<h1>Benchmarks of small models</h1>
<p>We measured the throughput of several small language models on one laptop CPU. The results
below are the median of five runs; see <a href="https://example.org/method">the method</a>.</p>
<table><tr><th>Model</th><th>Tokens per second</th></tr>
<tr><td>1</td><td>6.0</td></tr>
<tr><td>SmolLM2-135M</td><td>48.5</td></tr></table>
<p>Things we noticed while measuring them:</p>
<ul><li>Quantised models are faster.</li><li>Prompt length matters more than model size.</li></ul>
<pre>kb compile --json
kb ask "what"</pre>
<img src="assets/chart.png" alt="throughput chart">
<p>The larger model was slower by a factor of eight, which matters for interactive use.</p>
</article>
<div id="comments"><h2>Comments</h2><p>Great post! I tried it on my Raspberry Pi and it was slow.</p></div>
<footer>Copyright 2026 Example Corp</footer>
</body></html>
"""


def compile_with_server(root):
    with ScriptedServer(CompileFake()) as server:
        r = run_kb("compile", cwd=root, env=server.env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return server.documents()


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "v"
    assert run_kb("init", root).returncode == 0
    return root


def test_html_keeps_tables_lists_links_code_and_images(root):
    (root / "raw" / "x.html").write_text(ARTICLE)
    (root / "raw" / "assets").mkdir(exist_ok=True)
    (root / "raw" / "assets" / "chart.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    text = compile_with_server(root)
    assert "16.0" not in text and re.search(r"\|\s*1\s*\|\s*6\.0\s*\|", text)  # cells stay apart
    assert re.search(r"\|\s*SmolLM2-135M\s*\|\s*48\.5\s*\|", text)
    for gone in ("cookies", "Popular posts", "Raspberry Pi", "Copyright 2026", "About"):
        assert gone not in text, gone
    assert "- Quantised models are faster." in text
    assert "[the method](https://example.org/method)" in text
    assert "```\nkb compile --json\nkb ask \"what\"\n```" in text
    page = (root / "wiki" / "sources" / "Benchmarks of small models.md").read_text()
    assert "## Images" in page and "![[raw/assets/chart.png]]" in page


def _two_column_pdf(path):
    """A page drawn the way many writers draw one: row by row across both columns, then a table."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    left = ["Fermentation turns sugar into acid when", "lactic bacteria grow in salty brine. The",
            "brine should hold two percent salt by", "weight, which keeps spoilage organisms",
            "out while the good bacteria thrive in it."]
    right = ["Temperature sets the pace of the whole", "process: at eighteen degrees the first",
             "sour notes appear within three days, and", "a cold cellar slows the later extrac-",
             "tion of flavour from the vegetables."]
    with matplotlib.rc_context({"pdf.fonttype": 42}):
        fig = plt.figure(figsize=(8.5, 11))
        fig.text(0.1, 0.92, "Notes on lactic fermentation", fontsize=16)
        for i, (a, b) in enumerate(zip(left, right)):
            fig.text(0.08, 0.85 - i * 0.025, a, fontsize=10)
            fig.text(0.53, 0.85 - i * 0.025, b, fontsize=10)
        for i, (a, b) in enumerate([("Model", "Tokens per second"), ("1", "6.0"), ("SmolLM2", "48.5")]):
            fig.text(0.1, 0.55 - i * 0.025, a, fontsize=10)
            fig.text(0.3, 0.55 - i * 0.025, b, fontsize=10)
        fig.savefig(path, format="pdf")
        plt.close(fig)


def test_pdf_columns_read_in_order_tables_keep_cells_hyphens_join(root):
    _two_column_pdf(root / "raw" / "notes.pdf")
    text = compile_with_server(root)
    assert "lactic bacteria grow in salty brine. The\nbrine should hold" in text  # not interleaved
    assert text.index("thrive in it.") < text.index("Temperature sets the pace")
    assert "the later extraction of flavour" in " ".join(text.split())
    assert "16.0" not in text and re.search(r"\|\s*1\s*\|\s*6\.0\s*\|", text)
    page = (root / "wiki" / "sources" / "Notes on lactic fermentation.md").read_text()
    assert "Raw file: [[raw/notes.pdf|notes.pdf]]" in page


def test_xhtml_compiles_and_an_empty_page_is_one_line(root):
    (root / "raw" / "x.html").write_text('<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/'
                                         '1999/xhtml"><head><title>An XHTML page</title></head><body><p>Brine '
                                         'keeps the cabbage crisp while lactic bacteria sour it.</p></body></html>')
    (root / "raw" / "empty.html").write_text("<html><body><div></div></body></html>")
    with ScriptedServer(CompileFake()) as server:
        r = run_kb("compile", cwd=root, env=server.env, timeout=300)
    assert "raw/empty.html: no readable text" in r.stderr and "Traceback" not in r.stderr
    assert (root / "wiki" / "sources" / "An XHTML page.md").exists()
