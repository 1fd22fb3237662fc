"""Run a compile with the fake engine in a child process, optionally SIGKILLing itself at the
Nth atomic write (a page, the manifest, the model cache, the index): a crash at an exact point.

    python tests/compile_child.py VAULT [KILL_AT_WRITE]
"""

import json
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import kb.compile.job  # noqa: E402
import kb.core.manifest  # noqa: E402
import kb.core.vault  # noqa: E402
from fakes import CompileFake  # noqa: E402

vault_path = Path(sys.argv[1])
kill_at = int(sys.argv[2]) if len(sys.argv) > 2 else 0
real = kb.core.vault.atomic_write
count = 0


def counting_write(path, text):
    global count
    count += 1
    if count == kill_at:
        # half a write: the temp file exists, the rename never happens
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(path).parent / f".{Path(path).name}.crash.kb-tmp"
        tmp.write_text(text[: len(text) // 2])
        os.kill(os.getpid(), signal.SIGKILL)
    real(path, text)


for mod in (kb.core.vault, kb.compile.job, kb.core.manifest):
    mod.atomic_write = counting_write

engine = CompileFake()
job = kb.compile.job.Compile(kb.core.vault.Vault.open(vault_path), lambda: engine)
report = job.run()
print(json.dumps({"report": report.as_dict(), "writes": count, "calls": len(engine.calls)}))
