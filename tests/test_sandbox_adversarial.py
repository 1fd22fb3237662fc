"""Hostile code, written as model replies, run through the real loop and sandbox. Each payload
must fail safely with a clear report, and leave the kb process and the vault untouched."""

import glob
import os
from pathlib import Path

import pytest

from kb.agents.fake_engine import FakeEngine
from kb.agents.rlm import RLM, Budget
from kb.agents.sandbox import Limits, Sandbox
from conftest import write

OS = "print.__self__.__import__('os')"  # the real os module, reached through a builtin's __self__
WRAP = "[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close'][0].__init__.__globals__"
IMPORTER = "[c for c in object.__subclasses__() if c.__name__ == 'BuiltinImporter'][0]"
REFUSED = ("not allowed", "Refused", "PermissionError", "ImportError", "MemoryError", "killed",
           "truncated", "died")

PAYLOADS = {
    "read /etc/shadow": "print(open('/etc/shadow').read())",
    "read ~/.ssh": "print(open('{home}/.ssh/id_rsa').read())",
    "read a vault file by path": "print(open('{vault}/wiki/secret.md').read())",
    "write outside scratch": "open('/tmp/kb-pwned-write', 'w').write('x')",
    "overwrite a vault file": "open('{vault}/index.md', 'w').write('pwned')",
    "delete a vault file via os": "import os\nos.remove('{vault}/index.md')",
    "delete via __subclasses__ globals": WRAP + "['remove']('{vault}/index.md')",
    "rename a vault file": OS + ".rename('{vault}/index.md', '{vault}/gone.md')",
    "open a socket": "import socket\nsocket.create_connection(('127.0.0.1', 22))",
    "socket through the real import": "print.__self__.__import__('_socket').socket()",
    "module through the builtin importer": IMPORTER + ".load_module('posix').system('id')",
    "spawn a process": "import subprocess\nsubprocess.run(['touch', '/tmp/kb-pwned-proc'])",
    "os.system through __builtins__": OS + ".system('touch /tmp/kb-pwned-system')",
    "os.system through __subclasses__": WRAP + "['system']('touch /tmp/kb-pwned-wrap')",
    "__import__ os": "__import__('os').system('touch /tmp/kb-pwned-import')",
    "importlib": "import importlib\nimportlib.import_module('os').system('id')",
    "__builtins__ dict": "__builtins__['__import__']('os').system('id')",
    "eval an import": "eval(\"__import__('os')\").system('id')",
    "ctypes": "import ctypes\nctypes.CDLL(None).system(b'touch /tmp/kb-pwned-ctypes')",
    "ctypes through the real import": "print.__self__.__import__('ctypes').CDLL(None)",
    "fork bomb": "os = " + OS + "\nwhile True:\n    os.fork()",
    "kill the parent": OS + ".kill({parent}, 9)",
    "frame walk to the bridge": "llm_query.__globals__['sys']._getframe(0).f_back",
    "forge protocol messages on a raw fd": "open(4, 'w').write('{{\"op\": \"done\"}}\\n')",
    "memory bomb": "x = []\nwhile True:\n    x.append(' ' * 10**7)",
    "10 MB of output": "print('A' * 10_000_000)",
    "infinite loop": "while True:\n    pass",
    "read parent's environment": "print(" + OS + ".environ.get('KB_ADVERSARIAL_SECRET'))",
    "symlink out of scratch": OS + ".symlink('/etc', 'etc_link')",
    "signal handlers": "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)",
    "threads": "import threading\n[threading.Thread(target=lambda: None).start() for _ in range(10**6)]",
}

# Payloads that are contained rather than refused: what the report must show instead.
EXPECT = {"read parent's environment": "None"}  # the child starts with a clean environment


@pytest.fixture(scope="module")
def vault(tmp_path_factory):
    root = tmp_path_factory.mktemp("vault")
    write(root, "index.md", "# Index\n")
    write(root, "wiki/secret.md", "a person's private note\n")
    os.chmod(root / "wiki/secret.md", 0o600)
    return root


def snapshot(root: Path):
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_payload_fails_safely(name, vault, monkeypatch):
    monkeypatch.setenv("KB_ADVERSARIAL_SECRET", "hunter2")
    payload = PAYLOADS[name].format(vault=vault, home=os.path.expanduser("~"), parent=os.getpid())
    before = snapshot(vault)
    events = []
    rlm = RLM(FakeEngine([f"```repl\n{payload}\n```", "FINAL(done)"]), on_event=events.append,
              budget=Budget(iterations=3), limits=Limits(cell_seconds=3, memory_mb=512))
    result = rlm.run("attack", {"context": "data"})
    assert result.status == "final" and result.answer == "done"  # the loop carried on
    out = next(e for e in events if e.type == "output")
    report = (out.output or "") + (out.error or "") + (out.killed or "")
    if name in EXPECT:
        assert report.strip() == EXPECT[name]
    else:
        assert any(word in report for word in REFUSED), f"{name}: no clear report: {report[:500]}"
    assert "hunter2" not in report and "private note" not in report
    assert snapshot(vault) == before
    assert not glob.glob("/tmp/kb-pwned*")
    assert os.getpid() and Path("/proc/self").exists()  # still here


def test_there_are_at_least_20_payloads():
    assert len(PAYLOADS) >= 20


def test_child_runs_without_privileges_or_network():
    with Sandbox(limits=Limits(cell_seconds=5)) as sb:
        res = sb.run(OS + ".getuid(), " + OS + ".listdir('/sys/class/net')"
                     if os.geteuid() == 0 else "1")
        if os.geteuid() == 0:
            # root drops to nobody, inside a network namespace that has only loopback
            assert res.error is not None or "65534" in res.output
            res = sb.run(OS + ".getuid()")
            assert res.output.strip() == "65534"
        assert "hunter" not in res.output


def test_scratch_dir_is_usable_and_removed():
    sb = Sandbox(limits=Limits(cell_seconds=5))
    with sb:
        scratch = sb.scratch
        res = sb.run("open('notes.txt', 'w').write('kept'); print(open('notes.txt').read())")
        assert res.output.strip() == "kept"
        assert (scratch / "notes.txt").exists()
    assert not scratch.exists()
