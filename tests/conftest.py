import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"


def run_kb(*args, cwd=None, env=None, input=None, timeout=300):
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
    from kb import models
    try:
        return models.resolve(models.TEST_MODEL, models.models_dir())
    except Exception as e:  # a missing model must fail loudly, not skip silently
        pytest.fail(f"{e} (make test fetches it)")
