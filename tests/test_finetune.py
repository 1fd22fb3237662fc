"""Finetuning end to end with the small model on the ml-blog vault, and the one-line message
when the finetune extra is missing."""

import json
import shutil

import pytest

from kb.core import models
from kb.core.text import normalise
from conftest import run_kb


def test_without_torch_finetune_says_how_to_install_in_one_line(tmp_path):
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "torch.py").write_text("raise ImportError('no torch here')\n")
    assert run_kb("init", tmp_path / "v").returncode == 0
    r = run_kb("finetune", cwd=tmp_path / "v", env={"PYTHONPATH": str(blocker)})
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [
        "kb: error: kb finetune needs the finetune extra: pip install torch==2.13.0 && pip install -e '.[finetune]'"]


@pytest.mark.model
@pytest.mark.slow
def test_finetune_data_train_export_and_closed_book_eval(mlblog_vault, tmp_path):
    import datasets
    src, env, _ = mlblog_vault
    root = tmp_path / "v"
    shutil.copytree(src, root)
    home = tmp_path / "home"  # the finetuned model goes here, not into the user's models
    (home / "models").mkdir(parents=True)
    base = models.resolve(models.TEST_MODEL, models.models_dir())
    (home / "models" / base.name).symlink_to(base)
    env = dict(env, KB_HOME=str(home))

    r = run_kb("finetune-data", "--json", cwd=root, env=env, timeout=1500)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["train"] > 20 and data["validation"] > 0, data
    files = data["files"]
    ds = datasets.load_dataset("json", data_files=files)
    assert ds["train"].num_rows == data["train"] and ds["validation"].num_rows == data["validation"]
    for split in files.values():
        for line in open(split):
            row = json.loads(line)
            assert normalise(row["support"]) in normalise((root / row["page"]).read_text()), row

    r = run_kb("finetune", "--minutes", "4", "--json", cwd=root, env=env, timeout=1500)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["steps"] >= 1 and info["last_loss"] < info["first_loss"], info
    listed = json.loads(run_kb("models", "--json", cwd=root, env=env).stdout)
    assert any(m["name"] == info["name"] and m["present"] for m in listed)
    r = run_kb("--model", info["name"], "chat", "Say hello.", "--max-tokens", "8", cwd=root, env=env)
    assert r.returncode == 0 and r.stdout.strip(), r.stderr  # the llama.cpp engine loads the export

    r = run_kb("eval", "--closed-book", "--json", cwd=root, env=env, timeout=1500)
    assert r.returncode == 0, r.stderr
    scores = json.loads(r.stdout)
    assert set(scores) == {"before", "after"} and scores["after"]["model"] == info["gguf"]
    assert len(scores["before"]["results"]) == len(scores["after"]["results"]) == data["validation"]
    r = run_kb("eval", "--closed-book", cwd=root, env=env, timeout=1500)
    assert "before" in r.stdout and "after" in r.stdout, r.stdout
