import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

from kb.agents.sandbox import allow_weak_walls, sandbox_mode  # noqa: E402

if not sandbox_mode(False).startswith("kernel"):  # no user namespaces here: the loop tests run
    allow_weak_walls(True)  # behind the weaker walls (the sandbox tests skip what needs the kernel)
CORPUS = ROOT.parent / "shared" / "corpus"
# On a 2-core machine two llama.cpp processes run about 10x slower each. While a developer runs a
# model benchmark they touch this file, and model tests elsewhere on the machine skip instead of
# slowing it (CI never has it).
MODEL_LANE_BUSY = Path("/tmp/kb-model-lane-busy")


def pytest_collection_modifyitems(config, items):
    if MODEL_LANE_BUSY.exists():
        skip = pytest.mark.skip(reason=f"{MODEL_LANE_BUSY} exists: a model benchmark holds the machine")
        for item in items:
            if "model" in item.keywords or "slow" in item.keywords:
                item.add_marker(skip)


def run_kb(*args, cwd=None, env=None, input=None, timeout=900):
    """Run the real `kb` entry point in a child process, as a user would."""
    full_env = dict(os.environ)
    full_env.pop("KB_VAULT", None)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "kb.cli", *map(str, args)], cwd=cwd, env=full_env,
                          capture_output=True, text=True, input=input, timeout=timeout)


def write(root: Path, rel: str, text: str = "") -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p


@pytest.fixture
def small_model() -> Path:
    """The bundled small model; `make test` fetches it before the suite runs."""
    from kb.core import models
    try:
        return models.resolve(models.TEST_MODEL, models.models_dir())
    except Exception as e:  # a missing model must fail loudly, not skip silently
        pytest.fail(f"{e} (make test fetches it)")


@pytest.fixture(scope="session")
def mlblog_vault(tmp_path_factory):
    """The ml-blog corpus compiled once per test session with the small model, through the CLI:
    (vault root, env for run_kb, the compile report)."""
    from kb.core import models
    model = models.resolve(models.TEST_MODEL, models.models_dir())
    root = tmp_path_factory.mktemp("mlblog") / "v"
    assert run_kb("init", root).returncode == 0
    for p in sorted((CORPUS / "ml-blog").glob("*.md")):
        shutil.copy(p, root / "raw" / p.name)
    env = {"KB_MODEL": str(model)}
    r = run_kb("compile", "--json", cwd=root, env=env, timeout=1800)
    assert r.returncode == 0, r.stderr
    return root, env, json.loads(r.stdout)


SAMPLES = sorted((ROOT / "vault" / "raw").glob("*.md"))


def sample_vault(tmp_path: Path):
    """The sample vault's five notes compiled with the scripted compile engine (no model)."""
    from kb.compile.job import Compile
    from kb.core.vault import Vault
    from fakes import CompileFake
    vault, _ = Vault.init(tmp_path / "v", "")
    for p in SAMPLES:
        shutil.copy(p, vault.root / "raw" / p.name)
    Compile(vault, lambda: CompileFake()).run()
    return Vault.open(vault.root)
