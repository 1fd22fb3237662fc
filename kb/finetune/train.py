"""`kb finetune` (the `finetune` extra): teach a bundled model the wiki, on the CPU.

The GGUF's weights are read into a torch model by transformers (it dequantizes llama/qwen2 GGUF
files), LoRA adapters are trained on `kb finetune-data`'s train split with the loss on the
answer tokens only, and the merged model is written back to GGUF by llama.cpp's own converter
(taken from the llama-cpp-python source release that kb already builds), so the llama.cpp engine
loads it like any other model and `kb models` lists it. Training stops at a time budget as well
as at the epoch count: 2 CPU cores are the target.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from kb.core import events
from kb.core.errors import KbError

INSTALL = "kb finetune needs the finetune extra: pip install torch==2.13.0 && pip install -e '.[finetune]'"


@dataclass
class TrainSettings:
    epochs: float = 8.0
    minutes: float = 12.0  # training stops here even if the epochs are not done
    lr: float = 1e-3
    rank: int = 16
    alpha: int = 32
    batch: int = 8
    max_len: int = 160
    seed: int = 0


@dataclass
class TrainReport:
    base: str
    gguf: str
    adapter: str
    examples: int
    steps: int
    epochs_done: float
    first_loss: float
    last_loss: float
    val_loss_before: float | None
    val_loss_after: float | None
    tokens_per_s: float
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


def require_extra() -> None:
    try:
        import peft  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        raise KbError(INSTALL) from None


def load(gguf_path: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    import torch
    kw = {"gguf_file": gguf_path.name}
    tok = AutoTokenizer.from_pretrained(str(gguf_path.parent), **kw)
    model = AutoModelForCausalLM.from_pretrained(str(gguf_path.parent), dtype=torch.float32, **kw)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok, model


def encode(tok, row: dict, max_len: int) -> tuple[list[int], list[int]]:
    """Token ids of the whole chat, and labels that train only the assistant's answer."""
    msgs = row["messages"]
    prompt = tok.apply_chat_template(msgs[:-1], add_generation_prompt=True, tokenize=True)
    full = tok.apply_chat_template(msgs, tokenize=True)
    if hasattr(prompt, "input_ids"):
        prompt, full = prompt["input_ids"], full["input_ids"]
    prompt, full = list(prompt), list(full)
    labels = [-100] * len(prompt) + full[len(prompt):]
    return full[:max_len], labels[:max_len]


def batches(rows: list[tuple[list[int], list[int]]], size: int, pad: int, rng: random.Random):
    import torch
    order = list(range(len(rows)))
    rng.shuffle(order)
    for i in range(0, len(order), size):
        chunk = [rows[j] for j in order[i:i + size]]
        n = max(len(ids) for ids, _ in chunk)
        ids = torch.tensor([a + [pad] * (n - len(a)) for a, _ in chunk])
        labels = torch.tensor([b + [-100] * (n - len(b)) for _, b in chunk])
        mask = torch.tensor([[1] * len(a) + [0] * (n - len(a)) for a, _ in chunk])
        yield ids, labels, mask


def mean_loss(model, rows, pad: int) -> float | None:
    import torch
    if not rows:
        return None
    model.eval()
    total, n = 0.0, 0
    with torch.no_grad():
        for ids, labels, mask in batches(rows, 16, pad, random.Random(0)):
            total += float(model(input_ids=ids, attention_mask=mask, labels=labels).loss) * len(ids)
            n += len(ids)
    model.train()
    return total / n


def train(base_gguf: Path, data_dir: Path, out_dir: Path, models_dir: Path, name: str,
          settings: TrainSettings, on_progress: events.OnProgress | None = None) -> TrainReport:
    require_extra()
    import torch
    from peft import LoraConfig, get_peft_model
    on_progress = on_progress or events.ignore
    torch.manual_seed(settings.seed)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    t0 = time.monotonic()
    rows = {}
    for split in ("train", "validation"):
        path = data_dir / f"{split}.jsonl"
        if not path.exists():
            raise KbError(f"{path}: no finetuning data yet; run `kb finetune-data` first")
        rows[split] = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not rows["train"]:
        raise KbError("the train split is empty; compile more sources and run `kb finetune-data`")
    on_progress(events.Stage(f"loading {base_gguf.name}"))
    tok, model = load(base_gguf)
    pad = tok.pad_token_id
    train_rows = [encode(tok, r, settings.max_len) for r in rows["train"]]
    val_rows = [encode(tok, r, settings.max_len) for r in rows["validation"]]
    model = get_peft_model(model, LoraConfig(r=settings.rank, lora_alpha=settings.alpha, lora_dropout=0.05,
                                             target_modules=["q_proj", "k_proj", "v_proj", "o_proj",
                                                             "gate_proj", "up_proj", "down_proj"],
                                             task_type="CAUSAL_LM"))
    val_before = mean_loss(model, val_rows, pad)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=settings.lr)
    steps_per_epoch = (len(train_rows) + settings.batch - 1) // settings.batch
    total = max(1, int(steps_per_epoch * settings.epochs))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 10) * max(0.05, 1 - s / total))
    rng = random.Random(settings.seed)
    step, tokens, losses = 0, 0, []
    t_train = time.monotonic()
    deadline = t_train + settings.minutes * 60
    model.train()
    while step < total and time.monotonic() < deadline:
        for ids, labels, mask in batches(train_rows, settings.batch, pad, rng):
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            step += 1
            tokens += int(mask.sum())
            losses.append(float(loss.detach()))
            on_progress(events.Step(step, total, losses[-1], tokens / (time.monotonic() - t_train)))
            if step >= total or time.monotonic() >= deadline:
                break
    train_s = time.monotonic() - t_train
    val_after = mean_loss(model, val_rows, pad)
    out_dir.mkdir(parents=True, exist_ok=True)
    adapter = out_dir / "adapter"
    model.save_pretrained(str(adapter))
    on_progress(events.Stage("merging and exporting GGUF"))
    hf = out_dir / "hf"
    save_merged(model.merge_and_unload(), tok, hf)
    gguf_out = models_dir / f"{name}.gguf"
    export_gguf(hf, gguf_out)
    shutil.rmtree(hf, ignore_errors=True)  # the GGUF and the adapter are what is kept
    return TrainReport(base=str(base_gguf), gguf=str(gguf_out), adapter=str(adapter), examples=len(train_rows),
                       steps=step, epochs_done=round(step / steps_per_epoch, 2), first_loss=round(losses[0], 4),
                       last_loss=round(sum(losses[-5:]) / len(losses[-5:]), 4),
                       val_loss_before=val_before and round(val_before, 4),
                       val_loss_after=val_after and round(val_after, 4),
                       tokens_per_s=round(tokens / train_s, 1), seconds=round(time.monotonic() - t0, 1))


def save_merged(merged, tok, hf: Path) -> None:
    """A model read from GGUF is marked as quantized and refuses save_pretrained: copy its
    (dequantized, merged) weights into a plain model of the same config and save that."""
    from transformers import AutoModelForCausalLM
    config = merged.config
    for attr in ("quantization_config",):
        if hasattr(config, attr):
            delattr(config, attr)
    plain = AutoModelForCausalLM.from_config(config)
    missing, unexpected = plain.load_state_dict(merged.state_dict(), strict=False)
    if unexpected or [m for m in missing if "lm_head" not in m]:
        raise KbError(f"merged weights do not fit the model: {len(missing)} missing, {len(unexpected)} unexpected")
    plain.tie_weights()
    plain.save_pretrained(str(hf), safe_serialization=True)
    tok.save_pretrained(str(hf))


def converter_dir(cache: Path | None = None) -> Path:
    """llama.cpp's convert_hf_to_gguf.py and the gguf-py it pairs with, from the source release of
    the llama-cpp-python installed here (pip keeps it cached from the build)."""
    import llama_cpp
    version = llama_cpp.__version__
    cache = cache or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "kb" / f"llama-src-{version}"
    root = cache / f"llama_cpp_python-{version}" / "vendor" / "llama.cpp"
    if (root / "convert_hf_to_gguf.py").exists():
        return root
    cache.mkdir(parents=True, exist_ok=True)
    r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                        "--disable-pip-version-check", "-q", f"llama-cpp-python=={version}", "-d", str(cache)],
                       capture_output=True, text=True)
    tars = sorted(cache.glob("llama_cpp_python-*.tar.gz"))
    if r.returncode != 0 or not tars:
        raise KbError(f"could not fetch the llama.cpp converter (llama-cpp-python {version} source): "
                      + (r.stderr.strip().splitlines() or ["pip download failed"])[-1])
    prefix = f"llama_cpp_python-{version}/vendor/llama.cpp/"
    with tarfile.open(tars[-1]) as tf:
        members = [m for m in tf.getmembers() if m.name.startswith(prefix) and (
            m.name == prefix + "convert_hf_to_gguf.py" or m.name.startswith((prefix + "conversion/", prefix + "gguf-py/")))]
        tf.extractall(cache, members=members, filter="data")
    return root


def export_gguf(hf_dir: Path, out: Path) -> None:
    script = converter_dir() / "convert_hf_to_gguf.py"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".gguf.part")
    r = subprocess.run([sys.executable, str(script), str(hf_dir), "--outfile", str(tmp), "--outtype", "f16"],
                       capture_output=True, text=True)
    if r.returncode != 0 or not tmp.exists():
        tail = (r.stderr.strip().splitlines() or ["no output"])[-1]
        raise KbError(f"GGUF export failed: {tail}")
    os.replace(tmp, out)
