"""llama.cpp in-process: the embedded default backend.

One model per process, behind a lock: a GGUF is loaded once and shared by every LlamaEngine that
names the same file and settings (compile, ask and the RLM sub-calls all talk to one copy).
Consecutive calls that share a prompt prefix (the same system prompt, the same REPL history)
reuse its KV cache: llama-cpp-python keeps the last sequence and only evaluates the new suffix,
so kb keeps prompts append-only where it can.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Callable

from kb.agents.engine import Message, Reply, Timings, Usage
from kb.core.errors import EngineError, ModelError
from kb.core.models import check_gguf

_MODELS: dict[tuple, object] = {}
_LOAD_LOCK = threading.Lock()


def default_threads() -> int:
    """One thread per CPU the OS reports (llama.cpp's own default is similar)."""
    return max(1, (os.cpu_count() or 2))


def load_llama(path: Path, *, n_ctx: int, n_threads: int, n_gpu_layers: int):
    """The shared `llama_cpp.Llama` for these settings; a clear ModelError if it will not load."""
    key = (str(path), n_ctx, n_threads, n_gpu_layers)
    with _LOAD_LOCK:
        if key in _MODELS:
            return _MODELS[key]
        check_gguf(path)
        try:
            import llama_cpp
        except ImportError:
            raise ModelError("llama-cpp-python is not installed; run `make install` "
                             "(or pip install llama-cpp-python)") from None
        threads = n_threads or default_threads()
        try:
            llm = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads,
                                  n_threads_batch=threads, n_gpu_layers=n_gpu_layers,
                                  n_batch=512, verbose=False)
        except (ValueError, RuntimeError, OSError) as e:
            raise ModelError(f"llama.cpp could not load {path} ({e}); the file may be corrupt "
                             "or from an unsupported architecture") from None
        # Drop every other loaded model: one model per process keeps memory bounded.
        _MODELS.clear()
        _MODELS[key] = llm
        return llm


class LlamaEngine:
    name = "llama_cpp"

    def __init__(self, path: Path, *, n_ctx: int = 8192, n_threads: int = 0, n_gpu_layers: int = 0,
                 repeat_penalty: float = 1.1, max_tokens: int = 512, temperature: float = 0.2):
        self.path = Path(path)
        self.n_ctx = n_ctx
        self.repeat_penalty = repeat_penalty
        self.max_tokens, self.temperature = max_tokens, temperature  # for calls that pass none
        self._llm = load_llama(self.path, n_ctx=n_ctx, n_threads=n_threads, n_gpu_layers=n_gpu_layers)
        self._lock = _call_lock(self._llm)

    @property
    def model(self) -> str:
        return self.path.name

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def chat(self, messages: list[Message], *, json_schema: dict | None = None,
             max_tokens: int | None = None, temperature: float | None = None,
             stop: list[str] | None = None,
             on_token: Callable[[str], None] | None = None) -> Reply:
        import llama_cpp

        max_tokens = self.max_tokens if max_tokens is None else max_tokens
        temperature = self.temperature if temperature is None else temperature

        fmt = {"type": "json_object", "schema": json_schema} if json_schema is not None else None
        with self._lock:
            ctx = self._llm._ctx.ctx
            llama_cpp.llama_perf_context_reset(ctx)
            t0 = time.perf_counter()
            parts: list[str] = []
            finish = "stop"
            usage = None
            try:
                # Stream only when someone watches the tokens; a plain call reports exact usage.
                out = self._llm.create_chat_completion(
                    messages=messages, response_format=fmt, max_tokens=max_tokens,
                    temperature=temperature, stop=stop or None, repeat_penalty=self.repeat_penalty,
                    stream=on_token is not None)
                if on_token is None:
                    parts.append(out["choices"][0]["message"].get("content") or "")
                    finish = out["choices"][0].get("finish_reason") or "stop"
                    usage = out.get("usage")
                else:
                    for chunk in out:
                        choice = chunk["choices"][0]
                        delta = choice.get("delta", {}).get("content")
                        if delta:
                            parts.append(delta)
                            on_token(delta)
                        if choice.get("finish_reason"):
                            finish = choice["finish_reason"]
            except ValueError as e:  # prompt longer than the context window, mostly
                raise EngineError(f"llama.cpp: {e}") from None
            end = time.perf_counter()
            perf = llama_cpp.llama_perf_context(ctx)
        text = "".join(parts)
        prompt_tokens = self._prompt_tokens(usage, int(perf.n_eval))
        computed = int(perf.n_p_eval)
        timings = Timings(prefill_s=perf.t_p_eval_ms / 1000, decode_s=perf.t_eval_ms / 1000,
                          total_s=end - t0, _decoded=int(perf.n_eval))
        return Reply(text=text, finish_reason=finish or "stop", model=self.model, timings=timings,
                     usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=int(perf.n_eval),
                                 cached_tokens=max(0, prompt_tokens - computed)))

    def _prompt_tokens(self, usage, n_eval: int) -> int:
        if usage and usage.get("prompt_tokens"):
            return int(usage["prompt_tokens"])
        # Streaming replies carry no usage: the KV cache holds prompt + output, so subtract.
        return max(0, int(self._llm.n_tokens) - n_eval)


def from_config(config, models_dir) -> LlamaEngine:
    """The `llama_cpp` backend as config describes it (registered in kb.agents.engine)."""
    from kb.core import models
    m = config["model"]
    return LlamaEngine(models.resolve(m["name"], models_dir), n_ctx=m["n_ctx"], n_threads=m["n_threads"],
                       n_gpu_layers=m["n_gpu_layers"], repeat_penalty=m["repeat_penalty"],
                       max_tokens=m["max_tokens"], temperature=m["temperature"])


_CALL_LOCKS: dict[int, threading.Lock] = {}


def _call_lock(llm) -> threading.Lock:
    with _LOAD_LOCK:
        return _CALL_LOCKS.setdefault(id(llm), threading.Lock())
