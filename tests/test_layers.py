"""Heavy imports stay out of the layers that do not need them (checked in fresh interpreters)."""

import subprocess
import sys

import pytest

HEAVY = ("llama_cpp", "textual", "torch")


@pytest.mark.parametrize("module", ["kb.core.markdown", "kb.core.links", "kb.core.vault", "kb.core.config", "kb.core.models",
                                    "kb.status", "kb.cli", "kb.agents.engine", "kb.agents.llama_engine",
                                    "kb.agents.openai_engine", "kb.agents.fake_engine", "kb.tools"])
def test_no_heavy_imports(module):
    code = (f"import sys, {module}; heavy = [m for m in {HEAVY!r} if m in sys.modules]; "
            "print(','.join(heavy))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "", f"{module} imports {r.stdout.strip()}"


def test_core_does_not_import_upper_layers():
    code = ("import sys, kb.core.vault, kb.core.markdown, kb.core.links; "
            "print([m for m in sys.modules if m.startswith(('agents', 'tools', 'kb.cli'))])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.strip() == "[]"
