"""The `kb` command line: parse arguments, call the API (kb/api.py), print results.

No domain logic and no config here: `kb.api.Kb` reads config and builds the jobs. Every KbError
becomes one line on stderr (`kb: error: ...`) and its exit code; a traceback is a bug and is shown
only with KB_DEBUG=1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from kb import __version__
from kb.core import config as kbconfig
from kb.core import events, models
from kb.core.errors import KbError, UsageError


class Parser(argparse.ArgumentParser):
    """argparse, but usage errors go through the same one-line renderer and exit code 2."""

    def error(self, message: str):
        raise UsageError(f"{message} (see `{self.prog} --help`)")


@dataclass
class Context:
    """The parsed arguments and the environment; the API's `Kb` is opened on first use, so
    commands that need no vault (init, models) work outside one."""

    args: argparse.Namespace
    env: dict = field(default_factory=lambda: dict(os.environ))
    _kb: object = None

    @property
    def kb(self):
        from kb.api import Kb
        if self._kb is None:
            self._kb = Kb.open(self.args.vault, env=self.env, model=self.args.model, engine=self.args.engine)
        return self._kb

    @property
    def models_dir(self) -> Path:
        return models.models_dir(self.env)


def out(line: str = "") -> None:
    print(line, flush=True)


def err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# -- commands ----------------------------------------------------------------------------------

def cmd_init(ctx: Context) -> int:
    from kb.api import init
    vault, created = init(ctx.args.path or ".", ctx.env, history=not ctx.args.no_history)
    if created:
        out(f"initialised vault at {vault.root} ({len(created)} items created)")
    else:
        out(f"vault at {vault.root} is already initialised; nothing changed")
    return 0


def cmd_status(ctx: Context) -> int:
    st = ctx.kb.status()
    m = ctx.kb.model_info()
    from kb.status import sandbox_walls
    walls = sandbox_walls(ctx.kb.config["sandbox"]["allow_weak"])
    try:
        last = ctx.kb.history(1)
        history = f"on; last: {last[0].short} {last[0].subject}" if last else "on; no kb commits yet"
    except KbError as e:  # off, no git, or no repository yet: the reason is the state
        history = str(e)
    if ctx.args.json:
        out(json.dumps(dict(st.as_dict(), model=m.name, engine=m.engine, model_state=m.where, sandbox=walls,
                            history=history)))
        return 0
    out(f"vault     {st.vault}")
    out(f"sources   {st.sources} in raw/")
    out(f"pages     {st.pages} in wiki/ ({st.source_pages} sources, {st.concept_pages} concepts, "
        f"{st.answer_pages} answers)")
    out(f"links     {st.links} ({st.broken_links} broken)")
    out(f"model     {m.name} via {m.engine} ({m.where})")
    out(f"sandbox   {walls}")
    out(f"history   {history}")
    return 0


def cmd_models(ctx: Context) -> int:
    mdir = ctx.models_dir
    if ctx.args.action == "fetch":
        names = ctx.args.names or [models.DEFAULT_MODEL]
        for name in names:
            path = models.fetch(name, mdir, force=ctx.args.force, progress=lambda s: err(f"  {s}"))
            out(f"{name}: {path}")
        return 0
    extra = []
    try:
        name = ctx.kb.model_name
        if name not in models.BUNDLED:
            extra.append(name)
    except KbError:
        pass  # outside a vault `kb models` still lists the bundled models
    if ctx.args.model and ctx.args.model not in models.BUNDLED and ctx.args.model not in extra:
        extra.append(ctx.args.model)
    rows = models.available(mdir, extra)
    if ctx.args.json:
        out(json.dumps([{"name": m.name, "path": str(m.path), "present": m.present, "size": m.size,
                         "bundled": m.bundled, "about": m.about} for m in rows]))
        return 0
    for m in rows:
        mark = "*" if m.name == models.DEFAULT_MODEL else " "
        state = "ready  " if m.present else "missing"
        out(f"{mark} {m.name:<22} {state} {m.size / 1e6:7.0f} MB  {m.about}")
        out(f"  {'':<22} {m.path}")
    out(f"(* default; fetch a bundled model with `kb models fetch NAME`; models dir: {mdir})")
    return 0


def cmd_chat(ctx: Context) -> int:
    """One prompt to the configured model: the quickest check that a model works."""
    prompt = ctx.args.prompt if ctx.args.prompt != "-" else sys.stdin.read()
    if not prompt.strip():
        raise UsageError("empty prompt")
    schema = None
    if ctx.args.schema:
        try:
            schema = json.loads(Path(ctx.args.schema).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise UsageError(f"--schema {ctx.args.schema}: {e}") from None
    reply = ctx.kb.chat(prompt, json_schema=schema, max_tokens=ctx.args.max_tokens,
                        on_token=None if ctx.args.json else lambda t: print(t, end="", flush=True))
    if ctx.args.json:
        out(json.dumps({"text": reply.text, "prompt_tokens": reply.usage.prompt_tokens,
                        "completion_tokens": reply.usage.completion_tokens,
                        "seconds": round(reply.timings.total_s, 3)}))
    else:
        out()
        print(f"[{reply.usage.prompt_tokens} prompt + {reply.usage.completion_tokens} tokens, "
              f"{reply.timings.total_s:.1f}s]", file=sys.stderr)
    return 0


def cmd_ingest(ctx: Context) -> int:
    rows = ctx.kb.ingest([Path(p) for p in ctx.args.paths])
    named = {str(Path(p)) for p in ctx.args.paths}  # a file asked for by name, not one found in a folder
    refused = [r for r in rows if r.note.startswith("failed: ")
               or (r.note.startswith("unsupported") and str(Path(r.source)) in named)]
    for r in rows:
        if r in refused:  # one line on stderr; the rest of the batch went in
            print(f"kb: {r.note} (from {r.source})", file=sys.stderr, flush=True)
            continue
        out(f"{r.note:<10} {r.source}" + (f" -> {r.dest}" if r.dest and r.note == "added" else ""))
    added = sum(r.note == "added" for r in rows)
    out(f"{added} added, {len(rows) - added} skipped; run `kb compile` to build their pages")
    return 1 if refused else 0  # a file asked for and not taken in is a failure a script must see


def cmd_compile(ctx: Context) -> int:
    from kb.progress import CompileProgress
    progress = CompileProgress(enabled=not ctx.args.json)
    job = ctx.kb.compile(on_progress=progress.event, jobs=ctx.args.jobs)
    with progress:
        report = job.run(dry_run=ctx.args.dry_run)
    if ctx.args.json:
        out(json.dumps(report.as_dict()))
    else:
        progress.summary(report, dry_run=ctx.args.dry_run)
    return 1 if report.failed and not report.compiled and not ctx.args.dry_run and not report.unchanged else 0


def cmd_lint(ctx: Context) -> int:
    from kb.lint.report import summary_lines
    quiet = ctx.args.json

    def stage(e: events.Event) -> None:
        if not quiet and isinstance(e, events.Stage):
            err(f"lint: {e.name}")

    report = ctx.kb.lint(model_checks=not ctx.args.structural, on_progress=stage).run(
        fix=ctx.args.fix, write_report=not ctx.args.no_report)
    if ctx.args.json:
        out(json.dumps(report.as_dict()))
    else:
        for line in summary_lines(report):
            out(line)
    return 1 if report.errors else 0


def cmd_watch(ctx: Context) -> int:
    import time as _time
    from kb.watch import serve

    def log(line: str) -> None:
        out(f"{_time.strftime('%H:%M:%S')} {line}")

    stats = serve(ctx.kb.watcher(debounce=ctx.args.debounce, on_log=log), once=ctx.args.once)
    # --once is a batch run: a source left queued by an error is a failure a script must see
    return 1 if ctx.args.once and stats.errors else 0


def cmd_tui(ctx: Context) -> int:
    from kb.tui.app import run
    run(ctx.kb)
    return 0


def cmd_finetune_data(ctx: Context) -> int:
    quiet = ctx.args.json

    def event(e: events.Event) -> None:
        if not quiet and isinstance(e, events.PageDone) and (e.index % 10 == 0 or e.index == e.total):
            err(f"[{e.index}/{e.total}] pages")

    report = ctx.kb.finetune_data(per_page=ctx.args.per_page, on_progress=event).run()
    if ctx.args.json:
        out(json.dumps(report.as_dict()))
        return 0
    out(f"{report.pages} pages ({report.generated} new or changed, {report.cached} cached), "
        f"{report.model_calls} model calls in {report.seconds:.1f} s")
    out(f"kept {report.kept} pairs: train {report.train} ({report.train_pages} pages), "
        f"validation {report.validation} ({report.validation_pages} pages)")
    if report.dropped:
        out("dropped: " + ", ".join(f"{k} {v}" for k, v in sorted(report.dropped.items())))
    for name, path in report.files.items():
        out(f"{name}: {path}")
    out("card: wiki/reports/finetune-data.md")
    return 0


def _closed_book(ctx: Context) -> int:
    """Before and after finetuning, side by side, on the validation split."""
    from kb.finetune.closed_book import model_label
    cmp = ctx.kb.closed_book(before=ctx.args.before, after=ctx.args.after, limit=ctx.args.limit,
                             on_run=lambda label, name, n: err(f"{label}: {name} ({n} questions)"))
    if ctx.args.json:
        out(json.dumps(cmp.as_dict()))
        return 0
    out(f"closed-book, validation split: {cmp.questions} questions from {cmp.pages} pages")
    for run in cmp.runs:
        n = len(run.results)
        out(f"  {run.label:<7} {model_label(run.model):<40} {run.correct:>3}/{n}  {run.correct / max(1, n):.1%}")
    if not cmp.finetuned:
        out("  (no finetuned model yet: run `kb finetune`)")
    return 0


def cmd_finetune(ctx: Context) -> int:
    from kb.finetune.train import TrainSettings
    from kb.progress import TrainProgress
    settings = TrainSettings(epochs=ctx.args.epochs, minutes=ctx.args.minutes, lr=ctx.args.lr, rank=ctx.args.rank)
    with TrainProgress(enabled=not ctx.args.json) as progress:
        done = ctx.kb.finetune(settings, on_progress=progress.event).run(ctx.args.base, ctx.args.name)
    if ctx.args.json:
        out(json.dumps(done.as_dict()))
        return 0
    report = done.report
    out(f"trained {report.steps} steps ({report.epochs_done} epochs) on {report.examples} examples in "
        f"{report.seconds:.0f} s, {report.tokens_per_s} tokens/s; loss {report.first_loss} -> {report.last_loss}; "
        f"validation loss {report.val_loss_before} -> {report.val_loss_after}")
    out(f"adapter: {report.adapter}")
    out(f"model:   {report.gguf} (use it with --model {done.name}; compare with `kb eval --closed-book`)")
    return 0


def _ask_job(ctx: Context):
    """An Ask whose corpus is checked (an empty vault is an error) before the model loads."""
    job = ctx.kb.ask()
    job.corpus()
    return job


def cmd_ask(ctx: Context) -> int:
    from kb.ask.job import FORMATS, check_question
    question = sys.stdin.read() if ctx.args.question == ["-"] else " ".join(ctx.args.question)
    question = check_question(question)
    if ctx.args.format not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}")
    job = _ask_job(ctx)
    ans = job.answer(question, ctx.args.mode)
    if ctx.args.save:
        path, png = job.file_back(question, ans, ctx.args.format)
        saved = {"path": path, "png": str(png) if png else None}
    else:
        page, png = job.preview(question, ans, ctx.args.format)
        saved = {"path": None, "png": str(png) if png else None}
        if ctx.args.out:
            Path(ctx.args.out).write_text(page.text(), encoding="utf-8")
    if ctx.args.json:
        out(json.dumps({"question": question, "answer": ans.text, "mode": ans.mode, "status": ans.status,
                        "cited": [p for p, _ in ans.cited], "tokens": ans.prompt_tokens + ans.completion_tokens,
                        "seconds": round(ans.seconds, 2), "trace": ans.trace_id, **saved}))
        return 0
    if ctx.args.format == "md" or ctx.args.save:
        out(ans.text)
        if ans.cited:
            from kb.core.pages import link
            out("\nSources: " + ", ".join(link(p, t) for p, t in ans.cited))
    else:
        out(page.text())
    if saved["path"]:
        out(f"\nsaved to {saved['path']}" + (f" (chart {saved['png']})" if saved["png"] else ""))
    elif saved["png"]:
        out(f"\nchart: {saved['png']}")
    print(f"[{ans.mode}, {ans.status}, {ans.prompt_tokens + ans.completion_tokens} tokens, "
          f"{ans.seconds:.1f}s, trace {ans.trace_id}]", file=sys.stderr)
    return 0


def cmd_eval(ctx: Context) -> int:
    from kb.ask import eval as kbeval
    from kb.ask.job import MODES
    if ctx.args.closed_book:
        return _closed_book(ctx)
    if not ctx.args.qa:
        raise UsageError("give a question set (QA.jsonl), or --closed-book")
    cases = kbeval.load_cases(Path(ctx.args.qa))
    modes = [m.strip() for m in ctx.args.mode.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise UsageError(f"unknown mode {', '.join(bad) or '(none)'}; use {','.join(MODES)}")
    if ctx.args.limit:
        cases = cases[:ctx.args.limit]
    job = _ask_job(ctx)

    def show(r):
        if not ctx.args.json:
            mark = "ok  " if r.correct else ("ERR " if r.error else "miss")
            err(f"{mark} {r.mode:<5} {r.id:<5} {r.seconds:6.1f}s {r.tokens:6d} tok  "
                f"{(r.error or r.answer).replace(chr(10), ' ')[:90]}")

    results = kbeval.run(job, cases, modes, on_result=show)
    out(kbeval.as_json(results) if ctx.args.json else kbeval.table(results))
    return 0


def cmd_search(ctx: Context) -> int:
    query = " ".join(ctx.args.query)
    if not query.strip():
        raise UsageError("empty search query")
    kinds = tuple(k.strip() for k in ctx.args.kind.split(",")) if ctx.args.kind else None
    hits = ctx.kb.search(query, ctx.args.k, kinds=kinds)
    if ctx.args.json:
        out(json.dumps([h.as_dict() for h in hits], ensure_ascii=False))
        return 0
    if not hits:
        out(f"no results for {query!r}")
        return 0
    for n, h in enumerate(hits, 1):
        out(f"{n:>2}. {h.title}  [{h.kind}]  {h.path}  ({h.score:.2f})")
        out(f"    {h.snippet}")
    return 0


def cmd_reindex(ctx: Context) -> int:
    stats = ctx.kb.reindex()
    out(f"search index rebuilt: {stats['documents']} documents")
    return 0


def cmd_trace(ctx: Context) -> int:
    from kb.agents import trace
    if ctx.args.action == "list":
        runs = ctx.kb.traces()
        if ctx.args.json:
            out(json.dumps([{"id": run.id, "status": run.status, "task": run.task} for run in runs],
                           ensure_ascii=False))
            return 0
        for run in runs:
            out(f"{run.id}  {run.status:<18} {run.task[:60]}")
        if not runs:
            out("no traces yet")
        return 0
    if not ctx.args.id:
        raise UsageError("kb trace show needs a trace ID (or 'last'); see `kb trace list`")
    events = ctx.kb.trace(ctx.args.id)
    if ctx.args.json:
        for e in events:
            out(json.dumps(e.as_dict(), ensure_ascii=False))
    else:
        out(trace.render(events))
    return 0


def cmd_history(ctx: Context) -> int:
    commits = ctx.kb.history(ctx.args.n)
    if ctx.args.json:
        out(json.dumps([c.as_dict() for c in commits], ensure_ascii=False))
        return 0
    for c in commits:
        out(f"{c.short}  {c.when[:16].replace('T', ' ')}  {c.subject}")
    if not commits:
        out("no kb commits yet")
    return 0


def cmd_undo(ctx: Context) -> int:
    done, new = ctx.kb.undo(ctx.args.id)
    if ctx.args.json:
        out(json.dumps({"undone": done.as_dict(), "commit": new.as_dict()}, ensure_ascii=False))
    else:
        out(f"undid {done.short} ({done.subject}) in {new.short}")
    return 0


def cmd_show(ctx: Context) -> int:
    path, text = ctx.kb.read_page(" ".join(ctx.args.page))
    if ctx.args.json:
        out(json.dumps({"path": path, "text": text}, ensure_ascii=False))
    else:
        out(text.rstrip("\n"))
    return 0


def cmd_mcp(ctx: Context) -> int:
    from kb.mcp import serve
    serve(ctx.kb)
    return 0


def cmd_completion(ctx: Context) -> int:
    from kb.completion import script
    out(script(build_parser(), ctx.args.shell).rstrip("\n"))
    return 0


def say_commits(ctx: Context) -> None:
    """What kb committed during the command, on stderr; a person's own edits that went in are named."""
    if ctx._kb is None or "_recorder" not in ctx._kb.__dict__:
        return
    for c in ctx.kb.take_commits():
        err(f"history: {c.short} {c.subject}")
        if c.person_edits:
            err(f"history: that commit also holds your uncommitted edits to {', '.join(c.person_edits)} "
                "(kb changed those files too)")


# -- parser ------------------------------------------------------------------------------------

def positive(text: str) -> int:
    """An int of at least 1 (`-k 0` asked for nothing and crashed the search)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n} is less than 1")
    return n


def global_options(p: argparse.ArgumentParser, default=None) -> None:
    """--vault, --model, --engine: on `kb` itself, and on every subcommand with SUPPRESS as the
    default, so that they are accepted before or after it and one given before is not undone."""
    p.add_argument("--vault", metavar="PATH", default=default, help="the vault (default: found from "
                   "the current directory upwards, or $KB_VAULT)")
    p.add_argument("--model", metavar="NAME|PATH", default=default,
                   help="bundled model name or .gguf path ($KB_MODEL)")
    p.add_argument("--engine", choices=kbconfig.ENGINES[:2], default=default, help="model backend ($KB_ENGINE)")


def build_parser() -> Parser:
    p = Parser(prog="kb", description="A local LLM that maintains your knowledge base.")
    p.add_argument("--version", action="version", version=f"kb {__version__}")
    global_options(p)
    common = argparse.ArgumentParser(add_help=False)
    global_options(common, default=argparse.SUPPRESS)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    add = sub.add_parser
    sub.add_parser = lambda name, **kw: add(name, parents=[common], **kw)  # every subcommand: the global options

    s = sub.add_parser("init", help="create a vault (idempotent)")
    s.add_argument("path", nargs="?", help="where (default: the current directory)")
    s.add_argument("--no-history", action="store_true",
                   help="no git repository: kb's writes are not committed ([history] enabled = false)")
    s.set_defaults(func=cmd_init)

    s = sub.add_parser("status", help="counts of sources, pages and broken links; the model in use")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_status)

    s = sub.add_parser("models", help="list models, or fetch a bundled one")
    s.add_argument("action", nargs="?", choices=["list", "fetch"], default="list")
    s.add_argument("names", nargs="*", help="bundled model names to fetch")
    s.add_argument("--force", action="store_true", help="fetch again even if present")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_models)

    s = sub.add_parser("chat", help="send one prompt to the model ('-' reads stdin)")
    s.add_argument("prompt")
    s.add_argument("--schema", metavar="FILE", help="JSON schema the reply must follow")
    s.add_argument("--max-tokens", type=int, default=256)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_chat)

    s = sub.add_parser("ingest", help="copy sources into raw/ (originals untouched; duplicates skipped)")
    s.add_argument("paths", nargs="+", metavar="PATH")
    s.set_defaults(func=cmd_ingest)

    s = sub.add_parser("compile", help="compile new and changed sources into the wiki")
    s.add_argument("--dry-run", action="store_true", help="say what would be compiled; no model calls")
    s.add_argument("--json", action="store_true", help="the report as JSON")
    s.add_argument("--jobs", type=int, metavar="N",
                   help="model requests in flight at once with an OpenAI-compatible server "
                        "(default: [compile] jobs, 1); the in-process engine takes one")
    s.set_defaults(func=cmd_compile)

    s = sub.add_parser("lint", help="health-check the wiki; write a report to wiki/reports/")
    s.add_argument("--structural", action="store_true", help="only the checks that need no model")
    s.add_argument("--fix", action="store_true",
                   help="repair what needs no judgement (index, dangling and alias links, stub pages)")
    s.add_argument("--no-report", action="store_true", help="do not write the report page")
    s.add_argument("--json", action="store_true", help="the findings as JSON")
    s.set_defaults(func=cmd_lint)

    s = sub.add_parser("watch", help="compile sources as they land in raw/ (Ctrl-C stops; the queue is kept)")
    s.add_argument("--debounce", type=float, default=1.0, help="seconds a file must be quiet (default 1)")
    s.add_argument("--once", action="store_true", help="compile what is queued, then exit")
    s.set_defaults(func=cmd_watch)

    s = sub.add_parser("tui", help="the terminal interface: pages, search, ask, jobs (? for keys)")
    s.set_defaults(func=cmd_tui)

    s = sub.add_parser("finetune-data", help="question/answer pairs from every page, for finetuning (JSONL)")
    s.add_argument("--per-page", type=int, default=4, help="sentences asked about per page (default 4)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_finetune_data)

    s = sub.add_parser("finetune", help="LoRA-finetune a bundled model on finetune-data (needs the finetune extra)")
    s.add_argument("--base", default="smollm2-135m", help="the bundled model to start from (default smollm2-135m)")
    s.add_argument("--name", help="name of the new model (default: BASE-VAULT-ft)")
    s.add_argument("--epochs", type=float, default=8.0)
    s.add_argument("--minutes", type=float, default=12.0, help="stop training after this long (default 12)")
    s.add_argument("--lr", type=float, default=1e-3)
    s.add_argument("--rank", type=int, default=16, help="LoRA rank")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_finetune)

    s = sub.add_parser("ask", help="answer a question from the knowledge base ('-' reads stdin)")
    s.add_argument("question", nargs="+")
    s.add_argument("--mode", choices=["rlm", "rag", "stuff"], default="rlm",
                   help="rlm: the REPL agent (default); rag, stuff: one-prompt baselines")
    s.add_argument("--format", default="md", help="md, marp (slides) or chart (matplotlib PNG)")
    s.add_argument("--save", action="store_true", help="file the answer into wiki/answers/")
    s.add_argument("--out", metavar="FILE", help="also write the rendered page to FILE")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_ask)

    s = sub.add_parser("eval", help="score answers to a question set (jsonl) per mode and type")
    s.add_argument("qa", metavar="QA.jsonl", nargs="?")
    s.add_argument("--closed-book", action="store_true",
                   help="the finetuning validation questions, no wiki: base model vs finetuned")
    s.add_argument("--before", metavar="MODEL", help="with --closed-book: the model before (default: the base)")
    s.add_argument("--after", metavar="MODEL", help="with --closed-book: the model after (default: the last finetune)")
    s.add_argument("--mode", default="rlm", help="comma-separated: rlm,rag,stuff")
    s.add_argument("--limit", type=int, help="only the first N questions")
    s.add_argument("--json", action="store_true", help="the raw per-question results")
    s.set_defaults(func=cmd_eval)

    s = sub.add_parser("search", help="full-text search over the wiki and raw sources")
    s.add_argument("query", nargs="+")
    s.add_argument("-k", type=positive, default=10, help="how many results (default 10)")
    s.add_argument("--kind", help="only these kinds: source,concept,answer,report,raw,page")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_search)

    s = sub.add_parser("reindex", help="rebuild the search index from the files")
    s.set_defaults(func=cmd_reindex)

    s = sub.add_parser("trace", help="show an agent run step by step")
    s.add_argument("action", choices=["show", "list"])
    s.add_argument("id", nargs="?", help="trace ID, a prefix of one, or 'last'")
    s.add_argument("--json", action="store_true", help="the raw JSON-lines events")
    s.set_defaults(func=cmd_trace)

    s = sub.add_parser("show", help="print a page, by path or title (resolved as Obsidian resolves links)")
    s.add_argument("page", nargs="+")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_show)

    s = sub.add_parser("history", help="kb's commits to the vault, newest first")
    s.add_argument("-n", type=int, default=20, help="how many (default 20)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_history)

    s = sub.add_parser("undo", help="revert kb's last change (or commit ID) as a new commit")
    s.add_argument("id", nargs="?", help="a commit from `kb history` (default: the last not undone)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_undo)

    s = sub.add_parser("mcp", help="serve the vault to an agent over MCP (stdio); read-only unless "
                       "[mcp] allow_writes")
    s.set_defaults(func=cmd_mcp)

    s = sub.add_parser("completion", help="print a shell completion script: eval \"$(kb completion bash)\"")
    s.add_argument("shell", choices=["bash", "zsh", "fish"])
    s.set_defaults(func=cmd_completion)
    return p


def _warning_line(message, category, *_args, **_kw) -> None:
    """A warning (derived state found broken and rebuilt) is one line, like an error."""
    print(f"kb: warning: {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    import warnings
    warnings.showwarning = _warning_line
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        ctx = Context(args)
        try:
            return args.func(ctx)
        finally:
            say_commits(ctx)
    except KbError as e:
        print(f"kb: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("kb: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # a bug: say so in one line, keep the traceback for KB_DEBUG
        if os.environ.get("KB_DEBUG"):
            raise
        print(f"kb: internal error: {type(e).__name__}: {e} (run with KB_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
