"""Prompt tokens per raw token of compile, counted without running a model.

A fake engine stands in for the model: for every chat call compile makes it renders the messages
with the GGUF's own chat template and tokenizes them exactly as llama-cpp-python's chat handler
does (the handler itself runs, against a stand-in that stops it before generation, so the JSON
schema is also turned into a grammar as in a real call), and answers with text valid for the call
(a summary or JSON for the schema, made of the document's own sentences at a realistic length).
Only the vocabulary is loaded (`vocab_only`): no weights, no inference.

Raw tokens are the same tokenizer's count of the extracted source texts (what compile reads).
The per-source analysis (summary, key points, concepts) and the concept articles are counted
apart: the target is on the analysis; articles read sources' sentences, not the raw text.

    .venv/bin/python bench/prompt_tokens.py [--tree DIR] [--corpus DIR] [--tokenizer GGUF] [--json]
    .venv/bin/python bench/compile.py --count-only [REV]    # REV's code and this one, side by side

`--tree` runs the kb code of another checkout; `compare` exports a commit (`git archive`, into a
temporary folder) and counts it and this checkout in one run, each in its own process, with this
same harness.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent.parent / "shared" / "corpus" / "ml-blog"
TOKENIZER = Path.home() / ".local/share/kb/models/qwen2.5-coder-0.5b-instruct-q4.gguf"
SUMMARY_TOKENS = 110  # a fake summary is the document's first sentences up to about this many


def use_tree(tree: Path) -> None:
    """Import kb, kb.agents and kb.tools from `tree` (a checkout laid out like this one)."""
    for name, sub in (("kb", "kb"), ("kb.agents", "agents"), ("kb.tools", "tools")):
        spec = importlib.util.spec_from_file_location(name, tree / sub / "__init__.py",
                                                      submodule_search_locations=[str(tree / sub)])
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        if "." in name:
            setattr(sys.modules["kb"], name.split(".")[1], mod)


class _Stop(Exception):
    pass


class _Prefill:
    """What llama-cpp-python's chat handler touches on its `llama` before generating."""

    verbose = False

    def __init__(self, llm):
        self._llm = llm
        self.tokens = 0

    def tokenize(self, text: bytes, add_bos: bool = True, special: bool = False) -> list[int]:
        out = self._llm.tokenize(text, add_bos=add_bos, special=special)
        self.tokens = len(out)
        return out

    def create_completion(self, **kw):
        raise _Stop


class CountingEngine:
    """An engine that counts the exact prompt tokens of each call and answers with plausible text."""

    name = "count"

    def __init__(self, gguf: Path):
        import llama_cpp
        from llama_cpp import llama_chat_format
        self.llm = llama_cpp.Llama(model_path=str(gguf), vocab_only=True, verbose=False)
        fmt = self.llm.chat_format
        self.handler = (self.llm._chat_handlers.get(fmt)
                        or llama_chat_format.get_chat_completion_handler(fmt))
        self.prompt = Counter()  # kind -> prompt tokens
        self.calls = Counter()
        self.completion = Counter()

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def prompt_tokens(self, messages, json_schema) -> int:
        stand_in = _Prefill(self.llm)
        fmt = {"type": "json_object", "schema": json_schema} if json_schema is not None else None
        try:
            self.handler(llama=stand_in, messages=messages, response_format=fmt, max_tokens=16)
        except _Stop:
            pass
        return stand_in.tokens

    def chat(self, messages, *, json_schema=None, max_tokens=None, temperature=None, stop=None, on_token=None):
        from kb.agents.engine import Reply, Usage
        n = self.prompt_tokens(messages, json_schema)
        kind = "article" if json_schema and "sentences" in json_schema.get("properties", {}) else "analysis"
        user = messages[-1]["content"]
        doc = re.search(r"<document>\n(.*?)\n</document>", user, re.S)
        said = re.findall(r"^- (.+)$", user, re.M)
        sentences = _sentences(doc.group(1)) if doc else said or _sentences(user)
        if json_schema is None:
            out = self._summary(sentences)
        else:
            out = json.dumps(self._fill(json_schema, sentences, user), ensure_ascii=False)
        self.calls[kind] += 1
        self.prompt[kind] += n
        self.completion[kind] += self.count_tokens(out)
        return Reply(text=out, usage=Usage(n, self.count_tokens(out)))

    def _summary(self, sentences: list[str]) -> str:
        out: list[str] = []
        for s in sentences:
            if out and self.count_tokens(" ".join(out + [s])) > SUMMARY_TOKENS:
                break
            out.append(s)
        return " ".join(out) or "This document has no text."

    def _fill(self, schema: dict, sentences: list[str], user: str, i: int = 0):
        """A value valid for `schema` (the subset compile uses), strings from the document."""
        if "enum" in schema:
            return schema["enum"][i % len(schema["enum"])]
        kind = schema.get("type")
        if kind == "object":
            props = schema.get("properties", {})
            return {k: (self._summary(sentences) if k == "summary" else self._fill(v, sentences, user, i))
                    for k, v in props.items()}
        if kind == "array":
            item = schema.get("items", {})
            named = "enum" in item.get("properties", {}).get("name", {})
            n = 5 if named else 3
            n = max(schema.get("minItems", 0), min(n, schema.get("maxItems", n)))
            if named:
                n = min(n, len(item["properties"]["name"]["enum"]))
            return [self._fill(item, sentences, user, j) for j in range(n)]
        if kind == "integer":
            return 1
        return sentences[i % len(sentences)] if sentences else "The document says little."


def _sentences(text: str) -> list[str]:
    flat = " ".join(l for l in text.split("\n") if l.strip() and not l.lstrip().startswith(("#", "|", "```")))
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+(?=[A-Z0-9])", flat) if len(s.strip()) > 20]


def count(corpus: Path, tokenizer: Path) -> dict:
    from kb.compile.job import Compile
    from kb.core.extract import extract, limit
    from kb.core.vault import Vault
    engine = CountingEngine(tokenizer)
    with tempfile.TemporaryDirectory() as tmp:
        vault, _ = Vault.init(Path(tmp) / "v", "")
        posts = sorted(corpus.glob("*.md"))
        for p in posts:
            shutil.copy(p, vault.root / "raw" / p.name)
        report = Compile(vault, lambda: engine).run()
        extracted = sum(engine.count_tokens(extract(p, p.name, max_bytes=limit(50)).text) for p in posts)
    files = sum(engine.count_tokens(p.read_text(encoding="utf-8")) for p in posts)
    return {"sources": len(report.compiled), "failed": len(report.failed), "raw_tokens": extracted,
            "raw_file_tokens": files, "calls": dict(engine.calls), "prompt": dict(engine.prompt),
            "completion": dict(engine.completion), "report_prompt_tokens": report.prompt_tokens}


def describe(label: str, r: dict) -> str:
    a, art = r["prompt"].get("analysis", 0), r["prompt"].get("article", 0)
    raw = r["raw_tokens"]
    return "\n".join([
        f"{label}",
        f"  sources                  {r['sources']} compiled, {r['failed']} failed; {raw:,} raw tokens "
        f"(extracted text; {r['raw_file_tokens']:,} in the files)",
        f"  analysis                 {r['calls'].get('analysis', 0)} calls, {a:,} prompt tokens, "
        f"{a / raw:.2f} per raw token ({r['completion'].get('analysis', 0):,} completion, fake)",
        f"  articles                 {r['calls'].get('article', 0)} calls, {art:,} prompt tokens, "
        f"{art / raw:.2f} per raw token",
        f"  all calls                {(a + art) / raw:.2f} prompt tokens per raw token",
    ])


def compare(before: str, corpus: Path = CORPUS, tokenizer: Path = TOKENIZER) -> int:
    """Count commit `before` and this checkout in one run and print both."""
    root = HERE.parent
    blob = subprocess.run(["git", "archive", before], cwd=root, capture_output=True, check=True).stdout
    with tempfile.TemporaryDirectory(prefix="kb-before-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
            tar.extractall(tmp, filter="data")
        rows = {}
        for label, tree in ((f"before ({before})", Path(tmp)), ("now (working tree)", root)):
            r = subprocess.run([sys.executable, str(HERE / "prompt_tokens.py"), "--tree", str(tree), "--json",
                                "--corpus", str(corpus), "--tokenizer", str(tokenizer)],
                               capture_output=True, text=True, check=True)
            rows[label] = json.loads(r.stdout.strip().splitlines()[-1])
    print(f"prompt tokens per raw token on {corpus.name}, tokenizer {tokenizer.name} (no model run)")
    for label, r in rows.items():
        print(describe(label, r))
    (old, a), (new, b) = [(label, r["prompt"].get("analysis", 0) / r["raw_tokens"]) for label, r in rows.items()]
    print(f"analysis per raw token      {a:.3f} -> {b:.3f} ({(b - a) / a:+.0%})")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tree", type=Path, default=HERE.parent, help="the kb checkout to count")
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--tokenizer", type=Path, default=TOKENIZER)
    ap.add_argument("--json", action="store_true", help="print the counts as one JSON line")
    args = ap.parse_args()
    use_tree(args.tree.resolve())
    r = count(args.corpus, args.tokenizer)
    print(json.dumps(r) if args.json else describe(str(args.tree), r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
