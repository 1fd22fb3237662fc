"""The layer rule, held by tests: imports point down only, and heavy imports stay out of the
layers that do not need them.

    front ends (kb.cli, kb.progress, kb.tui)  ->  kb.api  ->  jobs  ->  kb.agents  ->  kb.tools  ->  kb.core

No job imports another job, except watch -> compile (the watcher runs the compile job). The
checker reads imports from the source (every `import`, at any depth, including the ones inside
functions that keep heavy modules lazy), so an arrow that runs up fails here even when it is
only taken at run time.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Where each installed package lives in the repository (pyproject's package-dir mapping).
PACKAGE_DIRS = {"kb": ROOT / "kb", "kb.agents": ROOT / "agents", "kb.tools": ROOT / "tools"}

RANK = {"core": 0, "tools": 1, "agents": 2, "job": 3, "api": 4, "front": 5}
JOBS = ("kb.compile", "kb.ask", "kb.lint", "kb.finetune", "kb.watch", "kb.ingest", "kb.status")
ALLOWED_JOB_IMPORTS = {("kb.watch", "kb.compile")}
HEAVY = ("llama_cpp", "textual", "torch")


def layer(module: str) -> tuple[str, str] | None:
    """(layer, unit) of a kb module; unit tells jobs apart. None for modules outside kb."""
    def under(prefix: str) -> bool:
        return module == prefix or module.startswith(prefix + ".")
    if under("kb.core") or module == "kb":
        return "core", "kb.core"
    if under("kb.tools"):
        return "tools", "kb.tools"
    if under("kb.agents"):
        return "agents", "kb.agents"
    for job in JOBS:
        if under(job):
            return "job", job
    if under("kb.api") or under("kb.recorded"):
        return "api", "kb.api"
    if (under("kb.cli") or under("kb.completion") or under("kb.progress") or under("kb.tui") or under("kb.mcp")
            or under("kb.__main__")):
        return "front", "front"
    if under("kb"):
        raise AssertionError(f"{module} belongs to no layer: add it to tests/test_layers.py")
    return None


def modules(package_dirs: dict[str, Path]) -> dict[str, Path]:
    """Every module name -> its file, following the package-dir mapping."""
    found: dict[str, Path] = {}
    for package, folder in package_dirs.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            name = ".".join([package, *parts])
            # a sub-package mapped elsewhere (kb.agents) is not also a folder of kb
            if any(name.startswith(other + ".") or name == other
                   for other in package_dirs if other != package and other.startswith(package + ".")):
                continue
            found[name] = path
    return found


def imports_of(module: str, path: Path, known: set[str] = frozenset()) -> list[tuple[str, int]]:
    """Absolute names this module imports, with line numbers; relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from kb.core import vault` imports the module kb.core.vault, not just the package
            out += [(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base, node.lineno)
                    for alias in node.names]
    return out


def violations(package_dirs: dict[str, Path]) -> list[str]:
    found = []
    found_modules = modules(package_dirs)
    for module, path in sorted(found_modules.items()):
        src = layer(module)
        for target, line in imports_of(module, path, set(found_modules)):
            dst = layer(target)
            if src is None or dst is None:
                continue
            (src_layer, src_unit), (dst_layer, dst_unit) = src, dst
            where = f"{path}:{line}"
            if RANK[dst_layer] > RANK[src_layer]:
                found.append(f"{where}: {module} ({src_layer}) imports {target} ({dst_layer}), "
                             "a layer above it")
            elif (src_layer == dst_layer == "job" and src_unit != dst_unit
                  and (src_unit, dst_unit) not in ALLOWED_JOB_IMPORTS):
                found.append(f"{where}: job {src_unit} imports job {dst_unit}")
    return found


def test_imports_point_down_only():
    assert violations(PACKAGE_DIRS) == []


def test_every_module_has_a_layer():
    for module in modules(PACKAGE_DIRS):
        layer(module)  # raises for a module the rule does not place


def _synthetic(tmp_path: Path, files: dict[str, str]) -> dict[str, Path]:
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return {"kb": tmp_path / "kb", "kb.agents": tmp_path / "agents", "kb.tools": tmp_path / "tools"}


BASE = {"kb/__init__.py": "", "kb/core/__init__.py": "", "kb/core/vault.py": "",
        "kb/compile/__init__.py": "", "kb/compile/job.py": "from kb.core.vault import x\n",
        "kb/lint/__init__.py": "", "kb/lint/job.py": "", "kb/watch.py": "from kb.compile.job import C\n",
        "kb/cli.py": "def main():\n    from kb.api import build\n", "kb/api.py": "import kb.compile.job\n",
        "agents/__init__.py": "", "agents/rlm.py": "from kb.tools.search import S\nfrom kb.core import vault\n",
        "tools/__init__.py": "", "tools/search.py": "from ..core import vault\n"}


def test_the_rule_accepts_a_tree_that_follows_it(tmp_path):
    assert violations(_synthetic(tmp_path, BASE)) == []


@pytest.mark.parametrize("rel, text, expected", [
    # an agent reaching up into a job's types (the arrow issue 12 found in agents/linter.py)
    ("agents/linter.py", "from kb.lint.job import Finding\n", "kb.agents.linter (agents) imports kb.lint.job (job)"),
    # the core importing a tool, lazily inside a function
    ("kb/core/pages.py", "def f():\n    from kb.tools import search\n", "kb.core.pages (core) imports kb.tools.search"),
    # a tool importing an agent through a relative import
    ("tools/render.py", "from ..agents import rlm\n", "kb.tools.render (tools) imports kb.agents"),
    # a job importing the API, and one job importing another
    ("kb/lint/report.py", "import kb.api\n", "kb.lint.report (job) imports kb.api (api)"),
    ("kb/lint/checks.py", "from kb.compile.job import C\n", "job kb.lint imports job kb.compile"),
])
def test_the_rule_fails_on_an_upward_import(tmp_path, rel, text, expected):
    found = violations(_synthetic(tmp_path, {**BASE, rel: text}))
    assert len(found) == 1 and expected in found[0], found


@pytest.mark.parametrize("module", ["kb.core.markdown", "kb.core.links", "kb.core.vault", "kb.core.config",
                                    "kb.core.models", "kb.status", "kb.cli", "kb.agents.engine",
                                    "kb.agents.llama_engine", "kb.agents.openai_engine",
                                    "kb.agents.fake_engine", "kb.tools"])
def test_no_heavy_imports(module):
    code = (f"import sys, {module}; heavy = [m for m in {HEAVY!r} if m in sys.modules]; "
            "print(','.join(heavy))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "", f"{module} imports {r.stdout.strip()}"


def test_core_does_not_import_upper_layers():
    code = ("import sys, kb.core.vault, kb.core.markdown, kb.core.links; "
            "print([m for m in sys.modules if m.startswith(('kb.agents', 'kb.tools', 'kb.cli', 'kb.api'))])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.strip() == "[]"
