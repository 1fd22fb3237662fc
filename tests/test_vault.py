import json
import unicodedata

import pytest

from kb.core.errors import PageEditedError, VaultError
from kb.core.vault import LAYOUT, Page, Vault
from conftest import write


def snapshot(root):
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None, p.stat().st_mtime_ns)
            for p in root.rglob("*")}


def test_init_creates_layout_and_is_idempotent(tmp_path):
    vault, created = Vault.init(tmp_path / "v", "# config\n")
    for d in LAYOUT:
        assert (vault.root / d).is_dir()
    for f in ("index.md", "log.md", ".kb/config.toml", ".obsidian/app.json"):
        assert (vault.root / f).is_file()
    assert json.loads((vault.root / ".obsidian/app.json").read_text())["userIgnoreFilters"] == [".kb/"]
    before = snapshot(vault.root)
    (vault.root / "index.md").write_text("person's index\n")  # an existing file is never replaced
    before["index.md"] = ((vault.root / "index.md").read_bytes(), (vault.root / "index.md").stat().st_mtime_ns)
    _, created_again = Vault.init(vault.root, "# other config\n")
    assert created_again == []
    assert snapshot(vault.root) == before


def test_open_and_find(tmp_path):
    vault, _ = Vault.init(tmp_path / "v", "")
    deep = vault.root / "wiki" / "concepts"
    assert Vault.find(deep).root == vault.root
    with pytest.raises(VaultError, match="no kb vault"):
        Vault.find(tmp_path)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(VaultError, match="is a file"):
        Vault.open(tmp_path / "afile")
    with pytest.raises(VaultError, match="not a kb vault"):
        Vault.open(tmp_path)


def test_write_is_atomic_and_stamped(tmp_path):
    vault, _ = Vault.init(tmp_path, "")
    page = vault.write(Page("wiki/concepts/Yeast.md", {"title": "Yeast", "type": "concept"}, "# Yeast\n"))
    assert page.meta["kb_hash"]
    again = vault.read("wiki/concepts/Yeast.md")
    assert again.state == "kb" and again.body == "# Yeast\n" and again.title == "Yeast"
    assert not [p for p in (tmp_path / "wiki/concepts").iterdir() if p.name.endswith(".kb-tmp")]
    # kb may overwrite its own unchanged page
    vault.write(Page("wiki/concepts/Yeast.md", {"title": "Yeast", "type": "concept"}, "# Yeast\n\nMore.\n"))


def test_a_person_edit_is_never_silently_overwritten(tmp_path):
    vault, _ = Vault.init(tmp_path, "")
    vault.write(Page("wiki/concepts/Salt.md", {"title": "Salt"}, "kb text\n"))
    path = tmp_path / "wiki/concepts/Salt.md"
    path.write_text(path.read_text().replace("kb text", "my own words"))
    assert vault.read("wiki/concepts/Salt.md").state == "edited"
    with pytest.raises(PageEditedError, match="edited by hand"):
        vault.write(Page("wiki/concepts/Salt.md", {"title": "Salt"}, "new kb text\n"))
    assert "my own words" in path.read_text()
    # re-dumping the same YAML differently is not an edit
    vault.write(Page("wiki/concepts/Pepper.md", {"title": "Pepper", "tags": ["a"]}, "x\n"), force=True)
    p2 = tmp_path / "wiki/concepts/Pepper.md"
    p2.write_text(p2.read_text().replace("tags:\n- a", "tags: [a]"))
    assert vault.read("wiki/concepts/Pepper.md").state == "kb"
    # a page kb never wrote is not kb's to replace
    write(tmp_path, "wiki/concepts/Mine.md", "# written by a person\n")
    assert vault.read("wiki/concepts/Mine.md").state == "foreign"
    with pytest.raises(PageEditedError):
        vault.write(Page("wiki/concepts/Mine.md", {}, "x"))


def test_unicode_names_are_one_note(tmp_path):
    vault, _ = Vault.init(tmp_path, "")
    nfd = unicodedata.normalize("NFD", "Crème brûlée.md")
    write(tmp_path, f"wiki/concepts/{nfd}", "# Crème\n")
    write(tmp_path, "Home.md", "[[Crème brûlée]]\n")
    files = vault.files()
    nfc = unicodedata.normalize("NFC", "wiki/concepts/Crème brûlée.md")
    assert nfc in files and len([f for f in files if "Cr" in f]) == 1
    assert vault.read(nfc).body == "# Crème\n"
    graph = vault.graph()
    assert graph.broken == [] and graph.inbound(nfc) == {"Home.md"}


def test_graph_backlinks_and_broken(tmp_path):
    vault, _ = Vault.init(tmp_path, "")
    write(tmp_path, "wiki/concepts/A.md", "[[B]] [[B|again]] [[Nowhere]]\n")
    write(tmp_path, "wiki/concepts/B.md", "![[A]]\n`[[InCode]]`\n")
    write(tmp_path, "raw/clip.md", "[[links in raw sources are data]]\n")
    g = vault.graph()
    assert g.inbound("wiki/concepts/B.md") == {"wiki/concepts/A.md"}
    assert g.inbound("wiki/concepts/A.md") == {"wiki/concepts/B.md"}
    assert [r.link.target for r in g.broken] == ["Nowhere"]


def test_paths_outside_the_vault_are_refused(tmp_path):
    vault, _ = Vault.init(tmp_path / "v", "")
    from kb.core.errors import PageError
    with pytest.raises(PageError, match="outside the vault"):
        vault.write(Page("../escape.md", {}, "x"))
    assert not (tmp_path / "escape.md").exists()
