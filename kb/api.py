"""The Python API: a vault and its config, and every job built from them the same way.

This is the composition root. Config (`.kb/config.toml`, the environment, command-line
overrides) is read here and only here; each job gets an engine factory and settings taken from
it, and never reads config itself. Front ends (`kb/cli.py`, `kb/tui/`, a script) open a `Kb`,
ask it for jobs, run them and show the results:

    kb = Kb.open("~/notes")
    report = kb.compile().run()
    answer = kb.ask().answer("What is hot composting?")
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from kb.core import config as kbconfig
from kb.core import models
from kb.core.errors import KbError
from kb.core.vault import Vault


@dataclass
class ModelInfo:
    name: str
    engine: str
    where: str  # the server for `openai`, else the model file or why it is not ready


class Serialized:
    """An engine behind a lock; everything but chat() is passed through."""

    def __init__(self, engine):
        self._inner = engine
        self._lock = threading.Lock()

    def chat(self, *args, **kwargs):
        with self._lock:
            return self._inner.chat(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._inner, name)


def init(path: str | Path, env: dict | None = None) -> tuple[Vault, list[str]]:
    """Create whatever part of a vault is missing; an existing config must still be valid."""
    vault, created = Vault.init(Path(path), kbconfig.DEFAULT_TOML)
    kbconfig.load(vault.config_path, env)
    return vault, created


class Kb:
    """One vault, its config, and the engine factory every job shares.

    `engine_factory=None` means no model: a job that needs one says so (a KbError). `Kb.open`
    supplies the factory that builds the backend `model.engine` names (kb.agents.engine)."""

    def __init__(self, vault: Vault, config: kbconfig.Config | None = None, *,
                 engine_factory: Callable[[], object] | None = None, models_dir: Path | None = None,
                 load_config: Callable[[], kbconfig.Config] | None = None):
        self.vault = vault
        self._config = config
        self._load_config = load_config or (lambda: kbconfig.load(None, {}))
        self.engine_factory = engine_factory
        self.models_dir = models_dir if models_dir is not None else models.models_dir({})

    @classmethod
    def open(cls, where: str | Path | None = None, *, env: dict | None = None, model: str | None = None,
             engine: str | None = None) -> "Kb":
        """The vault at `where` (else $KB_VAULT, else found upwards from the current directory).
        Its config is read on first use, so commands that need none work with a broken one."""
        env = {} if env is None else env
        where = where or env.get("KB_VAULT")
        vault = Vault.open(where) if where else Vault.find(Path.cwd())
        overrides = {("model", "name"): model, ("model", "engine"): engine}
        kb = cls(vault, models_dir=models.models_dir(env),
                 load_config=lambda: kbconfig.load(vault.config_path, env, overrides))
        kb.engine_factory = kb.configured_engine
        return kb

    @property
    def config(self) -> kbconfig.Config:
        if self._config is None:
            self._config = self._load_config()
        return self._config

    # -- models -----------------------------------------------------------------------------
    def configured_engine(self, name: str | None = None):
        """The backend config names, loaded now; `name` swaps in another model, same settings."""
        from kb.agents.engine import make_engine
        cfg = self.config
        if name is not None:
            cfg = dataclasses.replace(cfg, values={**cfg.values, "model": {**cfg.model, "name": name}})
        return make_engine(cfg, self.models_dir)

    def engine(self):
        if self.engine_factory is None:
            raise KbError("no model configured")
        return self.engine_factory()

    def sharing_one_engine(self) -> "Kb":
        """This Kb with one engine for every job, built on first use, one call at a time: for a
        front end whose workers run side by side (an ask during a compile waits its turn instead
        of entering llama.cpp from two threads)."""
        lock, built = threading.Lock(), []

        def one():
            with lock:
                if not built:
                    built.append(Serialized(self.engine()))
            return built[0]

        return Kb(self.vault, self._config, engine_factory=one, models_dir=self.models_dir,
                  load_config=lambda: self.config)

    @property
    def model_name(self) -> str:
        return str(self.config.model["name"])

    def model_info(self) -> ModelInfo:
        m = self.config.model
        if m["engine"] == "openai":
            return ModelInfo(m["name"], m["engine"], self.config.openai["base_url"])
        try:
            where = str(models.resolve(m["name"], self.models_dir))
        except KbError as e:
            where = f"not ready: {e}"
        return ModelInfo(m["name"], m["engine"], where)

    def chat(self, prompt: str, *, json_schema: dict | None = None, max_tokens: int | None = None,
             on_token: Callable[[str], None] | None = None):
        """One prompt; what it leaves out (max_tokens, temperature) comes from config."""
        return self.engine().chat([{"role": "user", "content": prompt}], json_schema=json_schema,
                                  max_tokens=max_tokens, on_token=on_token)

    # -- settings from config ---------------------------------------------------------------
    def compile_settings(self):
        from kb.compile.job import Settings
        c = self.config["compile"]
        return Settings(max_source_mb=c["max_source_mb"], chunk_chars=c["chunk_chars"],
                        max_concepts=c["max_concepts"])

    def lint_settings(self, model_checks: bool = True):
        from kb.lint.job import LintSettings
        c = self.config["lint"]
        return LintSettings(model_checks=model_checks, max_contradictions=c["max_contradictions"],
                            max_claims=c["max_claims"], max_gap_pages=c["max_gap_pages"])

    def ask_settings(self):
        from kb.ask.job import AskSettings
        return AskSettings(context_tokens=self.config.model["n_ctx"])

    # -- jobs -------------------------------------------------------------------------------
    def compile(self, on_event: Callable[[dict], None] | None = None):
        from kb.compile.job import Compile
        return Compile(self.vault, self.engine, self.compile_settings(), on_event=on_event)

    def lint(self, *, model_checks: bool = True, on_event: Callable[[dict], None] | None = None):
        """Structural checks need no model: without model checks no engine is ever built."""
        from kb.lint.job import Lint
        return Lint(self.vault, self.engine if model_checks else None, self.lint_settings(model_checks),
                    on_event=on_event)

    def ask(self, on_event: Callable[[dict], None] | None = None):
        from kb.ask.job import Ask
        return Ask(self.vault, self.engine, settings=self.ask_settings(), on_event=on_event)

    def watcher(self, *, debounce: float = 1.0, on_log: Callable[[str], None] | None = None,
                on_event: Callable[[dict], None] | None = None):
        from kb.watch import Watcher
        return Watcher(self.vault, self.engine, self.compile_settings(), debounce=debounce, on_log=on_log,
                       on_event=on_event)

    def finetune_data(self, *, per_page: int = 4, on_event: Callable[[dict], None] | None = None):
        from kb.finetune.data import DataSettings, FinetuneData
        return FinetuneData(self.vault, self.engine, DataSettings(per_page=per_page), on_event=on_event)

    def finetune(self, settings=None, on_event: Callable[[dict], None] | None = None):
        from kb.finetune.job import Finetune
        return Finetune(self.vault, self.models_dir, settings, on_event=on_event)

    def closed_book(self, *, before: str | None = None, after: str | None = None, limit: int | None = None,
                    on_run: Callable[[str, str, int], None] | None = None):
        """Before and after finetuning on the validation split; each model with config's settings."""
        from kb.finetune import closed_book
        return closed_book.compare(self.vault, self.configured_engine, self.model_name, before=before,
                                   after=after, limit=limit, on_run=on_run)

    # -- the vault without a model ----------------------------------------------------------
    def status(self):
        from kb.status import vault_status
        return vault_status(self.vault)

    def ingest(self, paths: list[Path]):
        from kb.ingest import ingest
        return ingest(self.vault, paths)

    def search(self, query: str, k: int = 10, kinds: tuple[str, ...] | None = None):
        from kb.tools.search import SearchIndex
        index = SearchIndex(self.vault)
        index.sync()  # cheap when nothing changed: stats only
        return index.search(query, k, kinds=kinds)

    def reindex(self) -> dict:
        from kb.tools.search import SearchIndex
        return SearchIndex(self.vault).rebuild()

    def traces(self):
        from kb.ask import traces
        return traces.runs(self.vault)

    def trace(self, run_id: str) -> list:
        from kb.ask import traces
        return traces.events(self.vault, run_id)
