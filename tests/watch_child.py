"""`kb watch` with a slow fake engine, for the SIGTERM test (the CLI cannot pick a fake engine)."""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fakes import CompileFake  # noqa: E402
from kb.core.vault import Vault  # noqa: E402
from kb.watch import Watcher, serve  # noqa: E402


class Slow(CompileFake):
    def chat(self, messages, **kw):
        time.sleep(float(sys.argv[3]))
        return super().chat(messages, **kw)


if __name__ == "__main__":
    watcher = Watcher(Vault.open(sys.argv[1]), lambda: Slow(), debounce=0.2,
                      on_log=lambda line: print(line, flush=True))
    serve(watcher, once=sys.argv[2] == "once")
