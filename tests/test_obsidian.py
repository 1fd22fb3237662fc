"""The ml-blog vault (compiled with a scripted engine) opened the way its `.obsidian/` settings say
Obsidian opens it: links in the format Obsidian is told to write, attachments where compile
looks, the home note the Homepage plugin is pointed at, and frontmatter typed as the Properties
view and Dataview read it. Obsidian itself cannot run here; the checks read what it reads."""

import datetime
import json
import re
from pathlib import Path

import pytest
import yaml

from conftest import CORPUS
from fakes import CompileFake
from kb.api import Kb, init
from kb.core import config, kinds, markdown
from kb.core.links import LinkIndex

POSTS = sorted((CORPUS / "ml-blog").glob("*.md"))
pytestmark = pytest.mark.skipif(not POSTS, reason="the shared ml-blog corpus is missing")


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    v, _ = init(tmp_path_factory.mktemp("obsidian") / "ml-blog", {})
    for p in POSTS:
        (v.root / "raw" / p.name).write_bytes(p.read_bytes())
    kb = Kb(v, config.load(v.config_path, {}), engine_factory=lambda: CompileFake())
    report = kb.compile().run()
    assert len(report.compiled) == len(POSTS) and not report.failed
    return kb


def settings(kb, name: str):
    return json.loads((kb.vault.root / ".obsidian" / name).read_text())


def raw_frontmatter(path: Path) -> dict:
    """The YAML as Obsidian and Dataview parse it: no normalising of kb's own reader."""
    text = path.read_text(encoding="utf-8")
    return yaml.safe_load(text.split("---\n", 2)[1])


def test_links_match_the_link_settings(kb):
    app = settings(kb, "app.json")
    assert app["useMarkdownLinks"] is False and app["newLinkFormat"] == "absolute" and app["alwaysUpdateLinks"]
    files = kb.vault.files()
    index = LinkIndex(files)
    notes = [n for n in kb.vault.notes() if not n.startswith(kinds.RAW)]
    seen = 0
    for rel in notes:
        text = (kb.vault.root / rel).read_text(encoding="utf-8")
        assert not re.search(r"\]\((?!https?:)[^)]*\.md\)", text), f"{rel}: a markdown link to a note"
        _, body = markdown.split_frontmatter(text)
        for link in markdown.parse(body).links:
            target = index.resolve(link.target, rel)
            assert target is not None, f"{rel}: [[{link.target}]] resolves to nothing"
            # absolute: the link is the path from the vault root (with or without .md), not a bare name
            assert link.target in (target, target[:-3]), f"{rel}: [[{link.target}]] is not a vault path"
            seen += 1
    assert seen > len(POSTS) * 3  # every source page links its raw file, its concepts, the index


def test_attachments_go_where_compile_treats_them_as_assets(kb):
    folder = settings(kb, "app.json")["attachmentFolderPath"]
    assert folder + "/" == kinds.ASSETS and (kb.vault.root / folder).is_dir()
    (kb.vault.root / folder / "pasted.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    assert not any(s.startswith(kinds.ASSETS) for s in kb.vault.sources())  # never compiled as a source


def test_the_home_note_is_the_index_and_reaches_every_page(kb):
    home = settings(kb, "plugins/homepage/data.json")
    page = home["homepages"]["Main Homepage"]
    assert home["version"] == 4 and page["kind"] == "File" and page["openOnStartup"] is True
    files = kb.vault.files()
    assert LinkIndex(files).resolve(page["value"], "") == "index.md"  # getFirstLinkpathDest(value, "/")
    graph = kb.vault.graph()
    linked = {r.target for r in graph.outlinks["index.md"] if r.ok}
    pages = {p for p in kb.vault.wiki_pages() if kinds.is_page(p)}
    assert pages and pages <= linked


def test_frontmatter_is_typed_as_properties_and_dataview_read_it(kb):
    types = settings(kb, "types.json")["types"]
    dates = [k for k, t in types.items() if t == "date"]
    lists = [k for k, t in types.items() if t in ("multitext", "aliases", "tags")]
    assert {"created", "updated"} <= set(dates) and {"aliases", "tags", "sources"} <= set(lists)
    index = LinkIndex(kb.vault.files())
    for rel in kb.vault.wiki_pages():
        meta = raw_frontmatter(kb.vault.root / rel)
        for key in dates:
            if key in meta:
                assert type(meta[key]) is datetime.date, f"{rel}: {key} is {meta[key]!r}, not a YAML date"
        for key in lists:
            if key in meta:
                assert isinstance(meta[key], list) and all(isinstance(x, str) for x in meta[key]), (rel, key)
        for src in meta.get("sources") or []:
            m = re.fullmatch(r"\[\[([^|\]#]+)(?:\|[^\]]*)?\]\]", src)
            assert m and index.resolve(m.group(1), rel), f"{rel}: source {src!r} is not a link that resolves"


def test_each_alias_names_its_page(kb):
    """An alias finds its page, except where a note is named that: a link goes to the file first,
    in Obsidian as in kb (aliases only feed the switcher and link suggestions)."""
    named = {Path(p).stem.lower() for p in kb.vault.notes()}
    found = 0
    for rel in kb.vault.notes("wiki/concepts"):
        meta = raw_frontmatter(kb.vault.root / rel)
        for alias in meta.get("aliases") or []:
            assert alias.strip() and alias != meta["title"]
            if alias.lower() not in named:
                assert kb.find_page(alias) == rel
                found += 1
    assert found, "the ml-blog concepts carry acronym aliases; none were written"


def test_kbs_state_stays_out_of_obsidian(kb):
    assert ".kb/" in settings(kb, "app.json")["userIgnoreFilters"]
    for path in (kb.vault.root / ".obsidian").rglob("*.json"):
        json.loads(path.read_text())  # every file Obsidian reads is valid JSON
