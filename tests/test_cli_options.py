"""The command line as a new user meets it (issue 19, item 12): bad option values are one-line
usage errors, every listing has --json, the global options go before or after the subcommand,
a file kb cannot take in fails the command, and the shell completes commands and options."""

import json
import shutil
import subprocess

import pytest

from conftest import run_kb, write


@pytest.fixture
def vault(tmp_path):
    root = tmp_path / "v"
    assert run_kb("init", root).returncode == 0
    write(root, "notes/brew.md", "# Brew\n\nKombucha is a fermented tea.\n")
    return root


def test_bad_search_options_are_usage_errors(vault):
    r = run_kb("search", "tea", "-k", "0", cwd=vault)
    assert r.returncode == 2 and "internal error" not in r.stderr and "less than 1" in r.stderr
    assert r.stderr.count("\n") == 1
    r = run_kb("search", "tea", "--kind", "sources", cwd=vault)
    assert r.returncode == 2 and "unknown kind 'sources'" in r.stderr and "source," in r.stderr
    r = run_kb("search", "tea", "--kind", "page", cwd=vault)
    assert r.returncode == 0 and "notes/brew.md" in r.stdout


def test_search_with_a_star_matches_a_prefix(vault):
    assert "no results" in run_kb("search", "kombu", cwd=vault).stdout
    r = run_kb("search", "kombu*", "--json", cwd=vault)
    assert [h["path"] for h in json.loads(r.stdout)] == ["notes/brew.md"]


def test_trace_list_json(vault):
    r = run_kb("trace", "list", "--json", cwd=vault)
    assert r.returncode == 0 and json.loads(r.stdout) == []


def test_global_options_before_or_after_the_subcommand(vault, tmp_path):
    for args in (["--vault", vault, "status", "--json"], ["status", "--vault", vault, "--json"]):
        r = run_kb(*args, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["vault"] == str(vault.resolve())
    r = run_kb("--vault", vault, "status", "--model", "nowhere.gguf", "--json", cwd=tmp_path)
    assert r.returncode == 0 and json.loads(r.stdout)["model"] == "nowhere.gguf"  # both kept


def test_ingest_of_a_file_kb_cannot_read_fails(vault, tmp_path):
    doc = write(tmp_path, "x.docx", "not really a docx")
    note = write(tmp_path, "y.md", "# Y\n\nA note.\n")
    r = run_kb("ingest", doc, note, cwd=vault)
    assert r.returncode == 1
    assert "unsupported type '.docx'" in r.stderr and r.stderr.count("\n") == 1
    assert "1 added" in r.stdout and (vault / "raw" / "y.md").exists()


def test_completion_scripts_come_from_the_parser(vault):
    from kb.cli import build_parser
    from kb.completion import commands
    names = set(commands(build_parser()))
    assert {"search", "compile", "completion", "trace"} <= names
    for shell in ("bash", "zsh", "fish"):
        r = run_kb("completion", shell)
        assert r.returncode == 0 and "search" in r.stdout, r.stderr
    assert run_kb("completion", "tcsh").returncode == 2


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completes_subcommands_options_and_choices(tmp_path):
    script = tmp_path / "kb.bash"
    script.write_text(run_kb("completion", "bash").stdout)

    def complete(line: str) -> list[str]:
        words = line.split(" ")
        prog = (f"source {script}\nCOMP_WORDS=({' '.join(repr(w) for w in words)})\n"
                f"COMP_CWORD={len(words) - 1}\n_kb\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n")
        r = subprocess.run(["bash", "--norc", "--noprofile", "-c", prog], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        return r.stdout.split()

    assert complete("kb se") == ["search"]
    assert {"compile", "completion"} <= set(complete("kb comp"))
    assert "--json" in complete("kb search tea --j") and "--kind" in complete("kb search tea --k")
    assert "--vault" in complete("kb status --v")  # the global options after the subcommand too
    assert complete("kb trace ") == ["list", "show"]
    assert complete("kb --vault /tmp/v trace l") == ["list"]


def test_the_jobs_that_write_keep_the_search_index_current(vault, tmp_path):
    """What a search that does not look at every file (the TUI's, as you type) finds at once."""
    from kb.api import Kb
    from kb.core.vault import Vault
    Kb(Vault.open(vault)).search("tea")  # the index is built
    src = write(tmp_path, "kvass.md", "# Kvass\n\nA drink fermented from rye bread.\n")
    assert run_kb("ingest", src, cwd=vault).returncode == 0
    assert [h.path for h in Kb(Vault.open(vault)).search("kvass", fresh=False)] == ["raw/kvass.md"]
    assert run_kb("lint", "--structural", cwd=vault).returncode in (0, 1)
    hits = Kb(Vault.open(vault)).search("lint report", fresh=False, kinds=("report",))
    assert hits and hits[0].path.startswith("wiki/reports/lint-")
