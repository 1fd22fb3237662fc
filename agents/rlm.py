"""The RLM loop (after Recursive Language Models, Zhang, Kraska & Khattab): the root model never
sees the corpus. It sees the task, the names, types and sizes of the REPL variables, and the
function signatures; it writes code, reads the (truncated) output, and calls sub-models as
functions whose answers land in variables.

The loop always ends: on FINAL, or when a budget (iterations, sub-calls, tokens, seconds) runs
out, or after too many malformed or failing replies in a row. It then returns the best answer
it has and says why it stopped.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from kb.agents.engine import Engine, Reply
from kb.agents.sandbox import Limits, Sandbox, SandboxRefused
from kb.agents.trace import Choice, Code, Draft, End, Event, Llm, Output, Start, SubCall, Trace, clip
from kb.tools.repl import ToolInfo

PROMPTS = Path(__file__).with_name("prompts")
CODE_BLOCK = re.compile(r"```(repl|python|py)?[ \t]*\n(.*?)```", re.S)
FINAL_VAR_RE = re.compile(r"FINAL_VAR\(\s*[\"']?([A-Za-z_][A-Za-z0-9_]*)[\"']?\s*\)", re.I)
FINAL_RE = re.compile(r"FINAL\((.*)\)", re.S | re.I)


@dataclass
class Budget:
    iterations: int = 8
    sub_calls: int = 20
    tokens: int = 60_000  # root + sub-calls, prompt + completion
    seconds: float = 600.0
    max_failures: int = 3  # malformed or failing replies in a row before giving up
    reply_tokens: int = 400  # per root reply
    sub_reply_tokens: int = 400
    output_chars: int = 2000  # of each cell's output shown back to the root model


@dataclass
class FirstStep:
    """A typed first move for a root model too small to plan code: it fills `schema` (constrained
    output, as compile's calls are), and `decide` turns what it filled (None when the reply was
    not JSON) into (action, arguments, code, error): kb runs that code as the first cell, in the
    trace as written by kb, and the model goes on from its output. `error` says why the reply was
    not taken as given. `prompt` may name {variables} and {functions}: the loop fills them with
    the names, sizes and signatures the model may see, never the data."""

    system: str
    prompt: str
    schema: dict
    decide: Callable[[Any], tuple[str, dict, str, str | None]]
    max_tokens: int = 200


Publish = Callable[[Any, str], tuple[Any, Event | None]]  # (answer, answer_from) -> (answer, event)


@dataclass
class Result:
    answer: str | None
    status: str  # final | budget:<which> | failed
    reason: str = ""
    iterations: int = 0
    sub_calls: int = 0
    tokens: int = 0
    seconds: float = 0.0
    trace_id: str = ""
    trace_path: str | None = None
    answer_from: str = "final"  # final | last_word (asked after the budget ran out) | output (last cell output)
    variables: dict = field(default_factory=dict)  # the REPL variables named in run(keep=...), at the end

    @property
    def finished(self) -> bool:
        return self.status == "final"


def describe(value: Any) -> str:
    """Type and size of a variable, never its content."""
    if isinstance(value, str):
        return f"str, {len(value):,} characters"
    if isinstance(value, dict):
        chars = sum(len(str(v)) for v in value.values())
        ktype = type(next(iter(value), "")).__name__
        vtype = type(next(iter(value.values()), "")).__name__
        return f"dict[{ktype}, {vtype}], {len(value):,} items, {chars:,} characters in all"
    if isinstance(value, list):
        chars = sum(len(str(v)) for v in value)
        etype = type(value[0]).__name__ if value else "str"
        return f"list[{etype}], {len(value):,} items, {chars:,} characters in all"
    return type(value).__name__


def example_cell(task: str, variables: dict[str, Any]) -> str:
    """A first cell written for this task's own data: small models copy examples closely, so the
    example should search the real variable for a real word from the task."""
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z0-9-]{3,}", task)
             if w.lower() not in {"what", "which", "when", "where", "does", "that", "this", "with",
                                  "from", "have", "many", "much", "there", "their", "about", "according"}]
    names = [w for w in words[1:] if w[0].isupper()] if words and task.split()[0] == words[0] else \
        [w for w in words if w[0].isupper()]
    word = (names[0] if names else max(words, key=len)) if words else "keyword"
    if not variables:
        return f"print({word!r})"
    name, value = next(iter(variables.items()))
    if isinstance(value, dict):
        return (f"for key, text in {name}.items():\n"
                f"    i = text.lower().find({word.lower()!r})\n"
                f"    if i >= 0:\n"
                f"        print(key, '->', text[max(0, i - 300):i + 300])")
    if isinstance(value, list):
        return (f"for n, text in enumerate({name}):\n"
                f"    i = str(text).lower().find({word.lower()!r})\n"
                f"    if i >= 0:\n"
                f"        print(n, '->', str(text)[max(0, i - 300):i + 300])")
    return (f"i = {name}.lower().find({word.lower()!r})\n"
            f"print(i, {name}[max(0, i - 300):i + 300] if i >= 0 else 'not found')")


def parse_reply(text: str) -> tuple[list[str], str | None, str | None]:
    """(code blocks, FINAL text, FINAL_VAR name) from a reply; FINAL counts only outside code."""
    blocks = list(dict.fromkeys(m.group(2) for m in CODE_BLOCK.finditer(text)))  # once each
    outside = CODE_BLOCK.sub("", text)
    var = FINAL_VAR_RE.search(outside)
    if var:
        return blocks, None, var.group(1)
    final = FINAL_RE.search(outside)
    if final:
        answer = final.group(1).strip()
        if len(answer) >= 2 and answer[0] == answer[-1] and answer[0] in "\"'":
            answer = answer[1:-1]
        return blocks, answer, None
    return blocks, None, None


class RLM:
    def __init__(self, engine: Engine, *, sub_engine: Engine | None = None,
                 tools: Sequence[ToolInfo] = (),
                 budget: Budget | None = None, limits: Limits | None = None,
                 trace_dir: Path | None = None, on_event: Callable[[Event], None] | None = None,
                 system_prompt: str | None = None):
        self.engine = engine
        self.sub_engine = sub_engine or engine
        self.user_tools = list(tools)
        self.budget = budget or Budget()
        self.limits = limits or Limits()
        self.trace_dir = trace_dir
        self.on_event = on_event
        self.system_template = system_prompt or (PROMPTS / "rlm_system.md").read_text(encoding="utf-8")

    def run(self, task: str, variables: dict[str, Any], example: str | None = None,
            first_cell: str | None = None, answer_var: str | None = None,
            keep: tuple[str, ...] = (), first_step: FirstStep | None = None,
            publish: Publish | None = None) -> Result:
        """`first_cell`, when given, is run before the model's first turn, as if it had written it:
        a small model that sees a worked first step decides far better than one that must plan it.
        `answer_var` names the REPL variable that holds the answer by convention: a run that ends
        without FINAL returns its value (when set; as kb's first cell left it, if that set it)
        before asking the model for a last word. `keep`
        names variables whose final values come back in `Result.variables` (structured results of
        a job, such as lint's findings, whatever the model's last word was); while it runs, each
        new text it holds is offered as a `Draft` event, so a front end can show it early.
        `first_step` (a typed choice) replaces `first_cell` with the code kb writes for it.
        `publish`, when given, turns the answer into what the run publishes (ask holds it to its
        evidence) before the end event records it, with an event saying what it changed."""
        b = self.budget
        trace = Trace(self.trace_dir, on_event=self.on_event)
        state = {"tokens": 0, "sub_calls": 0}
        t0 = time.monotonic()

        def over() -> str | None:
            if state["tokens"] >= b.tokens:
                return "tokens"
            if time.monotonic() - t0 >= b.seconds:
                return "seconds"
            return None

        def sub_call(prompt: str, json_schema: dict | None, fn: str, place: tuple[int, int, int] | None) -> Any:
            if state["sub_calls"] >= b.sub_calls:
                done = f" after {place[1] - 1} of the batch's {place[2]} prompts" if place else ""
                raise RuntimeError(f"sub-call budget of {b.sub_calls} is used up{done}")
            if over():
                raise RuntimeError(f"{over()} budget is used up")
            if not isinstance(prompt, str):
                prompt = str(prompt)
            state["sub_calls"] += 1
            reply = self.sub_engine.chat([{"role": "user", "content": prompt}], json_schema=json_schema,
                                         max_tokens=b.sub_reply_tokens, temperature=0.2)
            state["tokens"] += reply.usage.prompt_tokens + reply.usage.completion_tokens
            batch, item, of = place or (None, None, None)
            trace.emit(SubCall(fn=fn, input=prompt[:2000], output=reply.text[:2000],
                               prompt_tokens=reply.usage.prompt_tokens,
                               completion_tokens=reply.usage.completion_tokens, seconds=reply.timings.total_s,
                               batch=batch, item=item, of=of))
            return reply.json() if json_schema is not None else reply.text

        def llm_query(prompt: str, json_schema: dict | None = None) -> Any:
            return sub_call(prompt, json_schema, "llm_query", None)

        def llm_query_batched(prompts: list[str], json_schema: dict | None = None) -> list[Any]:
            """One question mapped over many texts; each sub-call is its own trace event, numbered
            within its batch, so a reader sees every text the helper model was given."""
            if not isinstance(prompts, (list, tuple)):
                raise TypeError("llm_query_batched takes a list of prompts")
            state["batches"] = state.get("batches", 0) + 1
            return [sub_call(p, json_schema, "llm_query_batched", (state["batches"], i, len(prompts)))
                    for i, p in enumerate(prompts, 1)]

        listed = [ToolInfo("llm_query", "llm_query(prompt) -> str", "ask a helper model; give it the text "
                           "to read inside the prompt (at most a few thousand characters)", llm_query),
                  ToolInfo("llm_query_batched", "llm_query_batched(prompts) -> list[str]",
                           "several llm_query calls", llm_query_batched), *self.user_tools]
        tools = {t.name: t.fn for t in listed}
        var_lines = "\n".join(f"- {name}: {describe(v)}" for name, v in variables.items())
        fn_lines = "\n".join(f"- {t.line}" for t in listed)
        system = self.system_template.format(variables=var_lines or "- (none)", functions=fn_lines,
                                             example=example or example_cell(task, variables))
        history = [{"role": "system", "content": system},
                   {"role": "user", "content": f"Task: {task}\n\nStart by looking at the variables."}]
        trace.emit(Start(task=task, variables={k: describe(v) for k, v in variables.items()},
                         budget=asdict(b), system_chars=len(system)))

        answer: str | None = None
        status, reason = "failed", ""
        partial: str | None = None
        failures = 0
        iteration = 0
        last_blocks: list[str] = []
        answer_from = "final"
        sandbox = Sandbox(tools, self.limits, deadline=t0 + b.seconds)  # enforced inside cells too
        last_draft: str | None = None
        seeded = None  # the answer variable as kb's first cell left it

        def offer_draft() -> str | None:
            """The answer variable's new text, as a Draft event a front end can show at once; its
            text (None when it holds none)."""
            nonlocal last_draft
            value = self._peek(sandbox, answer_var) if answer_var else None
            text = value if isinstance(value, str) and value.strip() else None
            if text is not None and text != last_draft:
                last_draft = text
                trace.emit(Draft(answer=text))
            return text

        try:
            for name, value in variables.items():
                sandbox.set(name, value)
            sandbox.start()
            if first_step is not None:
                first_cell = self._choose(first_step, var_lines, fn_lines, trace, state)
            if first_cell:
                trace.emit(Code(iteration=0, cell=1, code=first_cell, seeded=True))
                res = sandbox.run(first_cell, seconds=self.budget.seconds)  # kb's code: bounded by the budget
                trace.emit(Output(iteration=0, cell=1, output=res.output, error=res.error,
                                  killed=res.killed, seconds=round(res.seconds, 3), calls=len(res.calls)))
                # a 0.5B overwrote kb's "3 notes mention Claude: ..." with '3 notes match', then looped
                seeded = offer_draft()
                shown = (res.output + (res.error or "") + (f"\n[{res.killed}]" if res.killed else "")).strip()
                history.append({"role": "assistant", "content": f"```repl\n{first_cell}\n```"})
                history.append({"role": "user", "content": "REPL output:\n" + clip(shown or "(no output)",
                                b.output_chars) + "\n\nIf this answers the task, reply FINAL_VAR(answer). "
                                "Otherwise write code to look further."})
                last_blocks = [first_cell + "\n"]
            while True:
                if iteration >= b.iterations:
                    status, reason = "budget:iterations", f"{b.iterations} iterations used"
                    break
                if over():
                    status, reason = f"budget:{over()}", f"{over()} budget used up"
                    break
                iteration += 1
                reply = self._root_call(history, trace, iteration, state)
                history.append({"role": "assistant", "content": reply.text})
                blocks, final_text, final_var = parse_reply(reply.text)
                if final_var is not None:
                    value = sandbox.get(final_var)
                    if value is not None:
                        answer, status = value, "final"
                        break
                    history.append({"role": "user", "content": f"FINAL_VAR({final_var}): there is no "
                                    f"variable named {final_var}. Define it first, or use FINAL(answer)."})
                    failures += 1
                elif final_text is not None and not blocks:
                    answer, status = final_text, "final"
                    break
                if not blocks:
                    failures += 1
                    if failures >= b.max_failures:
                        status, reason = "failed", f"{failures} replies in a row had no code and no FINAL"
                        break
                    history.append({"role": "user", "content": "Write a ```repl code block to look at "
                                    "the data, or finish with FINAL(answer)."})
                    continue
                feedback, cell_failed, done = [], False, None
                if blocks == last_blocks:
                    failures += 1
                    history.append({"role": "user", "content": "You already ran exactly this code; "
                                    "its output will not change. Try something different (search the "
                                    "data for another word, or read another part), or finish with "
                                    "FINAL(answer)."})
                    if failures >= b.max_failures:
                        status, reason = "failed", "the model kept repeating the same code"
                        break
                    continue
                last_blocks = blocks
                for n, code in enumerate(blocks, 1):
                    trace.emit(Code(iteration=iteration, cell=n, code=code))
                    res = sandbox.run(code)
                    trace.emit(Output(iteration=iteration, cell=n, output=res.output, error=res.error,
                                      killed=res.killed, seconds=round(res.seconds, 3), calls=len(res.calls)))
                    offer_draft()
                    shown = (res.output + (res.error or "") + (f"\n[{res.killed}]" if res.killed else "")).strip()
                    if res.output.strip():
                        partial = res.output.strip()
                    feedback.append(clip(shown or "(no output)", b.output_chars))
                    cell_failed = cell_failed or not res.ok
                    if res.final:
                        done = res.final["value"]
                        break
                    if over() or state["sub_calls"] >= b.sub_calls:
                        break
                if done is not None:
                    answer, status = done, "final"
                    break
                if final_text is not None:  # FINAL written beside code: accept it after the code ran
                    answer, status = final_text, "final"
                    break
                failures = failures + 1 if cell_failed else 0
                if failures >= b.max_failures:
                    status, reason = "failed", f"{failures} replies in a row failed to run"
                    break
                if state["sub_calls"] >= b.sub_calls:
                    status, reason = "budget:sub_calls", f"{b.sub_calls} sub-calls used"
                    break
                history.append({"role": "user", "content": "REPL output:\n" + "\n---\n".join(feedback)})
            if status != "final" and answer_var:  # kb's own cell's answer, unless the model finished
                answer = seeded or (sandbox.get(answer_var) if sandbox._proc is not None else None)
                answer_from = "variable"
            if status != "final" and not answer:
                answer = self._last_word(history, trace, iteration, state)
                answer_from = "last_word"
                if not answer:
                    answer, answer_from = partial, "output"
        except SandboxRefused:  # no walls to run model code behind: the caller says so, in one line
            raise
        except Exception as e:  # an engine or sandbox failure ends the run with a status, not a crash
            status, reason = "failed", f"{type(e).__name__}: {e}"
            if not answer:
                answer, answer_from = partial, "output"
        finally:
            kept = self._keep(sandbox, keep)
            sandbox.close()
        if publish is not None:
            answer, verdict = publish(answer, answer_from)
            if verdict is not None:
                trace.emit(verdict)
        result = Result(answer=answer, status=status, reason=reason, iterations=iteration,
                        sub_calls=state["sub_calls"], tokens=state["tokens"],
                        seconds=time.monotonic() - t0, trace_id=trace.id, answer_from=answer_from,
                        trace_path=str(trace.path) if trace.path else None, variables=kept)
        trace.emit(End(status=status, reason=reason, answer=answer, iterations=iteration,
                       sub_calls=state["sub_calls"], tokens=state["tokens"], seconds=round(result.seconds, 3)))
        trace.close()
        return result

    @staticmethod
    def _peek(sandbox: Sandbox, name: str) -> Any:
        """A variable's JSON value, or None when the child is gone (a killed cell) or lacks it."""
        try:
            return sandbox.get(name, as_json=True) if sandbox._proc is not None else None
        except Exception:
            return None

    @staticmethod
    def _keep(sandbox: Sandbox, names: tuple[str, ...]) -> dict:
        out = {}
        for name in names:
            try:
                out[name] = sandbox.get(name, as_json=True) if sandbox._proc is not None else None
            except Exception:  # a dead child: what it held is gone
                out[name] = None
        return out

    def _choose(self, step: FirstStep, var_lines: str, fn_lines: str, trace: Trace, state: dict) -> str:
        """The typed first move: one constrained call, its choice in the trace, kb's code for it."""
        messages = [{"role": "system", "content": step.system},
                    {"role": "user", "content": step.prompt.format(variables=var_lines or "- (none)",
                                                                   functions=fn_lines)}]
        reply = self.engine.chat(messages, json_schema=step.schema, max_tokens=step.max_tokens, temperature=0.0)
        state["tokens"] += reply.usage.prompt_tokens + reply.usage.completion_tokens
        trace.emit(Llm(iteration=0, text=reply.text, prompt_tokens=reply.usage.prompt_tokens,
                       completion_tokens=reply.usage.completion_tokens,
                       cached_tokens=reply.usage.cached_tokens, seconds=round(reply.timings.total_s, 3),
                       history_chars=sum(len(m["content"]) for m in messages)))
        try:
            data = reply.json()
        except Exception:  # a reply that is not JSON (a backend without schema support): kb's default
            data = None
        action, arguments, code, error = step.decide(data)
        trace.emit(Choice(action=action, arguments=arguments, error=error))
        return code

    def _root_call(self, history, trace: Trace, iteration: int, state: dict) -> Reply:
        reply = self.engine.chat(history, max_tokens=self.budget.reply_tokens, temperature=0.2)
        state["tokens"] += reply.usage.prompt_tokens + reply.usage.completion_tokens
        trace.emit(Llm(iteration=iteration, text=reply.text, prompt_tokens=reply.usage.prompt_tokens,
                       completion_tokens=reply.usage.completion_tokens,
                       cached_tokens=reply.usage.cached_tokens, seconds=round(reply.timings.total_s, 3),
                       history_chars=sum(len(m["content"]) for m in history)))
        return reply

    def _last_word(self, history, trace: Trace, iteration: int, state: dict) -> str | None:
        """Out of budget: one last call, no code run, for the best answer so far."""
        if state["tokens"] >= self.budget.tokens * 1.2:
            return None
        ask = history + [{"role": "user", "content": "The budget is used up: no more code will run. "
                          "Reply with one line, FINAL(...) with your answer inside the brackets, or "
                          "FINAL(I could not find the answer)."}]
        try:
            reply = self._root_call(ask, trace, iteration + 1, state)
        except Exception:
            return None
        blocks, final_text, _ = parse_reply(reply.text)
        if final_text is None:  # here FINAL inside a code block counts too: nothing runs any more
            final_text = next((parse_reply(b)[1] for b in blocks if parse_reply(b)[1]), None)
        if final_text and final_text.strip().lower() in {"...", "answer", "your answer", "your best answer"}:
            return None
        return final_text
