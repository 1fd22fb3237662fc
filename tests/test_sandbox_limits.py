"""Limits that hold, a pipe the parent does not trust, and the refusal where kernel walls are missing."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import kb.agents.sandbox as sandbox_mod
from kb.agents import sandbox_protocol as protocol
from kb.agents.fake_engine import FakeEngine
from kb.agents.rlm import RLM, Budget
from kb.agents.sandbox import Limits, Sandbox, SandboxError, SandboxRefused, sandbox_mode
from kb.tools.repl import ToolInfo
from conftest import run_kb


KERNEL = pytest.mark.skipif(not sandbox_mode(False).startswith("kernel"), reason="no kernel walls on this machine")


def slow_search(q, k=5):
    time.sleep(0.05)
    return [{"path": "a.md"}]


def test_bridged_calls_count_against_the_cell_limit():
    with Sandbox({"search": slow_search}, Limits(cell_seconds=2)) as sb:
        t0 = time.monotonic()
        res = sb.run("while True:\n    search('a')")
        waited = time.monotonic() - t0
    assert res.killed and "2s wall-time limit" in res.killed and len(res.calls) > 10
    assert 2.0 <= res.seconds <= 2.2  # within 10%
    assert waited <= 3.0  # the parent: the limit plus at most 1 s (the fresh child included)


def test_a_cell_kb_wrote_may_take_its_own_limit():
    """kb's first cell makes its planned sub-calls (minutes on a CPU): it gets the run's budget,
    not the 2 s a model-written cell gets; the limit still kills it past that."""
    with Sandbox({"search": slow_search}, Limits(cell_seconds=1)) as sb:
        ok = sb.run("for _ in range(30):\n    search('a')", seconds=10)
        over = sb.run("while True:\n    search('a')", seconds=2)
    assert not ok.killed and ok.seconds > 1.0 and len(ok.calls) == 30
    assert over.killed and "2s wall-time limit" in over.killed


def test_the_run_deadline_holds_inside_a_cell():
    with Sandbox({"search": slow_search}, Limits(cell_seconds=10), deadline=time.monotonic() + 1.5) as sb:
        res = sb.run("while True:\n    search('a')")
        assert res.killed and "time budget" in res.killed
        assert res.seconds <= 1.65
        assert sb._proc is None  # nothing more will run: no fresh child


def test_rlm_run_budget_holds_under_a_bridged_loop():
    loop = "```repl\nwhile True:\n    hits = search('x')\n```"
    rlm = RLM(FakeEngine([loop, "FINAL(done)"]), tools=[ToolInfo("search", "search(q)", "search", slow_search)],
              budget=Budget(seconds=2, iterations=3), limits=Limits(cell_seconds=20))
    t0 = time.monotonic()
    result = rlm.run("loop", {"context": "data"})
    assert result.status == "budget:seconds"
    assert time.monotonic() - t0 <= 2.2 + 1.0


def test_final_var_is_rendered_under_the_cell_limit():
    with Sandbox(limits=Limits(cell_seconds=1)) as sb:
        sb.run("class X:\n    def __str__(self):\n        while True: pass\nx = X()\ny = 'a' * 10**6")
        t0 = time.monotonic()
        with pytest.raises(SandboxError, match="cell limit"):
            sb.get("x")  # FINAL_VAR(x) written outside code: the parent reads it back
        assert time.monotonic() - t0 <= 2.0
        assert len(sb.get("y") or "") == 0  # a restarted child: the variable went with it
        sb.run("y = 'a' * 10**6")
        assert len(sb.get("y")) == sb.limits.final_chars


@pytest.mark.parametrize("payload, words", [
    ("O.write(W, (5).to_bytes(4, 'big') + b'[1,2]')", "a list where a message object belongs"),
    ("O.write(W, b'\\xff\\xff\\xff\\xff')", "frame (the cap is"),
    ("O.write(W, (14).to_bytes(4, 'big') + b'{\"op\": \"done\"}')", "fields"),
])
def test_protocol_violations_are_reported_as_such(payload, words):
    with Sandbox(limits=Limits(cell_seconds=3, python_walls=False)) as sb:
        find = "import os as O, sys\nW = int(sys.argv[5])  # the child's end of the pipe to kb\n"
        res = sb.run(find + payload + "\nimport time\ntime.sleep(5)")
        assert res.killed and "pipe protocol" in res.killed and words in res.killed, res.killed
        assert "wall-time" not in res.killed
        assert sb.run("print(6 * 7)").output.strip() == "42"


def test_frame_reader_takes_a_frame_in_small_pieces_without_copying_it_all_again():
    data = protocol.encode({"op": "ok", "id": 1})
    reader = protocol.FrameReader()
    for i in range(len(data)):
        assert reader.next() is None
        reader.feed(data[i:i + 1])
    assert protocol.parse(reader.next(), ("ok",), 1) == {"op": "ok", "id": 1}
    with pytest.raises(protocol.ProtocolViolation, match="request 2 while request 1"):
        protocol.parse(protocol.encode({"op": "ok", "id": 2})[4:], ("ok",), 1)
    with pytest.raises(protocol.ProtocolViolation, match="not JSON"):
        protocol.parse(b"[" * 100000 + b"]" * 100000, ("ok",), 1)
    with pytest.raises(protocol.ProtocolViolation, match="id is a bool"):
        protocol.parse(protocol.encode({"op": "ok", "id": True})[4:], ("ok",), 1)


@KERNEL
def test_the_cpu_limit_is_reported_as_the_cpu_limit():
    with Sandbox(limits=Limits(cell_seconds=10, cpu_seconds=1)) as sb:
        res = sb.run("while True:\n    pass")
    assert res.killed and "CPU-time limit" in res.killed


@KERNEL
def test_scratch_is_a_capped_tmpfs_inside_the_child():
    with Sandbox(limits=Limits(cell_seconds=5, scratch_mb=4)) as sb:
        res = sb.run("open('notes.txt', 'w').write('kept')\nprint(open('notes.txt').read())")
        assert res.output.strip() == "kept"
        res = sb.run("f = open('big', 'wb')\nfor _ in range(10): f.write(b'x' * (1 << 20)); f.flush()")
        assert "No space left" in (res.error or "")
        assert not list(sb.scratch.iterdir())  # nothing reached the host


def test_without_kernel_walls_model_code_is_refused_unless_allowed(monkeypatch):
    monkeypatch.setattr(sandbox_mod, "_KERNEL_MISSING", "unshare (unprivileged user namespaces): Operation not permitted")
    monkeypatch.setattr(sandbox_mod, "_ALLOW_WEAK", False)
    with pytest.raises(SandboxError, match="refusing to run model code.*allow_weak = true"):
        Sandbox(limits=Limits(cell_seconds=5)).start()
    assert sandbox_mode(False).startswith("refused: ")
    rlm = RLM(FakeEngine(["```repl\nprint(1)\n```", "FINAL(done)"]), limits=Limits(cell_seconds=5))
    with pytest.raises(SandboxRefused) as refused:  # ask and lint pass it up as one line
        rlm.run("task", {"context": "data"})
    assert "\n" not in str(refused.value) and "user namespaces" in str(refused.value)
    stale = Path(tempfile.mkdtemp(prefix="kb-scratch-999999999-"))  # a kb that died
    with Sandbox(limits=Limits(cell_seconds=5, allow_weak=True)) as sb:
        assert sb.walls == "weak" and "namespaces" in sb.missing
        assert sb.run("print(6 * 7)").output.strip() == "42"
        scratch = sb.scratch
    assert not scratch.exists() and not stale.exists()
    assert sandbox_mode(True).startswith("weak, allowed by [sandbox] allow_weak")


@KERNEL
def test_kernel_mode_is_what_runs_here():
    assert sandbox_mode(False).startswith("kernel walls")
    with Sandbox(limits=Limits(cell_seconds=5, python_walls=False)) as sb:
        res = sb.run("import os\nprint(os.getpid(), os.getuid(), sorted(os.listdir('/')))")
        pid, uid, _ = res.output.split(" ", 2)
        assert pid == "1" and uid in ("65534", "1000") and "'etc'" not in res.output
        assert os.getpid() != 1


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root and unshare to take the walls away")
def test_kb_status_names_what_is_missing_in_one_line(tmp_path):
    """In a user namespace where kb's uid is unmapped the kernel refuses nested namespaces, as in
    some containers: status says so in one line, and the config switch turns it into weak mode."""
    assert run_kb("init", tmp_path).returncode == 0
    cmd = ["unshare", "-U", "--", sys.executable, "-m", "kb.cli", "status"]
    out = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=60).stdout
    line = next(l for l in out.splitlines() if l.startswith("sandbox"))
    assert "refused" in line and "allow_weak = true" in line and "user namespaces" in line
    config = tmp_path / ".kb/config.toml"
    config.write_text(config.read_text().replace("# allow_weak = false", "allow_weak = true"))
    out = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=60).stdout
    assert "sandbox   weak, allowed by [sandbox] allow_weak" in out


@pytest.mark.parametrize("cell", [
    "print.__self__.__import__('os').kill({parent}, 9)",
    "import sys\nO = print.__self__.__import__('os')\nO.write(int(sys.argv[5]), b'\\x00\\x00\\x00\\x0f{{\"op\": \"done\"}}')",
    "while True:\n    pass",
])
def test_the_loop_carries_on_after_a_hostile_cell(cell):
    events = []
    rlm = RLM(FakeEngine([f"```repl\n{cell.format(parent=os.getpid())}\n```", "FINAL(done)"]),
              on_event=events.append, budget=Budget(iterations=3), limits=Limits(cell_seconds=1))
    result = rlm.run("attack", {"context": "data"})
    assert result.status == "final" and result.answer == "done"
