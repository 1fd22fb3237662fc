"""The vault on disk: its layout, finding it, pages, atomic writes, and the link graph.

Markdown files are the source of truth; everything kb knows about a page it can re-derive from
the file. kb stamps each page it writes with `kb_hash` (a hash of the page's content), so a page
whose content no longer matches its stamp was edited by a person and is never overwritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from kb.core import markdown, obsidian
from kb.core.errors import PageEditedError, PageError, VaultError
from kb.core.kinds import ASSETS, KINDS, PAGE_TYPES, RAW, TEMP_SUFFIX  # noqa: F401 (PAGE_TYPES: the vault's page kinds)
from kb.core.links import Graph, LinkIndex, build_graph, nfc

STATE_DIR = ".kb"
LAYOUT = (RAW.rstrip("/"), ASSETS.rstrip("/"), *(prefix.rstrip("/") for prefix, _ in KINDS.values()),
          ".kb", ".kb/traces", ".obsidian")
HASH_KEY = "kb_hash"

INDEX_MD = "---\ntitle: Index\n---\n# Index\n\nNothing compiled yet: add sources to `raw/` and run `kb compile`.\n"
LOG_MD = "# Log\n\nAppend-only record of what kb did to this vault.\n"
OBSIDIAN = obsidian.SETTINGS  # .obsidian/ files, each written once: afterwards they are the person's


def _temp_beside(path: Path) -> tuple[int, str]:
    """A new temp file next to `path` with the mode the file itself should have: an existing
    file's mode, else what the umask allows (mkstemp's 0600 would make every page private)."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        mode = None
    stem = path.name if len(path.name.encode("utf-8")) <= 200 else \
        hashlib.sha256(path.name.encode("utf-8")).hexdigest()[:16]  # a 250-byte name's temp must fit too
    for _ in range(100):
        tmp = str(path.parent / f".{stem}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the kernel applies the umask
        except FileExistsError:
            continue
        if mode is not None:
            os.fchmod(fd, mode)
        return fd, tmp
    raise FileExistsError(f"no free temp name beside {path}")


def atomic_write(path: Path, text: str) -> None:
    """Write via a temp file in the same folder, fsync, rename: a crash leaves old or new, never half.
    What stops it (a read-only folder, a directory where the file goes) is a PageError naming the path."""
    try:
        _atomic_write(path, text)
    except IsADirectoryError:
        raise PageError(f"{path}: a directory is in the way; move it to let kb write this file") from None
    except OSError as e:
        raise PageError(f"{e.filename or path}: cannot write ({e.strerror or e})") from None


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _temp_beside(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    dirfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dirfd)
    finally:
        os.close(dirfd)


def content_hash(meta: dict, body: str) -> str:
    """Hash of what a page says: parsed metadata (minus the stamp) and body, so re-dumping the
    same YAML differently does not count as an edit."""
    clean = {k: v for k, v in meta.items() if k != HASH_KEY}
    blob = json.dumps(clean, sort_keys=True, default=str, ensure_ascii=False) + "\n" + body
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


@dataclass
class Page:
    path: str  # vault-relative, posix, NFC
    meta: dict = field(default_factory=dict)
    body: str = ""

    @property
    def title(self) -> str:
        return str(self.meta.get("title") or Path(self.path).stem)

    @property
    def state(self) -> str:
        """'kb' if unchanged since kb wrote it, 'edited' if a person changed it, 'foreign' if kb
        never wrote it."""
        stamp = self.meta.get(HASH_KEY)
        if not stamp:
            return "foreign"
        return "kb" if stamp == content_hash(self.meta, self.body) else "edited"

    def text(self) -> str:
        return markdown.join_frontmatter(self.meta, self.body)


class Vault:
    def __init__(self, root: Path):
        self.root = root
        self._on_disk: dict[str, str] = {}  # NFC path -> the spelling on disk, when they differ
        self.skipped: dict[str, str] = {}  # files() left these out: path on disk -> why, one line

    # -- finding and creating ------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path) -> "Vault":
        root = Path(path).expanduser()
        if not root.exists():
            raise VaultError(f"{root}: no such directory (create a vault with `kb init {root}`)")
        if not root.is_dir():
            raise VaultError(f"{root}: is a file, not a vault directory")
        if not (root / STATE_DIR).is_dir():
            raise VaultError(f"{root}: not a kb vault (no {STATE_DIR}/ folder); run `kb init {root}`")
        return cls(root.resolve())

    @classmethod
    def find(cls, start: str | Path) -> "Vault":
        """The vault containing `start`, searching upwards as git finds its repository."""
        here = Path(start).resolve()
        for d in (here, *here.parents):
            if (d / STATE_DIR).is_dir():
                return cls(d)
        raise VaultError(f"no kb vault in {here} or any parent; run `kb init` or pass --vault PATH")

    @classmethod
    def init(cls, path: str | Path, config_text: str) -> tuple["Vault", list[str]]:
        """Create whatever part of the layout is missing; never touch what exists."""
        root = Path(path).expanduser()
        if root.exists() and not root.is_dir():
            raise VaultError(f"{root}: is a file, not a directory")
        if not (root / STATE_DIR).is_dir():  # a vault inside a vault splits one wiki's links in two
            outer = next((d for d in root.resolve().parents if (d / STATE_DIR).is_dir()), None)
            if outer is not None:
                raise VaultError(f"{root.resolve()} is inside the vault at {outer}; kb works there already "
                                 "(init a new vault outside it)")
        created: list[str] = []
        for d in LAYOUT:
            p = root / d
            if not p.is_dir():
                p.mkdir(parents=True, exist_ok=True)
                created.append(d + "/")
        vault = cls(root.resolve())
        if not (root / "index.md").exists():  # stamped: kb regenerates it, so it must know it is kb's
            meta, body = markdown.split_frontmatter(INDEX_MD)
            vault.write(Page("index.md", meta, body))
            created.append("index.md")
        files = {"log.md": LOG_MD, ".kb/config.toml": config_text}
        files.update({f".obsidian/{n}": json.dumps(v, indent=2) + "\n" for n, v in OBSIDIAN.items()})
        for rel, text in files.items():
            p = root / rel
            if not p.exists():
                atomic_write(p, text)
                created.append(rel)
        return vault, created

    @property
    def config_path(self) -> Path:
        return self.root / STATE_DIR / "config.toml"

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    # -- files -----------------------------------------------------------------------------
    def files(self, under: str = "") -> list[str]:
        """Vault-relative NFC paths of every file outside dot-folders, sorted."""
        base = self.root / under if under else self.root
        out: set[str] = set()
        for dirpath, dirnames, filenames in os.walk(base):  # symlinked folders are not walked
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            rel_dir = os.path.relpath(dirpath, self.root)
            for name in sorted(filenames):
                if name.startswith("."):
                    continue
                rel = (name if rel_dir == "." else f"{rel_dir}/{name}").replace(os.sep, "/")
                why = self._unusable(os.path.join(dirpath, name))
                key = nfc(rel)  # an NFD spelling of a name is the same note, not a second one
                if not why and key in out:
                    other = self.on_disk(key)
                    if rel == key:  # spelled NFC: this is the note, the other spelling is its twin
                        self._on_disk.pop(key, None)
                        other, rel = rel, other
                    why = f"the same name as {other} in another Unicode form (NFC/NFD); rename one of them"
                if why:
                    self.skipped[rel] = f"{rel}: {why}; skipped"
                    continue
                if key != rel:
                    self._on_disk[key] = rel
                out.add(key)
        return sorted(out)

    def _unusable(self, path: str) -> str | None:
        """Why a file cannot be read as part of the vault: a symlink is followed only to a file
        inside the vault (a loop, a dangling link or one leading out is reported, not followed)."""
        if not os.path.islink(path):
            return None
        try:
            target = Path(path).resolve(strict=True)
        except RuntimeError:
            return "a symlink loop"
        except OSError as e:
            return "a symlink loop" if e.errno == 40 else "a symlink to nothing"
        if self.root not in target.parents:
            return f"a symlink to {target}, outside the vault"
        return None if target.is_file() else "a symlink to something that is not a file"

    def notes(self, under: str = "") -> list[str]:
        return [p for p in self.files(under) if p.lower().endswith(".md")]

    def sources(self) -> list[str]:
        """Raw source files (what compile reads); assets are referenced, not compiled."""
        return [p for p in self.files(RAW) if not p.startswith(ASSETS)]

    def wiki_pages(self) -> list[str]:
        return self.notes("wiki")

    def on_disk(self, rel: str) -> str:
        """How a path listed by files() is spelled on disk (NFD names stay NFD there)."""
        return self._on_disk.get(nfc(rel), rel)

    def abspath(self, rel: str) -> Path:
        rel = self._on_disk.get(nfc(rel), rel)
        try:
            p = (self.root / rel).resolve()
        except (RuntimeError, OSError):
            raise PageError(f"{rel}: a symlink loop") from None
        if p != self.root and self.root not in p.parents:
            raise PageError(f"{rel}: outside the vault")
        return p

    # -- pages -----------------------------------------------------------------------------
    def read(self, rel: str) -> Page:
        p = self.abspath(rel)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise PageError(f"{rel}: no such page") from None
        except UnicodeDecodeError:
            raise PageError(f"{rel}: not valid UTF-8") from None
        except OSError as e:  # a directory where the page goes, no permission
            raise PageError(f"{p}: cannot read ({e.strerror or e})") from None
        meta, body = markdown.split_frontmatter(text, where=rel)
        return Page(path=nfc(rel), meta=meta, body=body)

    def write(self, page: Page, *, force: bool = False) -> Page:
        """Write atomically and stamp with kb_hash. Refuses to replace a page a person edited
        (or one kb never wrote) unless `force`."""
        target = self.abspath(page.path)
        if target.exists() and not force:
            current = self.read(page.path)
            if current.state != "kb":
                raise PageEditedError(page.path)
        meta = {k: v for k, v in page.meta.items() if k != HASH_KEY}
        meta[HASH_KEY] = content_hash(meta, page.body)
        stamped = Page(path=page.path, meta=meta, body=page.body)
        atomic_write(target, stamped.text())
        return stamped

    # -- links -----------------------------------------------------------------------------
    def graph(self) -> Graph:
        """Resolve the links of every note outside raw/: sources are read as data (they may carry
        any `[[...]]` at all), while the wiki, index and a person's own notes must link soundly."""
        index = LinkIndex(self.files())
        parsed = {}
        for rel in self.notes():
            if rel.startswith("raw/"):
                continue
            try:
                text = self.abspath(rel).read_text(encoding="utf-8", errors="replace")
                meta, body = markdown.split_frontmatter(text, where=rel)
            except (PageError, OSError):
                meta, body = {}, ""
            parsed[rel] = markdown.parse(body, meta=meta)
        return build_graph(index, parsed)
