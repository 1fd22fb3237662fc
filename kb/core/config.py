"""`.kb/config.toml`, its schema, and environment overrides.

Read once by a front end and passed down as a `Config`; nothing below the entry points reads the
file or the environment. Validation is strict because a typo silently ignored is a setting the
user believes in and does not have.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb.core.errors import ConfigError
from kb.core.extract import MAX_SOURCE_MB

# section -> key -> (type, default). bool is checked before int because bool is an int in Python.
SCHEMA: dict[str, dict[str, tuple[type, Any]]] = {
    "model": {
        "name": (str, "qwen2.5-coder-0.5b"),  # a bundled model name or a path to a .gguf file
        "engine": (str, "llama_cpp"),  # llama_cpp | openai | fake
        "n_ctx": (int, 8192),
        "n_threads": (int, 0),  # 0: one per physical core
        "n_gpu_layers": (int, 0),  # -1 offloads every layer (needs a GPU build)
        "temperature": (float, 0.2),
        "repeat_penalty": (float, 1.1),
        "max_tokens": (int, 512),
    },
    "openai": {
        "base_url": (str, "http://127.0.0.1:8080/v1"),
        "api_key": (str, ""),
        "model": (str, ""),  # the server's model id; empty uses the server's default
        "timeout": (float, 600.0),
        # json_object: llama.cpp servers; json_schema: OpenAI, vLLM, Ollama
        "schema_format": (str, "json_object"),
    },
}

SCHEMA["compile"] = {
    "max_source_mb": (float, MAX_SOURCE_MB),  # larger sources are reported, not compiled
    "chunk_chars": (int, 6000),  # long sources are read in chunks of about this size, merged in code
    "max_concepts": (int, 5),  # concepts per source
    "model": (str, ""),  # the model that compiles; empty: [model] name
    # model requests in flight at once (sources read side by side), for an engine that serves
    # them so: an OpenAI-compatible server with several slots. The in-process engine takes one
    "jobs": (int, 1),
}

SCHEMA["ask"] = {
    "model": (str, ""),  # the root model that writes the REPL code; empty: [model] name
    "sub_model": (str, ""),  # the model behind llm_query; empty: the root model
    # rlm: the root model's first move. choice: it picks lookup, compare, count, list or find_all
    # (constrained JSON) and kb runs the code for it; code: it writes code from the start (for a
    # root model that can plan its own, such as a larger one behind a server)
    "first_step": (str, "choice"),
}

SCHEMA["lint"] = {
    "max_contradictions": (int, 8),  # candidate contradictions the model judges per run
    "max_claims": (int, 6),  # weakly supported concept-page claims the model checks
    "max_gap_pages": (int, 4),  # concept pages asked for open questions and new topics
    "model": (str, ""),  # the model of lint's checks; empty: [model] name
}

# (job, role) -> the config key naming its model; each falls back to the one after it.
MODEL_KEYS: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("compile", "model"): (("compile", "model"),),
    ("ask", "model"): (("ask", "model"),),
    ("ask", "sub_model"): (("ask", "sub_model"), ("ask", "model")),
    ("lint", "model"): (("lint", "model"),),
}

SCHEMA["sandbox"] = {
    # true lets model code run where the kernel refuses namespaces or seccomp (some containers),
    # behind Python-level walls that code can reach around; `kb status` shows the mode in force
    "allow_weak": (bool, False),
}

SCHEMA["history"] = {
    # the vault is a git repository and every kb write is one commit (`kb history`, `kb undo`)
    "enabled": (bool, True),
}

SCHEMA["mcp"] = {
    # `kb mcp` is read-only unless this allows its compile tool and ask's save
    "allow_writes": (bool, False),
}

ENGINES = ("llama_cpp", "openai", "fake")

# Environment variable -> (section, key). Every override is validated like the file.
ENV: dict[str, tuple[str, str]] = {
    "KB_MODEL": ("model", "name"),
    "KB_ENGINE": ("model", "engine"),
    "KB_N_CTX": ("model", "n_ctx"),
    "KB_N_THREADS": ("model", "n_threads"),
    "KB_N_GPU_LAYERS": ("model", "n_gpu_layers"),
    "KB_BASE_URL": ("openai", "base_url"),
    "KB_API_KEY": ("openai", "api_key"),
}

_TYPE_WORDS = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


@dataclass
class Config:
    """Validated settings; `values[section][key]`, plus where they came from for messages."""

    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    path: Path | None = None
    forced_model: bool = False  # KB_MODEL or --model named the model: it wins over per-job keys

    def __getitem__(self, section: str) -> dict[str, Any]:
        return self.values[section]

    @property
    def model(self) -> dict[str, Any]:
        return self.values["model"]

    @property
    def openai(self) -> dict[str, Any]:
        return self.values["openai"]


def model_for(config: Config, job: str, role: str = "model") -> str:
    """The model a job uses (a bundled name or a path): a small model where it is enough, a
    larger one where its mistakes cost most. Unset keys fall back to `[model] name`; an
    environment KB_MODEL or a `--model` on the command line beats every per-job key."""
    if (job, role) not in MODEL_KEYS:
        raise ConfigError(f"no model setting for {job}.{role}; known: "
                          + ", ".join(f"{j}.{r}" for j, r in MODEL_KEYS))
    if config.forced_model:
        return config.model["name"]
    for section, key in MODEL_KEYS[(job, role)]:
        if config.values.get(section, {}).get(key):
            return config.values[section][key]
    return config.model["name"]


def for_job(config: Config, job: str, role: str = "model") -> Config:
    """A copy of `config` whose `[model] name` is the job's model, for `make_engine`."""
    values = {s: dict(v) for s, v in config.values.items()}
    values["model"]["name"] = model_for(config, job, role)
    return Config(values=values, path=config.path, forced_model=config.forced_model)


def defaults() -> dict[str, dict[str, Any]]:
    return {s: {k: d for k, (_, d) in keys.items()} for s, keys in SCHEMA.items()}


def _suggest(word: str, options) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _check(where: str, section: str, key: str, value: Any) -> Any:
    typ = SCHEMA[section][key][0]
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    ok = isinstance(value, typ) and not (typ is int and isinstance(value, bool))
    if not ok:
        raise ConfigError(
            f"{where}: {section}.{key} must be {_TYPE_WORDS[typ]}, got {type(value).__name__} {value!r}"
        )
    if (section, key) == ("model", "engine") and value not in ENGINES:
        raise ConfigError(f"{where}: model.engine must be one of {', '.join(ENGINES)}, got {value!r}")
    if (section, key) == ("ask", "first_step") and value not in ("choice", "code"):
        raise ConfigError(f"{where}: ask.first_step must be choice or code, got {value!r}")
    if (section, key) == ("openai", "schema_format") and value not in ("json_object", "json_schema"):
        raise ConfigError(f"{where}: openai.schema_format must be json_object or json_schema, got {value!r}")
    if key in ("n_ctx", "max_tokens", "jobs") and value < 1:
        raise ConfigError(f"{where}: {section}.{key} must be at least 1, got {value}")
    return value


def _parse_env(name: str, section: str, key: str, raw: str) -> Any:
    typ = SCHEMA[section][key][0]
    try:
        return typ(raw) if typ is not str else raw
    except ValueError:
        raise ConfigError(f"environment {name}: {section}.{key} must be {_TYPE_WORDS[typ]}, got {raw!r}") from None


def load(path: Path | None, env: dict[str, str] | None = None, overrides: dict | None = None) -> Config:
    """Defaults, then the file, then the environment, then explicit (command-line) overrides."""
    values = defaults()
    if path is not None and path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"{path}: not valid TOML: {e}") from None
        except OSError as e:
            raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
        for section, table in data.items():
            if section not in SCHEMA:
                raise ConfigError(f"{path}: unknown section [{section}]{_suggest(section, SCHEMA)}; "
                                  f"expected one of: {', '.join(SCHEMA)}")
            if not isinstance(table, dict):
                raise ConfigError(f"{path}: '{section}' must be a table ([{section}])")
            for key, value in table.items():
                if key not in SCHEMA[section]:
                    raise ConfigError(f"{path}: unknown key '{section}.{key}'{_suggest(key, SCHEMA[section])}; "
                                      f"expected one of: {', '.join(SCHEMA[section])}")
                values[section][key] = _check(str(path), section, key, value)
    env = os.environ if env is None else env
    forced = False
    for name, (section, key) in ENV.items():
        if env.get(name):
            values[section][key] = _check(f"environment {name}", section, key,
                                          _parse_env(name, section, key, env[name]))
            forced = forced or (section, key) == ("model", "name")
    for (section, key), value in (overrides or {}).items():
        if value is not None:
            values[section][key] = _check("command line", section, key, value)
            forced = forced or (section, key) == ("model", "name")
    return Config(values=values, path=path, forced_model=forced)


DEFAULT_TOML = """\
# kb settings for this vault. Environment variables override them: KB_MODEL, KB_ENGINE,
# KB_N_CTX, KB_N_THREADS, KB_N_GPU_LAYERS, KB_BASE_URL, KB_API_KEY.

[model]
# A bundled model (see `kb models`) or a path to any .gguf file.
# name = "qwen2.5-coder-0.5b"
# llama_cpp runs the model in-process; openai talks to an OpenAI-compatible server.
# engine = "llama_cpp"
# n_ctx = 8192
# n_threads = 0        # 0: one per physical core
# n_gpu_layers = 0     # -1 offloads every layer (needs a CUDA/Metal build of llama-cpp-python)

# Per job, a model other than [model] name (a bundled name or a .gguf path); empty inherits it.
# [compile]
# model = "qwen2.5-coder-1.5b"
# jobs = 1             # requests in flight with engine = "openai" (a server with that many slots)
# [ask]
# model = ""           # the root model that writes code in the REPL
# sub_model = ""       # the model behind llm_query(); empty: the root model
# first_step = "choice" # the root model picks a typed way to compute; "code": it writes code from the start
# [lint]
# model = ""

[openai]
# base_url = "http://127.0.0.1:8080/v1"
# api_key = ""
# model = ""

[sandbox]
# allow_weak = false   # true: run model code without kernel walls where the kernel refuses them

[history]
# enabled = true       # the vault is a git repository; every kb write is one commit (kb history, kb undo)

[mcp]
# allow_writes = false # true: `kb mcp` also offers compile, and ask with save
"""
