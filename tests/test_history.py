"""The vault as a git repository: every kb write is one commit, `kb undo` puts the files back byte
for byte, and a person's edits are never committed unannounced nor lost. Real git, in tmp_path;
scripted engines instead of models."""

import json
import subprocess
import sys

import pytest

from conftest import run_kb
from fakes import CompileFake
from kb.agents.engine import Reply, Usage
from kb.agents.fake_engine import FakeEngine
from kb.api import Kb, init
from kb.core import config
from kb.core.errors import HistoryError

A = "# Hot composting\n\nHot Composting turns garden waste into soil. A hot pile reaches 55 to 65 degrees Celsius.\n"
B = "# Cold composting\n\nCold Composting takes a year. Hot Composting is faster, says the Garden Society.\n"


def git(root, *args) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout


def tracked(root) -> dict[str, bytes]:
    """Every file git tracks, with its bytes as they are on disk now."""
    return {p: (root / p).read_bytes() for p in git(root, "ls-files", "-z").split("\0") if p}


def open_kb(root, engine=None) -> Kb:
    v = Kb.open(root, env={}).vault
    return Kb(v, config.load(v.config_path, {}), engine_factory=(lambda: engine) if engine else None)


@pytest.fixture
def root(tmp_path):
    vault, created = init(tmp_path / "v", {})
    assert ".git/" in created
    (vault.root / "raw" / "hot.md").write_text(A)
    return vault.root


def kb_commits(root) -> list[str]:
    return [c.subject for c in open_kb(root).history(None)]


class QuestionFake:
    """finetune-data's writer: a question about whatever sentence it is shown."""

    def chat(self, messages, *, json_schema=None, max_tokens=None, temperature=None, stop=None, on_token=None):
        text = json.dumps({"question": "Which temperature does the pile reach?"})
        return Reply(text=text, usage=Usage(10, 10))


def test_every_kb_write_is_one_commit_that_says_what_it_did(root):
    kb = open_kb(root, CompileFake())
    kb.compile().run()
    assert kb_commits(root) == ["compile: 1 new", "init: new vault"]
    body = git(root, "log", "-1", "--format=%B")
    assert "new: raw/hot.md" in body and "Kb-Job: compile" in body

    (root / "raw" / "cold.md").write_text(B)
    (root / "raw" / "hot.md").write_text(A + "Turn it weekly.\n")
    kb.compile().run()
    assert kb_commits(root)[0] == "compile: 1 new, 1 changed"
    kb.compile().run()  # nothing to do: no commit
    assert len(kb_commits(root)) == 3

    kb.lint(model_checks=False).run(fix=True)
    assert kb_commits(root)[0].startswith("lint")

    ask = Kb(kb.vault, kb.config, engine_factory=lambda: FakeEngine(["A hot pile reaches 55 to 65 degrees [1]."])).ask()
    question = "How hot does a pile get?"
    path, _ = ask.file_back(question, ask.answer(question, "rag"))
    assert kb_commits(root)[0] == f"ask --save: {question}"
    assert path in git(root, "show", "--name-only", "--format=", "HEAD")

    Kb(kb.vault, kb.config, engine_factory=QuestionFake).finetune_data(per_page=1).run()
    assert kb_commits(root)[0].startswith("finetune-data: card")
    assert "wiki/reports/finetune-data.md" in git(root, "show", "--name-only", "--format=", "HEAD")

    assert len(kb_commits(root)) == 6  # init, 2 compiles, lint, ask, finetune-data
    assert git(root, "status", "--porcelain", "--untracked-files=no") == ""  # kb left nothing of its own out
    assert ".kb/cache" not in git(root, "ls-files") and ".kb/manifest.json" in git(root, "ls-files")


def test_undo_restores_the_files_byte_for_byte_and_compile_then_rebuilds_from_cache(root):
    initial = tracked(root)
    open_kb(root, CompileFake()).compile().run()
    before = tracked(root)
    (root / "raw" / "cold.md").write_text(B)
    open_kb(root, CompileFake()).compile().run()
    after = tracked(root)
    assert after != before

    done, new = open_kb(root).undo()
    assert done.subject == "compile: 1 new" and new.subject == "undo: compile: 1 new"
    assert tracked(root) == before  # same files, same bytes (manifest included)
    assert (root / "raw" / "cold.md").read_text() == B  # the source stays: it is the person's

    engine = CompileFake()
    report = open_kb(root, engine).compile().run()  # the manifest followed the undo: cold.md is new again
    assert report.compiled == ["raw/cold.md"]
    assert engine.calls == []  # rebuilt from the model cache
    assert {p: b for p, b in tracked(root).items() if p != "log.md"} == {p: b for p, b in after.items() if p != "log.md"}

    assert [c.subject for c in open_kb(root).history(None)][:3] == ["compile: 1 new", "undo: compile: 1 new",
                                                                    "compile: 1 new"]
    open_kb(root).undo()
    open_kb(root).undo()  # the stack: each undo takes the newest write not undone yet
    assert tracked(root) == initial  # back to the new vault, byte for byte
    with pytest.raises(HistoryError, match="nothing to undo"):
        open_kb(root).undo()


def test_undo_refuses_naming_the_files_a_person_edited_since(root):
    kb = open_kb(root, CompileFake())
    kb.compile().run()
    page = root / "wiki" / "sources" / "Hot composting.md"
    page.write_text(page.read_text() + "\nMy own note.\n")
    with pytest.raises(HistoryError, match=r"wiki/sources/Hot composting\.md edited since kb wrote"):
        kb.undo()
    assert "My own note." in page.read_text()  # nothing lost

    git(root, "add", str(page))
    subprocess.run(["git", "-c", "user.name=P", "-c", "user.email=p@x", "commit", "-qm", "my note"], cwd=root, check=True)
    with pytest.raises(HistoryError, match=r"Hot composting\.md changed again in a later commit"):
        kb.undo()
    assert "My own note." in page.read_text()


def test_a_persons_uncommitted_edits_stay_theirs(root):
    notes = root / "my-notes.md"
    notes.write_text("mine\n")
    open_kb(root, CompileFake()).compile().run()
    assert "my-notes.md" not in git(root, "ls-files")  # not kb's: left alone
    assert "?? my-notes.md" in git(root, "status", "--porcelain")

    log = root / "log.md"
    log.write_text(log.read_text() + "\nA line I wrote.\n")  # uncommitted, in a file kb appends to
    (root / "raw" / "cold.md").write_text(B)
    kb = open_kb(root, CompileFake())
    kb.compile().run()
    c = kb.take_commits()[-1]
    assert c.person_edits == ["log.md"]  # committed with kb's change, and said so
    assert "Also holds edits a person made" in git(root, "log", "-1", "--format=%B")
    with pytest.raises(HistoryError, match="also holds edits a person made before kb ran"):
        kb.undo()
    assert "A line I wrote." in log.read_text()


def test_a_vault_that_already_is_a_repository_keeps_its_history(tmp_path):
    root = tmp_path / "notes"
    root.mkdir()
    git(root, "init", "-q")
    (root / "journal.md").write_text("day one\n")
    git(root, "add", "journal.md")
    subprocess.run(["git", "-c", "user.name=P", "-c", "user.email=p@x", "commit", "-qm", "my journal"],
                   cwd=root, check=True)
    first = git(root, "rev-list", "HEAD").split()
    (root / "journal.md").write_text("day one\nday two\n")  # an edit not committed yet

    _, created = init(root, {})
    assert ".git/" not in created
    assert git(root, "rev-list", "HEAD").split()[-1] == first[-1]  # same root commit, history kept
    assert git(root, "log", "--format=%s").splitlines() == ["init: kb's files", "my journal"]
    assert " M journal.md" in git(root, "status", "--porcelain")  # still the person's to commit
    assert "init: kb's files" not in git(root, "log", "--format=%s", "--", "journal.md")


def test_with_history_off_no_repository_is_created(tmp_path):
    vault, created = init(tmp_path / "v", {}, history=False)
    assert ".git/" not in created
    (vault.root / "raw" / "hot.md").write_text(A)
    kb = open_kb(vault.root, CompileFake())
    assert kb.compile().run().compiled == ["raw/hot.md"]
    assert not (vault.root / ".git").exists()
    with pytest.raises(HistoryError, match="history is off"):
        kb.history()

    r = run_kb("init", "--no-history", tmp_path / "w")
    assert r.returncode == 0 and not (tmp_path / "w" / ".git").exists()
    assert "enabled = false" in (tmp_path / "w" / ".kb" / "config.toml").read_text()


def test_history_and_undo_from_the_command_line(root):
    open_kb(root, CompileFake()).compile().run()
    r = run_kb("history", cwd=root)
    assert r.returncode == 0 and "compile: 1 new" in r.stdout and "init: new vault" in r.stdout
    r = run_kb("undo", cwd=root)
    assert r.returncode == 0 and r.stdout.startswith("undid ") and "compile: 1 new" in r.stdout
    r = run_kb("undo", cwd=root)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and r.stderr.startswith("kb: error: nothing to undo")
    r = run_kb("undo", "deadbeef", cwd=root)
    assert r.returncode == 1 and "no commit 'deadbeef'" in r.stderr and "Traceback" not in r.stderr


def test_without_git_the_error_is_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "kb.cli", "init", str(tmp_path / "v")], capture_output=True,
                       text=True, env={"PATH": "", "HOME": str(tmp_path)})
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert "git is not installed" in r.stderr and "[history] enabled = false" in r.stderr


def test_each_watch_batch_is_one_commit(root):
    lines = []
    watcher = open_kb(root, CompileFake()).watcher(on_log=lines.append)
    watcher.compile(["raw/hot.md"])
    assert kb_commits(root) == ["compile: 1 new", "init: new vault"]
    assert any(line.startswith("history: ") and "compile: 1 new" in line for line in lines)
