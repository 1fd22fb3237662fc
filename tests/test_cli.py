"""The CLI through its real entry point: status, init, models, and every bad input as one line."""

import json

import pytest

from conftest import run_kb, write


def one_line_error(r, code=None):
    assert r.returncode != 0, r.stdout
    if code is not None:
        assert r.returncode == code
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kb: error: "), r.stderr
    return lines[0]


@pytest.fixture
def vault(tmp_path):
    r = run_kb("init", tmp_path / "v")
    assert r.returncode == 0, r.stderr
    return tmp_path / "v"


def test_init_then_status_counts(vault):
    write(vault, "raw/a.md", "# A\n")
    write(vault, "raw/b.txt", "B\n")
    write(vault, "wiki/sources/A.md", "---\ntitle: A\n---\n[[Yeast]] [[Missing page]]\n")
    write(vault, "wiki/concepts/Yeast.md", "# Yeast\n[[A]]\n")
    r = run_kb("status", "--json", cwd=vault / "wiki" / "concepts")  # found from a subfolder
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert (st["sources"], st["pages"], st["source_pages"], st["concept_pages"]) == (2, 2, 1, 1)
    assert (st["links"], st["broken_links"]) == (3, 1)
    assert st["model"] == "qwen2.5-coder-0.5b"
    r = run_kb("status", env={"KB_VAULT": str(vault), "KB_MODEL": "smollm2-135m"})
    assert "sources   2 in raw/" in r.stdout and "(1 broken)" in r.stdout and "smollm2-135m" in r.stdout


def test_init_twice_changes_nothing(vault):
    before = {p: p.read_bytes() for p in vault.rglob("*") if p.is_file()}
    r = run_kb("init", vault)
    assert r.returncode == 0 and "nothing changed" in r.stdout
    assert {p: p.read_bytes() for p in vault.rglob("*") if p.is_file()} == before


def test_vault_path_that_is_a_file(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("x")
    assert "is a file" in one_line_error(run_kb("--vault", f, "status"), 1)
    assert "is a file" in one_line_error(run_kb("init", f), 1)


def test_no_vault_found(tmp_path):
    assert "no kb vault" in one_line_error(run_kb("status", cwd=tmp_path), 1)


def test_config_typo(vault):
    (vault / ".kb/config.toml").write_text("[model]\nnmae = 'x'\n")
    msg = one_line_error(run_kb("--vault", vault, "status"), 2)
    assert "config.toml" in msg and "model.nmae" in msg and "did you mean 'name'" in msg


def test_bad_env_override(vault):
    msg = one_line_error(run_kb("--vault", vault, "status", env={"KB_N_CTX": "huge"}), 2)
    assert "KB_N_CTX" in msg


def test_model_path_that_does_not_exist(vault):
    msg = one_line_error(run_kb("--vault", vault, "--model", vault / "nope.gguf", "chat", "hi"), 1)
    assert "does not exist" in msg


def test_unknown_model_name(vault):
    msg = one_line_error(run_kb("--vault", vault, "--model", "gpt-9", "chat", "hi"), 1)
    assert "unknown model 'gpt-9'" in msg and "smollm2-135m" in msg


def test_corrupt_gguf(vault, tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"\x00" * 4096)
    assert "not a GGUF model" in one_line_error(run_kb("--vault", vault, "--model", bad, "chat", "hi"))
    # right magic, garbage inside: llama.cpp itself refuses it
    bad.write_bytes(b"GGUF" + bytes(range(256)) * 64)
    assert "could not load" in one_line_error(run_kb("--vault", vault, "--model", bad, "chat", "hi"))


def test_missing_bundled_model_says_how_to_get_it(vault, tmp_path):
    msg = one_line_error(run_kb("--vault", vault, "chat", "hi", env={"KB_HOME": str(tmp_path / "empty")}))
    assert "kb models fetch qwen2.5-coder-0.5b" in msg


def test_usage_errors_exit_2(vault):
    one_line_error(run_kb("frobnicate"), 2)
    one_line_error(run_kb("--vault", vault, "chat", "  "), 2)


def test_models_lists_bundled_and_local(vault, tmp_path):
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    (home / "models" / "my-finetune.gguf").write_bytes(b"GGUF" + b"\0" * 2000)
    r = run_kb("--vault", vault, "models", "--json", env={"KB_HOME": str(home)})
    rows = {m["name"]: m for m in json.loads(r.stdout)}
    assert rows["smollm2-135m"]["present"] is False and rows["smollm2-135m"]["bundled"]
    assert rows["qwen2.5-coder-0.5b"]["size"] == 491400064
    assert rows["my-finetune"]["present"] is True
    assert "fetch" in run_kb("models", cwd=tmp_path, env={"KB_HOME": str(home)}).stdout


@pytest.mark.model
def test_chat_with_the_small_model(vault, small_model):
    r = run_kb("--vault", vault, "--model", small_model, "chat", "--json", "--max-tokens", "16",
               "Say hello.")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["text"].strip() and out["completion_tokens"] > 0
