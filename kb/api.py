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
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from kb.core import config as kbconfig
from kb.core import events, models
from kb.core.errors import HistoryError, KbError
from kb.core.vault import Vault


@dataclass
class ModelInfo:
    name: str
    engine: str
    where: str  # the server for `openai`, else the model file or why it is not ready


class Serialized:
    """An engine behind a lock shared by every engine of a front end; everything but chat() is
    passed through. An engine that serves calls side by side (`concurrent`, a server) is not
    locked: the lock keeps two threads out of one in-process model, and a server needs no such
    guard (a compile with jobs > 1 keeps its requests in flight from the TUI too)."""

    def __init__(self, engine, lock: threading.Lock | None = None):
        self._inner = engine
        self._lock = lock or threading.Lock()

    def chat(self, *args, **kwargs):
        if getattr(self._inner, "concurrent", False):
            return self._inner.chat(*args, **kwargs)
        with self._lock:
            return self._inner.chat(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._inner, name)


def init(path: str | Path, env: dict | None = None, *, history: bool = True) -> tuple[Vault, list[str]]:
    """Create whatever part of a vault is missing; an existing config must still be valid. With
    history on (config's [history] enabled) the vault becomes a git repository, or keeps the one
    it is, and kb's files go into a first commit."""
    from kb.core.history import NO_GIT, History
    text = kbconfig.DEFAULT_TOML if history else kbconfig.DEFAULT_TOML.replace("# enabled = true", "enabled = false")
    vault, created = Vault.init(Path(path), text)
    config = kbconfig.load(vault.config_path, env)
    if config["history"]["enabled"]:
        h = History(vault.root)
        if h.gitexe is None:
            raise HistoryError(f"vault ready at {vault.root}, but without history: {NO_GIT}")
        new_repo, new_vault = not h.exists, ".kb/config.toml" in created
        h.start("init: new vault" if new_repo and new_vault else "init: kb's files", "init")
        if new_repo:
            created.append(".git/")
    return vault, created


class Kb:
    """One vault, its config, and the engines its jobs get.

    A Kb from `Kb.open` builds each job's engine from config: the backend `model.engine` names
    (kb.agents.engine's registry) with the job's model (`[compile] model` and the like, else
    `[model] name`). One built directly gets `engine_factory` for every job instead (a test's
    scripted engine); None means no model, and a job that needs one says so (a KbError)."""

    def __init__(self, vault: Vault, config: kbconfig.Config | None = None, *,
                 engine_factory: Callable[[], object] | None = None, models_dir: Path | None = None,
                 load_config: Callable[[], kbconfig.Config] | None = None):
        self.vault = vault
        self._config = config
        self._load_config = load_config or (lambda: kbconfig.load(None, {}))
        self.engine_factory = engine_factory
        self.models_dir = models_dir if models_dir is not None else models.models_dir({})
        self._from_config = False
        self._shared: dict | None = None  # model -> engine, when sharing_one_engine()
        self._shared_lock = threading.Lock()  # guards _shared
        self._call_lock = threading.Lock()  # one chat() at a time over the shared engines

    @classmethod
    def open(cls, where: str | Path | None = None, *, env: dict | None = None, model: str | None = None,
             engine: str | None = None) -> "Kb":
        """The vault at `where` (else $KB_VAULT, else found upwards from the current directory).
        `env` (default: the process's) overrides config as the KB_* variables do for the CLI. The
        config is read on first use, so commands that need none work with a broken one."""
        env = dict(os.environ) if env is None else env
        where = where or env.get("KB_VAULT")
        vault = Vault.open(where) if where else Vault.find(Path.cwd())
        overrides = {("model", "name"): model, ("model", "engine"): engine}
        kb = cls(vault, models_dir=models.models_dir(env),
                 load_config=lambda: kbconfig.load(vault.config_path, env, overrides))
        kb._from_config = True
        return kb

    @property
    def config(self) -> kbconfig.Config:
        if self._config is None:
            self._config = self._load_config()
            from kb.agents.sandbox import allow_weak_walls
            allow_weak_walls(self._config["sandbox"]["allow_weak"])  # for every RLM sandbox below
        return self._config

    # -- models -----------------------------------------------------------------------------
    def configured_engine(self, name: str | None = None):
        """The backend config names, loaded now; `name` swaps in another model, same settings."""
        from kb.agents.engine import make_engine
        cfg = self.config
        if name is not None:
            cfg = dataclasses.replace(cfg, values={**cfg.values, "model": {**cfg.model, "name": name}})
        return make_engine(cfg, self.models_dir)

    def engine(self, job: str | None = None, role: str = "model"):
        """The engine for `job`'s model (`None`: `[model] name`)."""
        if self.engine_factory is None and not self._from_config:
            raise KbError("no model configured")
        if self.engine_factory is not None:
            key, build = None, self.engine_factory
        else:
            key = kbconfig.model_for(self.config, job, role) if job else self.model_name
            build = lambda: self.configured_engine(key)  # noqa: E731
        if self._shared is None:
            return build()
        with self._shared_lock:
            if key not in self._shared:
                self._shared[key] = Serialized(build(), self._call_lock)
            return self._shared[key]

    def engine_factory_for(self, job: str | None, role: str = "model") -> Callable[[], object]:
        """What a job is given: the model loads when (and if) the job first needs it."""
        return lambda: self.engine(job, role)

    def _sub_engine_factory(self) -> Callable[[], object] | None:
        """The model behind ask's llm_query, when `[ask] sub_model` names one other than the root's
        (None: the root model answers its own sub-calls)."""
        if self.engine_factory is not None or not self._from_config:
            return None
        if kbconfig.model_for(self.config, "ask", "sub_model") == kbconfig.model_for(self.config, "ask"):
            return None
        return self.engine_factory_for("ask", "sub_model")

    def sharing_one_engine(self) -> "Kb":
        """This Kb with each engine built once and every call made one at a time: for a front
        end whose workers run side by side (an ask during a compile waits its turn instead of
        entering llama.cpp from two threads)."""
        kb = Kb(self.vault, self._config, engine_factory=self.engine_factory, models_dir=self.models_dir,
                load_config=lambda: self.config)
        kb._from_config = self._from_config
        kb._shared = {}
        return kb

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
    def compile_settings(self, jobs: int | None = None):
        """`jobs` (a command line's --jobs) overrides `[compile] jobs`; the job itself uses it only
        with an engine that serves calls side by side, and says so when it cannot."""
        from kb.compile.job import Settings
        from kb.core.errors import UsageError
        c = self.config["compile"]
        if jobs is not None and jobs < 1:
            raise UsageError(f"--jobs must be at least 1, got {jobs}")
        return Settings(max_source_mb=c["max_source_mb"], chunk_chars=c["chunk_chars"],
                        max_concepts=c["max_concepts"], jobs=c["jobs"] if jobs is None else jobs)

    def lint_settings(self, model_checks: bool = True):
        from kb.lint.job import LintSettings
        c = self.config["lint"]
        return LintSettings(model_checks=model_checks, max_contradictions=c["max_contradictions"],
                            max_claims=c["max_claims"], max_gap_pages=c["max_gap_pages"])

    def ask_settings(self):
        from kb.ask.job import AskSettings
        return AskSettings(context_tokens=self.config.model["n_ctx"],
                           first_step=self.config["ask"]["first_step"])

    # -- jobs -------------------------------------------------------------------------------
    def compile(self, on_progress: events.OnProgress | None = None, *, jobs: int | None = None):
        """`jobs`: model requests in flight (default `[compile] jobs`)."""
        from kb.compile.job import Compile
        from kb.recorded import Recorded, compile_run
        job = Compile(self.vault, self.engine_factory_for("compile"), self.compile_settings(jobs),
                      on_progress=on_progress)
        return Recorded(job, "run", compile_run(self.recorder, job))

    def lint(self, *, model_checks: bool = True, on_progress: events.OnProgress | None = None):
        """Structural checks need no model: without model checks no engine is ever built."""
        from kb.lint.job import Lint
        from kb.recorded import Recorded, lint_run
        job = Lint(self.vault, self.engine_factory_for("lint") if model_checks else None,
                   self.lint_settings(model_checks), on_progress=on_progress)
        return Recorded(job, "run", lint_run(self.recorder, job))

    def ask(self, on_event: Callable | None = None):
        """`on_event` gets the agent's trace events (kb.agents.trace) as the run goes."""
        from kb.ask.job import Ask
        from kb.recorded import Recorded, ask_file_back
        job = Ask(self.vault, self.engine_factory_for("ask"), settings=self.ask_settings(), on_event=on_event,
                  sub_engine_factory=self._sub_engine_factory())
        return Recorded(job, "file_back", ask_file_back(self.recorder, job))

    def watcher(self, *, debounce: float = 1.0, on_log: Callable[[str], None] | None = None,
                on_progress: events.OnProgress | None = None):
        from kb.recorded import watch_batch
        from kb.watch import Watcher
        return Watcher(self.vault, self.engine_factory_for("compile"), self.compile_settings(),
                       debounce=debounce, on_log=on_log, on_progress=on_progress,
                       record=watch_batch(self.recorder, self.vault, on_log))

    def finetune_data(self, *, per_page: int = 4, on_progress: events.OnProgress | None = None):
        from kb.finetune.data import DataSettings, FinetuneData
        from kb.recorded import Recorded, finetune_data_run
        job = FinetuneData(self.vault, self.engine_factory_for(None), DataSettings(per_page=per_page),
                           on_progress=on_progress)
        return Recorded(job, "run", finetune_data_run(self.recorder, job))

    def finetune(self, settings=None, on_progress: events.OnProgress | None = None):
        from kb.finetune.job import Finetune
        return Finetune(self.vault, self.models_dir, settings, on_progress=on_progress)

    def closed_book(self, *, before: str | None = None, after: str | None = None, limit: int | None = None,
                    on_run: Callable[[str, str, int], None] | None = None):
        """Before and after finetuning on the validation split; each model with config's settings."""
        from kb.finetune import closed_book
        return closed_book.compare(self.vault, self.configured_engine, self.model_name, before=before,
                                   after=after, limit=limit, on_run=on_run)

    # -- history ----------------------------------------------------------------------------
    @property
    def recorder(self):
        """Ends each write job in one commit (kb/recorded.py); a no-op with history off."""
        if "_recorder" not in self.__dict__:
            from kb.core.history import History
            from kb.recorded import Recorder
            on = self.config["history"]["enabled"]
            self.__dict__["_recorder"] = Recorder(self.vault, History(self.vault.root) if on else None)
        return self.__dict__["_recorder"]

    def take_commits(self) -> list:
        """The commits kb made since this was last asked (for a front end to show)."""
        return self.recorder.take()

    def _history(self):
        from kb.core.history import NO_GIT, History
        if not self.config["history"]["enabled"]:
            raise HistoryError("history is off for this vault ([history] enabled = false in .kb/config.toml)")
        h = History(self.vault.root)
        if h.gitexe is None:
            raise HistoryError(NO_GIT)
        if not h.exists:
            raise HistoryError(f"{self.vault.root} has no history yet: kb starts one with its next write")
        return h

    def history(self, limit: int | None = 20) -> list:
        """kb's commits, newest first."""
        return self._history().log(limit)

    def undo(self, ref: str | None = None) -> tuple:
        """Revert kb's last write not yet undone (or `ref`) as a new commit: (undone, new). The
        search index follows the files; the manifest is in the commit, so compile does too."""
        from kb.recorded import vault_lock
        h = self._history()
        with vault_lock(h.root):
            done, new = h.undo(ref)
        from kb.tools.search import SearchIndex
        index = SearchIndex(self.vault)
        if index.exists:
            index.sync(h.files(new.id))
        return done, new

    # -- the vault without a model ----------------------------------------------------------
    def status(self):
        from kb.status import vault_status
        return vault_status(self.vault)

    def ingest(self, paths: list[Path]):
        from kb.ingest import ingest
        from kb.tools.search import SearchIndex
        rows = ingest(self.vault, paths)
        added = [r.dest for r in rows if r.dest and r.note == "added"]
        index = SearchIndex(self.vault)
        if added and index.exists:  # raw sources are searchable before they are compiled
            index.sync(added)
        return rows

    def find_page(self, name: str) -> str:
        """The note `name` names: a path or a link's target resolved as Obsidian resolves a link
        written in index.md, else a page whose title or alias it is (case folded)."""
        from kb.core.errors import PageError
        from kb.core.links import LinkIndex, nfc
        want = name.strip().removeprefix("[[").removesuffix("]]").split("|")[0].split("#")[0].strip()
        if not want:
            raise PageError("no page named: give a path or a title")
        found = LinkIndex(self.vault.files()).resolve(want, "index.md")
        if found is None:
            low = nfc(want).lower()
            for rel in self.vault.wiki_pages():
                try:
                    meta = self.vault.read(rel).meta
                except KbError:
                    continue
                names = [meta.get("title"), *(meta.get("aliases") or [])]
                if any(isinstance(n, str) and nfc(n).lower() == low for n in names):
                    found = rel
                    break
        if found is None or not found.lower().endswith(".md"):
            raise PageError(f"{want}: no page by that path, title or alias (search finds pages by their words)")
        return found

    def read_page(self, name: str):
        """(path, its text) of the note `name` names (find_page)."""
        rel = self.find_page(name)
        return rel, self.vault.read(rel).text()

    def pages(self, kind: str | None = None) -> list[tuple[str, str, str]]:
        """(path, title, description) of every wiki page, as index.md lists them; `kind` keeps one kind."""
        from kb.core import catalog
        from kb.core.errors import UsageError
        from kb.core.pages import GROUPS
        from kb.core.vault import PAGE_TYPES
        folders = dict(zip(PAGE_TYPES, (prefix for prefix, _ in GROUPS)))  # the index's groups
        if kind and kind not in folders:
            raise UsageError(f"unknown kind {kind!r}; use one of {', '.join(folders)}")
        return [e for e in catalog.index_entries(self.vault) if not kind or e[0].startswith(folders[kind])]

    def search(self, query: str, k: int = 10, kinds: tuple[str, ...] | None = None, *,
               prefix: bool = False, fresh: bool = True):
        """`prefix`: the last word also matches the words it begins (search as you type).
        `fresh=False` skips the look at every file's stamp (0.4 s at 10,000 pages), for a caller
        that searches on every key and calls `refresh_search` itself; the jobs that write pages
        keep the index current either way."""
        from kb.tools.search import SearchIndex
        index = SearchIndex(self.vault)
        if fresh:
            index.sync()  # stats only when nothing changed
        return index.search(query, k, kinds=kinds, prefix=prefix)

    def refresh_search(self) -> dict:
        """Bring the search index up to date with the files (a person's edits since kb's last job)."""
        from kb.tools.search import SearchIndex
        return SearchIndex(self.vault).sync()

    def reindex(self) -> dict:
        from kb.tools.search import SearchIndex
        return SearchIndex(self.vault).rebuild()

    def traces(self):
        from kb.ask import traces
        return traces.runs(self.vault)

    def trace(self, run_id: str) -> list:
        from kb.ask import traces
        return traces.events(self.vault, run_id)
