"""Run the hostile cells of tests/sandbox_payloads.py against the real sandbox and judge each by
its effects. A script, so that the test can run it as root and as an unprivileged user, and so
that a payload that did kill its parent kills this process, not pytest:

    python tests/sandbox_attack.py [--no-python-walls] [--only SUBSTRING]   # JSON on stdout
"""

from __future__ import annotations

import argparse
import base64
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sandbox_payloads import PRELUDE, ROWS  # noqa: E402

from kb.agents.sandbox import Limits, Sandbox, SandboxError  # noqa: E402

CELL = 1.0  # seconds: the cell limit every payload runs under
BATCH = 12  # payloads per sandbox
SECRETS = ("private note", "ssh-secret-key", "raw paper text", "hunter2")
EVIL_C = '#include <stdlib.h>\n__attribute__((constructor)) static void run(void) { system("touch %s-so"); }\n'


def snapshot(root: Path) -> dict:
    return {str(p): (p.read_bytes(), p.stat().st_mode) for p in sorted(root.rglob("*")) if p.is_file()}


def evil_library(pwned: str, where: Path) -> str:
    """A shared library whose constructor runs a shell command, base64; empty without a C compiler."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        return ""
    (where / "evil.c").write_text(EVIL_C % pwned)
    done = subprocess.run([cc, "-shared", "-fPIC", "-o", str(where / "evil.so"), str(where / "evil.c")],
                          capture_output=True)
    return base64.b64encode((where / "evil.so").read_bytes()).decode() if done.returncode == 0 else ""


def group_alive(pgids: set[int]) -> list[str]:
    left = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) in pgids:
            left.append(stat.split("/")[2])
    return left


def attack(sb: Sandbox, row, subs: dict, env: dict) -> dict:
    cls, name, expect, code = row
    escapes: list[str] = []
    res = None
    try:
        if sb._proc is None:
            sb.start()
        env["pgids"].add(sb._proc.pid)
        t0 = time.monotonic()
        res = sb.run(PRELUDE + "\n" + code.format(**subs))
        waited = time.monotonic() - t0  # includes the start of a fresh child after a kill
        if sb._proc:
            env["pgids"].add(sb._proc.pid)
        report = res.output + (res.error or "") + (res.killed or "") + json.dumps(res.final)
        if expect != "py" or sb.limits.python_walls:
            escapes += [line[:200] for line in res.output.splitlines() if line.startswith("ESCAPED")]
        escapes += [f"{s!r} in the report" for s in SECRETS if s in report]
        if expect == "killed" and not res.killed:
            escapes.append(f"not stopped: {report[-300:]}")
        if res.seconds > CELL * 1.1:
            escapes.append(f"the cell ran {res.seconds:.2f}s under a {CELL}s limit")
        if waited > CELL + 1:
            escapes.append(f"the parent was blocked {waited:.2f}s by a {CELL}s cell")
        if res.final and len(res.final.get("value", "")) > sb.limits.final_chars:
            escapes.append("FINAL value over its cap")
        for _ in range(2):  # the next cell gets a true answer, or the violation is reported
            probe = sb.run("print(6 * 7)")
            if sb._proc:
                env["pgids"].add(sb._proc.pid)
            if probe.killed is None:
                if probe.output.strip() != "42":
                    escapes.append(f"desynchronised: the next cell read {probe.output[:80]!r}")
                break
    except SandboxError as e:
        escapes.append(f"the parent could not recover: {e}")
        sb.close()
    if snapshot(env["vault"]) != env["vault_before"] or snapshot(env["home"]) != env["home_before"]:
        escapes.append("the vault or $HOME changed")
        env["vault_before"], env["home_before"] = snapshot(env["vault"]), snapshot(env["home"])
    for path in glob.glob(subs["pwned"] + "*"):
        escapes.append(f"marker file {path}")
        os.remove(path)
    for listener in env["listeners"]:
        try:
            conn, _ = listener.accept()
            conn.close()
            escapes.append("a listener got a connection")
        except BlockingIOError:
            pass
    return {"class": cls, "name": name, "escapes": escapes, "walls": sb.walls,
            "seconds": round(res.seconds, 3) if res else None, "killed": bool(res and res.killed)}


def run_batch(rows, subs: dict, env: dict, python_walls: bool) -> list[dict]:
    """Rows share one sandbox (a killed cell gets a fresh child anyway); then nothing may be left:
    no process of its groups, no scratch dir."""
    limits = Limits(cell_seconds=CELL, memory_mb=256, scratch_mb=32, cpu_seconds=30, python_walls=python_walls)
    sb = Sandbox({"search": lambda q, k=5: [{"path": "wiki/a.md", "snippet": str(q)[:20]}]}, limits)
    sb.set("EVIL_SO", env["evil"])
    env["pgids"] = set()
    try:
        out = [attack(sb, row, subs, env) for row in rows]
    finally:
        sb.close()
    for _ in range(40):
        left = group_alive(env["pgids"])
        if not left:
            break
        time.sleep(0.05)
    if left:
        out[-1]["escapes"].append(f"processes left behind after the batch: {left}")
    if glob.glob(f"{tempfile.gettempdir()}/kb-scratch-{os.getpid()}-*"):
        out[-1]["escapes"].append("a scratch dir was left behind")
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-python-walls", action="store_true")
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    os.environ["KB_ADVERSARIAL_SECRET"] = "hunter2"
    base = Path(tempfile.mkdtemp(prefix="kb-attack-"))
    vault, home = base / "vault", base / "home"
    for path, text in ((vault / "index.md", "# Index\n"), (vault / "wiki/secret.md", "a person's private note\n"),
                       (vault / "raw/paper.md", "raw paper text\n"), (home / ".ssh/id_rsa", "ssh-secret-key\n")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o600)
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    abstract = f"kb-attack-{os.getpid()}"
    unix = socket.socket(socket.AF_UNIX)
    unix.bind("\0" + abstract)
    for s in (tcp, unix):
        s.listen()
        s.setblocking(False)
    pwned = f"/tmp/kb-pwned-{os.getpid()}"
    subs = {"vault": vault, "home": home, "pwned": pwned, "parent": os.getpid(), "port": tcp.getsockname()[1],
            "abstract": abstract, "hostname": socket.gethostname()}
    env = {"vault": vault, "home": home, "vault_before": snapshot(vault), "home_before": snapshot(home),
           "listeners": (tcp, unix), "evil": evil_library(pwned, base)}
    try:
        rows = [row for row in ROWS if args.only in row[0] + " " + row[1]]
        results = [r for i in range(0, len(rows), BATCH)
                   for r in run_batch(rows[i:i + BATCH], subs, env, not args.no_python_walls)]
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(json.dumps({"uid": os.getuid(), "evil_library": bool(env["evil"]), "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
