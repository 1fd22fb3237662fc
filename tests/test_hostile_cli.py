"""Each bad input of issue 14 through the real command line: the exit code, one line on stderr
naming the file, the rest of the batch done, raw/ byte-identical, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import unicodedata
from pathlib import Path

import pytest

from conftest import run_kb
from fakes import CompileFake
from scripted_server import ScriptedServer
from kb.compile.job import Compile
from kb.core import catalog
from kb.core.vault import Vault

GOOD = "# Compost\n\nCompost turns kitchen scraps into soil. Bacteria break down the scraps.\n"


def vault(tmp_path, files: dict[str, str] | None = None) -> Path:
    root = tmp_path / "v"
    assert run_kb("init", root).returncode == 0
    (root / "raw" / "good.md").write_text(GOOD)
    for name, text in (files or {}).items():
        (root / "raw" / name).write_text(text)
    return root


def kb_compile(root: Path):
    with ScriptedServer(CompileFake()) as server:
        return run_kb("compile", cwd=root, env=server.env, timeout=300)


def raw_bytes(root: Path) -> dict:
    return {str(p.relative_to(root)): (p.read_bytes() if not p.is_symlink() else os.readlink(p))
            for p in sorted((root / "raw").rglob("*")) if p.is_symlink() or p.is_file()}


def lines_naming(r, name: str) -> list[str]:
    assert "Traceback" not in r.stderr, r.stderr
    return [ln for ln in r.stderr.splitlines() if name in ln and ln.startswith("kb:")]


def sound(root: Path) -> None:
    v = Vault.open(root)
    assert [f"{b.source}: {b.link.target}" for b in v.graph().broken] == []
    assert "wiki/sources/Compost.md" in v.wiki_pages()  # the rest of the batch is done


def test_a_250_character_filename_ingests_and_compiles(tmp_path):
    root = vault(tmp_path)
    (root / "raw" / "good.md").unlink()
    src = tmp_path / "in"
    src.mkdir()
    long = "a" * 247 + ".md"
    (src / long).write_text("# Long\n\nA long name holds a note about soil.\n")
    (src / "good.md").write_text(GOOD)
    r = run_kb("ingest", src, cwd=root)
    assert r.returncode == 0 and "2 added" in r.stdout, r.stdout + r.stderr
    before = raw_bytes(root)
    r = kb_compile(root)
    assert r.returncode == 0 and not lines_naming(r, "raw/"), r.stderr
    assert raw_bytes(root) == before and (root / "raw" / long).is_file()
    sound(root)


@pytest.mark.parametrize("name", ["a [[b]] c.md", "p|q.md", "h#1.md", "x^y.md"])
def test_a_name_with_link_syntax_gets_no_broken_link(tmp_path, name):
    root = vault(tmp_path, {name: "# Odd\n\nAn oddly named note about soil and scraps.\n"})
    before = raw_bytes(root)
    r = kb_compile(root)
    assert r.returncode == 0 and not lines_naming(r, name), r.stderr
    assert raw_bytes(root) == before
    sound(root)


def test_nfc_nfd_twins_are_a_conflict_by_name(tmp_path):
    nfd = unicodedata.normalize("NFD", "café.md")
    root = vault(tmp_path, {unicodedata.normalize("NFC", nfd): "# One\n\nThe first café note.\n",
                            nfd: "# Two\n\nThe second café note.\n"})
    before = raw_bytes(root)
    r = kb_compile(root)
    named = [ln for ln in r.stderr.splitlines() if "NFC/NFD" in ln]
    assert r.returncode == 0 and len(named) == 1 and "café" in unicodedata.normalize("NFC", named[0]), r.stderr
    assert raw_bytes(root) == before
    sound(root)


def test_a_symlink_loop_is_one_line_for_every_command(tmp_path):
    root = vault(tmp_path)
    os.symlink("loop-b.md", root / "raw" / "loop-a.md")
    os.symlink("loop-a.md", root / "raw" / "loop-b.md")
    before = raw_bytes(root)
    other = tmp_path / "other.md"
    other.write_text("# Other\n\nAnother note about scraps.\n")
    r = run_kb("ingest", other, cwd=root)
    assert r.returncode == 0 and "1 added" in r.stdout, r.stdout + r.stderr
    before["raw/other.md"] = other.read_bytes()
    r = kb_compile(root)
    assert r.returncode == 0, r.stderr
    assert len(lines_naming(r, "raw/loop-a.md")) == 1 and "loop" in lines_naming(r, "raw/loop-a.md")[0]
    assert (root / "wiki" / "sources" / "Other.md").is_file()
    for args in (("lint", "--structural"), ("search", "scraps"), ("status",)):
        r = run_kb(*args, cwd=root)
        assert "Traceback" not in r.stderr and "internal error" not in r.stderr, (args, r.stderr)
        assert r.returncode in (0, 1), (args, r.stderr)
    assert raw_bytes(root) == before
    sound(root)


def test_a_symlink_out_of_the_vault_is_skipped_and_the_rest_compiles(tmp_path):
    outside = tmp_path / "secret.md"
    outside.write_text("# Secret\n\nNot part of the vault.\n")
    root = vault(tmp_path)
    os.symlink(outside, root / "raw" / "out.md")
    before = raw_bytes(root)
    r = kb_compile(root)
    named = lines_naming(r, "raw/out.md")
    assert r.returncode == 0 and len(named) == 1 and "outside the vault" in named[0], r.stderr
    assert not any("Secret" in p.read_text() for p in (root / "wiki").rglob("*.md"))
    assert raw_bytes(root) == before
    sound(root)


def test_a_directory_where_a_page_goes_is_one_line_naming_it(tmp_path):
    root = vault(tmp_path, {"bread.md": "# Bread\n\nBread rises with yeast and scraps.\n"})
    assert kb_compile(root).returncode == 0
    page = root / "wiki" / "sources" / "Bread.md"
    page.unlink()
    page.mkdir()
    (root / "raw" / "bread.md").write_text("# Bread\n\nBread rises with yeast. Scraps feed it.\n")
    (root / "raw" / "good.md").write_text(GOOD + "\nThe pile heats up.\n")
    before = raw_bytes(root)
    r = kb_compile(root)
    named = lines_naming(r, "Bread.md")
    assert r.returncode == 0 and len(named) == 1 and "directory" in named[0], r.stderr
    assert raw_bytes(root) == before
    assert "The pile heats up" in (root / "wiki" / "sources" / "Compost.md").read_text()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through a read-only mode")
def test_a_read_only_vault_is_one_line_naming_the_path(tmp_path):
    root = vault(tmp_path)
    for p in [root, *root.rglob("*")]:
        if p.is_dir():
            p.chmod(0o555)
    try:
        r = kb_compile(root)
        assert r.returncode == 1 and "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and str(root) in r.stderr, r.stderr
    finally:
        for p in [root, *root.rglob("*")]:
            if p.is_dir():
                p.chmod(0o755)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root and unshare")
def test_a_vault_on_a_read_only_mount_is_one_line_naming_the_path(tmp_path):
    """As root a chmod does not stop writes, but a read-only mount does, for root too: the vault
    bound read-only in a private mount namespace, and `kb compile` run inside it."""
    import subprocess
    import sys
    root = vault(tmp_path)
    before = raw_bytes(root)
    script = (f'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && cd "$0" && '
              f'exec "{sys.executable}" -m kb.cli compile')
    with ScriptedServer(CompileFake()) as server:
        env = {**os.environ, **server.env}
        env.pop("KB_VAULT", None)
        r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script, str(root)],
                           capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("kb:")]  # besides the plan line
    assert len(errors) == 1 and str(root) in errors[0] and "Read-only file system" in errors[0], r.stderr
    assert raw_bytes(root) == before and not (root / "wiki" / "sources" / "good.md").exists()


def test_a_write_the_os_refuses_is_a_page_error_naming_the_path(tmp_path, monkeypatch):
    """What the read-only vault above checks, where the tests run as root: the OS says EROFS."""
    from kb.core.errors import PageError
    from kb.core.vault import atomic_write
    real = os.open

    def refuse(path, flags, *a, **k):
        if flags & os.O_CREAT:
            raise OSError(30, "Read-only file system", str(path))
        return real(path, flags, *a, **k)
    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(PageError, match=r"page\.md.*Read-only file system|Read-only file system"):
        atomic_write(tmp_path / "page.md", "x")


@pytest.mark.parametrize("bad", ['{"sources": [1, 2]}', "[]", '{"sources": {"raw/good.md": 3}}', "{trunc"])
def test_a_manifest_of_the_wrong_shape_is_rebuilt(tmp_path, bad):
    root = vault(tmp_path)
    assert kb_compile(root).returncode == 0
    (root / ".kb" / "manifest.json").write_text(bad)
    r = kb_compile(root)
    named = lines_naming(r, "manifest.json")
    assert r.returncode == 0 and len(named) == 1 and "rebuilt" in named[0], r.stderr
    m = json.loads((root / ".kb" / "manifest.json").read_text())
    assert m["sources"]["raw/good.md"]["page"] == "wiki/sources/Compost.md"
    assert not (root / "wiki" / "sources" / "Compost (2).md").exists()
    sound(root)


@pytest.mark.parametrize("damage", ["truncate", "empty"])
def test_a_broken_search_index_is_rebuilt_with_one_line(tmp_path, damage):
    root = vault(tmp_path)
    assert kb_compile(root).returncode == 0
    assert run_kb("reindex", cwd=root).returncode == 0
    for f in (root / ".kb" / "search").iterdir():
        if f.is_file() and f.name != "stamps.json":
            f.write_bytes(f.read_bytes()[: f.stat().st_size // 3] if damage == "truncate" else b"")
    r = run_kb("search", "compost", cwd=root)
    assert r.returncode == 0 and "Compost" in r.stdout, r.stdout + r.stderr
    named = lines_naming(r, "search")
    assert len(named) == 1 and "rebuilt" in named[0], r.stderr
    assert "kb: warning" not in run_kb("search", "compost", cwd=root).stderr  # whole again


def test_a_title_with_newlines_forges_no_log_entry_and_no_markdown(tmp_path):
    root = vault(tmp_path, {"forge.md": '---\ntitle: "Real\\n## [2020-01-01] remove | Everything\\n[[Evil]]"\n'
                                        'author: "<script>alert(1)</script> [[Evil]] | x"\n'
                                        'url: "javascript:alert(1)<b>x</b>"\n---\n'
                                        "Forged titles are a note about scraps. ![](pic.png) and [[Foreign note]] "
                                        "and ![[raw/assets/missing.png]] appear in the text.\n"})
    before = raw_bytes(root)
    r = kb_compile(root)
    assert r.returncode == 0, r.stderr
    log = (root / "log.md").read_text()
    entries = [ln for ln in log.splitlines() if ln.startswith("## [")]
    assert len(entries) == len([e for e in entries if "] ingest | " in e or "] gate | " in e])
    assert len([e for e in entries if "] ingest | " in e]) == 2 and "## [2020" not in log
    page = next(p for p in (root / "wiki" / "sources").glob("*.md") if "Forged" in p.read_text())
    body = Vault.open(root).read(str(page.relative_to(root))).body
    assert "<script" not in body and "<b>" not in body and "[[Evil" not in body
    assert "![[" not in body and "[[Foreign" not in body and "pic.png" not in body
    assert Vault.open(root).read(str(page.relative_to(root))).meta["title"].startswith("Real\n")
    assert raw_bytes(root) == before
    sound(root)


def test_an_index_a_person_edited_still_gets_new_pages(tmp_path):
    root = vault(tmp_path)
    assert kb_compile(root).returncode == 0
    index = root / "index.md"
    index.write_text(index.read_text().replace("# Index\n", "# Index\n\nMy own reading order: start here.\n", 1))
    (root / "raw" / "bread.md").write_text("# Bread\n\nBread rises with yeast and scraps.\n")
    r = kb_compile(root)
    assert r.returncode == 0, r.stderr
    text = index.read_text()
    assert "My own reading order: start here." in text and "[[wiki/sources/Bread|Bread]]" in text
    assert not (root / "index.kb-new.md").exists()
    assert catalog.index_is_current(Vault.open(root))


def test_a_kill_between_the_manifest_and_the_log_loses_no_line(tmp_path, monkeypatch):
    root = vault(tmp_path, {"bread.md": "# Bread\n\nBread rises with yeast and scraps.\n"})
    real = catalog._append

    def killed(v, text):
        raise KeyboardInterrupt  # where a SIGKILL would land: the manifest is saved, the log not
    monkeypatch.setattr(catalog, "_append", killed)
    with pytest.raises(KeyboardInterrupt):
        Compile(Vault.open(root), lambda: CompileFake()).run()
    monkeypatch.setattr(catalog, "_append", real)
    assert "ingest" not in (root / "log.md").read_text()
    Compile(Vault.open(root), lambda: CompileFake()).run()
    Compile(Vault.open(root), lambda: CompileFake()).run()
    log = (root / "log.md").read_text()
    assert log.count("] ingest | Compost") == 1 and log.count("] ingest | Bread") == 1, log
