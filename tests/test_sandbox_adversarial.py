"""The hostile cells of tests/sandbox_payloads.py, run by tests/sandbox_attack.py against the real
sandbox as root and as an unprivileged user, each with the Python-level line on (the default) and
off (the kernel walls alone). Every payload is judged by its effects; none may escape."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kb.agents.sandbox import sandbox_mode
from sandbox_payloads import ROWS

HERE = Path(__file__).resolve().parent
ATTACK = [sys.executable, str(HERE / "sandbox_attack.py")]


def unprivileged(cmd: list[str]) -> list[str] | None:
    """`cmd` as uid 65534: a private mount namespace where a Python installed under a private
    home (/root/.pyenv) is still reachable, then setpriv. None where this machine cannot."""
    if os.geteuid() != 0:
        return cmd
    if not all(shutil.which(t) for t in ("unshare", "setpriv", "mount")):
        return None
    prefix = os.path.realpath(sys.base_prefix)
    hidden = next((str(p) for p in reversed(Path(prefix).parents) if p != Path("/") and not os.stat(p).st_mode & 0o001),
                  None)
    steps = ["set -e", "mount --make-rprivate /"]
    if hidden:  # a tmpfs over the private dir, with only the Python prefix bound back in
        steps += ['T=$(mktemp -d)', f"mount --bind '{prefix}' \"$T\"",
                  f"mount -t tmpfs -o mode=755 tmpfs '{hidden}'", f"mkdir -p '{prefix}'",
                  f"mount --move \"$T\" '{prefix}'", 'rmdir "$T"']
    steps.append("exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all env HOME=/nonexistent "
                 + " ".join(f"'{c}'" for c in cmd))
    return ["unshare", "-m", "--", "sh", "-c", "\n".join(steps)]


RUNS = {
    "root": ATTACK if os.geteuid() == 0 else None,
    "root, kernel walls alone": ATTACK + ["--no-python-walls"] if os.geteuid() == 0 else None,
    "user": unprivileged(ATTACK),
    "user, kernel walls alone": unprivileged(ATTACK + ["--no-python-walls"]),
}


MODE = sandbox_mode(False)
pytestmark = pytest.mark.skipif(not MODE.startswith("kernel"), reason=f"no kernel walls on this machine: {MODE}")


@pytest.fixture(scope="module")
def runs():
    """All runs at once (they mostly wait on cell limits), each in its own process: a payload that
    killed its parent would kill the runner, not pytest."""
    procs = {name: subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=HERE.parent)
             for name, cmd in RUNS.items() if cmd}
    out = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=170)
        out[name] = (proc.returncode, stdout, stderr)
    return out


@pytest.mark.parametrize("run", list(RUNS))
def test_no_payload_escapes(runs, run):
    if RUNS[run] is None:
        pytest.skip("needs root" if run.startswith("root") else "no unshare/setpriv to make an unprivileged user")
    code, stdout, stderr = runs[run]
    assert code == 0, f"the attack runner died (a payload killed its parent?): {stderr[-2000:]}"
    report = json.loads(stdout)
    assert (report["uid"] == 0) == run.startswith("root")
    results = report["results"]
    assert len(results) == len(ROWS) and all(r["walls"] == "kernel" for r in results)
    escapes = [f"{r['class']} / {r['name']}: {e}" for r in results for e in r["escapes"]]
    assert not escapes, "\n".join(escapes)
    assert report["evil_library"] or not shutil.which("cc")  # the native-code payload had its library


def test_payloads_cover_every_class():
    assert len(ROWS) >= 100
    classes = {row[0].split()[0] for row in ROWS}
    assert {"1", "2", "3", "4", "5", "6", "7", "8", "k", "n"} <= classes
    assert len({row[1] for row in ROWS}) == len(ROWS)
