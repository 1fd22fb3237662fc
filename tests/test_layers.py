"""Heavy imports stay out of the layers that do not need them (checked in fresh interpreters)."""

import subprocess
import sys

import pytest

HEAVY = ("llama_cpp", "textual", "torch")


@pytest.mark.parametrize("module", ["kb.markdown", "kb.links", "kb.vault", "kb.config", "kb.models",
                                    "kb.status", "kb.cli", "agents.engine", "agents.llama_engine",
                                    "agents.openai_engine", "agents.fake_engine", "tools"])
def test_no_heavy_imports(module):
    code = (f"import sys, {module}; heavy = [m for m in {HEAVY!r} if m in sys.modules]; "
            "print(','.join(heavy))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "", f"{module} imports {r.stdout.strip()}"


def test_core_does_not_import_upper_layers():
    code = ("import sys, kb.vault, kb.markdown, kb.links; "
            "print([m for m in sys.modules if m.startswith(('agents', 'tools', 'kb.cli'))])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.strip() == "[]"
