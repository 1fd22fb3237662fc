"""The first hour with kb, through the command line: a watcher that must end, file modes, and a
vault started inside another."""

import os
import stat

from conftest import run_kb


def test_watch_once_ends_when_the_model_is_missing(tmp_path):
    root = tmp_path / "v"
    assert run_kb("init", root).returncode == 0
    (root / "raw" / "note.md").write_text("# A note\n\nSome text about fermentation and brine.\n")
    r = run_kb("watch", "--once", cwd=root, env={"KB_MODEL": str(tmp_path / "missing.gguf")}, timeout=60)
    assert r.returncode == 1, r.stdout + r.stderr
    errors = [line for line in r.stdout.splitlines() if " error: " in line]
    assert len(errors) == 1 and "missing.gguf" in errors[0] and "will retry" not in errors[0]
    assert "1 still queued" in r.stdout  # not lost: the next start picks it up
    assert "Traceback" not in r.stderr


def test_pages_follow_the_umask(tmp_path):
    root = tmp_path / "v"
    for umask, want in ((0o022, 0o644), (0o002, 0o664)):
        old = os.umask(umask)
        try:
            r = run_kb("init", root / oct(umask))
        finally:
            os.umask(old)
        assert r.returncode == 0, r.stderr
        for rel in ("index.md", "log.md", ".kb/config.toml"):
            assert stat.S_IMODE(os.stat(root / oct(umask) / rel).st_mode) == want, rel


def test_a_rewrite_keeps_the_mode_a_person_gave_the_file(tmp_path):
    from kb.core.vault import atomic_write
    p = tmp_path / "page.md"
    p.write_text("old")
    os.chmod(p, 0o640)
    atomic_write(p, "new")
    assert p.read_text() == "new" and stat.S_IMODE(os.stat(p).st_mode) == 0o640
    assert not [q for q in tmp_path.iterdir() if q.name.endswith(".kb-tmp")]


def test_init_inside_a_vault_is_refused(tmp_path):
    root = tmp_path / "v"
    assert run_kb("init", root).returncode == 0
    r = run_kb("init", cwd=root / "wiki")
    assert r.returncode != 0
    assert r.stderr.strip().count("\n") == 0 and f"inside the vault at {root.resolve()}" in r.stderr
    assert not (root / "wiki" / ".kb").exists() and not (root / "wiki" / "raw").exists()
    r = run_kb("init", root / "raw" / "sub")
    assert r.returncode != 0 and not (root / "raw" / "sub").exists()
    assert run_kb("init", root).returncode == 0  # the vault itself: already initialised, fine
