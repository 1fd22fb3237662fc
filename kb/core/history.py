"""The vault's history: a git repository at the vault's root, one commit per kb write, undo as a
new commit.

kb commits only what its own job changed. Before a job it notes which files are already dirty (a
person's uncommitted edits, sources dropped into raw/); after it, it commits the files that were
clean before and changed since. A dirty file that the job changed too is committed with it and
named in the commit (`Kb-Person-Edit:` trailers), so kb never commits a person's edit without
saying so, and `undo` refuses such a commit rather than dropping the edit. Everything else a
person has not committed stays as it was.

kb's commits carry a `Kb-Job:` trailer: that, not the author, is how `history` tells them from a
person's. `undo` restores each file the commit touched to its previous bytes, and only when
nothing touched those files since (no later commit, no uncommitted edit): a three-way merge is
not an undo a person can check. `.kb/` is state rebuilt from the files and stays out of git,
except the manifest, which describes the pages and must follow them back when a compile is undone
(the next compile then sees the source as new again and rebuilds its pages from the model cache).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from kb.core.errors import HistoryError
from kb.core.kinds import TEMP_SUFFIX

JOB, UNDOES, PERSON = "Kb-Job", "Kb-Undoes", "Kb-Person-Edit"
IGNORE = ["# kb: state under .kb/ is rebuilt from the files; the manifest follows the pages",
          ".kb/*", "!.kb/manifest.json", "!.kb/config.toml", f"*{TEMP_SUFFIX}",
          ".obsidian/workspace*.json"]
KB_PATHS = ("wiki/", "index.md", "log.md", ".kb/", ".obsidian/", ".gitignore")  # what a baseline commits
NO_GIT = "git is not installed, and this vault keeps its history in git: install git, or set " \
         "[history] enabled = false in .kb/config.toml"
_ENV = {"GIT_AUTHOR_NAME": "kb", "GIT_AUTHOR_EMAIL": "kb@localhost", "GIT_COMMITTER_NAME": "kb",
        "GIT_COMMITTER_EMAIL": "kb@localhost", "GIT_LITERAL_PATHSPECS": "1", "GIT_TERMINAL_PROMPT": "0"}


@dataclass
class Commit:
    id: str
    when: str  # ISO 8601
    subject: str
    job: str  # the Kb-Job trailer; empty for a person's commit
    undoes: str = ""
    person_edits: list[str] = field(default_factory=list)

    @property
    def short(self) -> str:
        return self.id[:8]

    def as_dict(self) -> dict:
        return {"id": self.id, "when": self.when, "subject": self.subject, "job": self.job,
                "undoes": self.undoes or None, "person_edits": self.person_edits}


Before = dict[str, tuple | None]  # dirty path -> (size, mtime_ns), None when deleted


class History:
    def __init__(self, root: Path, git: str | None = None):
        self.root = Path(root).resolve()
        self.gitexe = git or shutil.which("git")

    @property
    def exists(self) -> bool:
        return (self.root / ".git").exists()

    def git(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        if not self.gitexe:
            raise HistoryError(NO_GIT)
        env = {**os.environ, **_ENV}
        proc = subprocess.run([self.gitexe, "-c", "commit.gpgsign=false", "-c", "core.quotepath=false", *args],
                              cwd=self.root, input=input, capture_output=True, text=True, env=env)
        if check and proc.returncode != 0:
            msg = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
            raise HistoryError(f"git {args[0]} failed in {self.root}: {msg[-1] if msg else proc.returncode}")
        return proc

    # -- starting ---------------------------------------------------------------------------
    def start(self, subject: str = "history: start", job: str = "start") -> Commit | None:
        """Make the vault a repository (or adopt the one it is), keep .kb/ state out of it, and
        commit kb's files that git does not know yet, so an undo always has a before to go back to.
        A person's changes to files git already tracks are left uncommitted."""
        if not self.exists:
            self.git("init", "-q")
        ignore = self.root / ".gitignore"
        dirty_before = self.dirty()
        old = ignore.read_text(encoding="utf-8") if ignore.exists() else ""
        missing = [line for line in IGNORE if line not in old.splitlines()]
        if missing:
            ignore.write_text(old + ("\n" if old and not old.endswith("\n") else "") + "\n".join(missing) + "\n",
                              encoding="utf-8")
        status = self._status()
        new = [p for p, code in status.items() if code == "??" and p.startswith(KB_PATHS)]
        if ".gitignore" in status and ".gitignore" not in new and ".gitignore" not in dirty_before:
            new.append(".gitignore")
        if not new:
            return None
        listed = [f"- {p}" for p in sorted(new)[:20]] + ([f"- and {len(new) - 20} more"] if len(new) > 20 else [])
        return self._commit(sorted(new), subject, ["kb's files as they were, so that an undo has a before:",
                                                   *listed], job, [])

    # -- recording a job --------------------------------------------------------------------
    def dirty(self) -> Before:
        """What differs from HEAD now, with each file's size and mtime, to tell later changes."""
        return {p: self._stamp(p) for p in self._status()}

    def record(self, before: Before, job: str, subject: str, body: list[str] | None = None) -> Commit | None:
        """Commit what changed since `before` (a `dirty()` taken before the job); None if nothing."""
        after = self.dirty()
        mine = sorted(p for p, st in after.items() if p not in before or before[p] != st)
        if not mine:
            return None
        person = [p for p in mine if p in before]
        return self._commit(mine, subject, body or [], job, person)

    def _commit(self, paths: list[str], subject: str, body: list[str], job: str, person: list[str],
                undoes: str = "", stage: bool = True) -> Commit:
        if stage:  # new files must be known to git before `commit --only` takes them
            self.git("add", "-A", "--pathspec-from-file=-", "--pathspec-file-nul", input="\0".join(paths) + "\0")
        trailers = [f"{JOB}: {job}", *([f"{UNDOES}: {undoes}"] if undoes else []),
                    *(f"{PERSON}: {p}" for p in person)]
        if person:
            body = [*body, "", "Also holds edits a person made to these files before kb ran: " + ", ".join(person)]
        message = "\n".join([subject, "", *body, "", *trailers]).replace("\n\n\n", "\n\n") + "\n"
        self.git("commit", "-q", "--no-verify", "--only", "--allow-empty", "-F", "-",
                 "--pathspec-from-file=" + self._pathfile(paths), "--pathspec-file-nul", input=message)
        return self.log(1, kb_only=False)[0]

    def _pathfile(self, paths: list[str]) -> str:
        """`commit` reads its message from stdin, so its paths come from a file under .git/."""
        path = self.root / ".git" / "kb-paths"
        path.write_bytes(("\0".join(paths) + "\0").encode("utf-8"))
        return str(path)

    # -- reading ----------------------------------------------------------------------------
    def log(self, limit: int | None = None, kb_only: bool = True) -> list[Commit]:
        if not self.exists or self.git("rev-parse", "-q", "--verify", "HEAD", check=False).returncode:
            return []
        fmt = (f"%H%x1f%aI%x1f%s%x1f%(trailers:key={JOB},valueonly,separator=%x1d)"
               f"%x1f%(trailers:key={UNDOES},valueonly,separator=%x1d)"
               f"%x1f%(trailers:key={PERSON},valueonly,separator=%x1d)%x1e")
        out = self.git("log", f"--format={fmt}", *([] if kb_only or limit is None else [f"-{limit}"])).stdout
        commits = []
        for rec in out.split("\x1e"):
            parts = rec.strip("\n").split("\x1f")
            if len(parts) < 6:
                continue
            c = Commit(parts[0], parts[1], parts[2], parts[3].strip(), parts[4].strip(),
                       [p for p in parts[5].strip().split("\x1d") if p])
            if c.job or not kb_only:
                commits.append(c)
        return commits[:limit] if limit else commits

    def files(self, commit: str) -> list[str]:
        out = self.git("diff-tree", "--root", "--no-commit-id", "-r", "--name-only", "-z", commit).stdout
        return [p for p in out.split("\0") if p]

    # -- undo -------------------------------------------------------------------------------
    def target(self, ref: str | None = None) -> Commit:
        """The commit `undo` would revert: `ref`, else kb's newest write not undone yet."""
        commits = self.log()
        undone = {c.undoes for c in commits if c.undoes}
        if ref is None:
            for c in commits:
                if c.job not in ("undo", "start", "init") and c.id not in undone:
                    return c
            raise HistoryError("nothing to undo: kb has made no change here that is not undone already")
        proc = self.git("rev-parse", "-q", "--verify", f"{ref}^{{commit}}", check=False)
        sha = proc.stdout.strip()
        match = next((c for c in commits if c.id == sha), None)
        if proc.returncode or not sha:
            raise HistoryError(f"no commit {ref!r} in this vault's history (see `kb history`)")
        if match is None:
            raise HistoryError(f"{ref} is not a kb commit; kb undoes only its own changes (git revert undoes any)")
        if match.job in ("undo", "start", "init"):
            raise HistoryError(f"{match.short} ({match.subject}) is not a kb write that can be undone")
        if match.id in undone:
            raise HistoryError(f"{match.short} ({match.subject}) is undone already")
        return match

    def undo(self, ref: str | None = None) -> tuple[Commit, Commit]:
        """(the commit undone, the new commit that undoes it). Refuses, naming the files, when a
        person's edit would be lost or the files changed since."""
        c = self.target(ref)
        if c.person_edits:
            raise HistoryError(f"{c.short} ({c.subject}) also holds edits a person made before kb ran "
                               f"({', '.join(c.person_edits)}); `git revert {c.short}` undoes it all if you mean to")
        paths = self.files(c.id)
        edited = sorted(set(paths) & set(self.dirty()))
        if edited:
            raise HistoryError(f"not undoing {c.short} ({c.subject}): {', '.join(edited)} edited since kb wrote "
                               "them; commit or discard those edits first")
        changed = [p for p in paths if self._blob(c.id, p) != self._blob("HEAD", p)]
        if changed:
            raise HistoryError(f"not undoing {c.short} ({c.subject}): {', '.join(changed)} changed again in a "
                               "later commit; undo the later ones first")
        back = [p for p in paths if self._blob(c.id + "^", p)]
        gone = [p for p in paths if p not in back]
        if back:
            self.git("checkout", c.id + "^", "--pathspec-from-file=-", "--pathspec-file-nul",
                     input="\0".join(back) + "\0")
        if gone:
            self.git("rm", "-q", "--pathspec-from-file=-", "--pathspec-file-nul", input="\0".join(gone) + "\0")
        new = self._commit(paths, f"undo: {c.subject}", [f"Restores the files {c.short} changed."], "undo", [],
                           undoes=c.id, stage=False)
        return c, new

    # -- helpers ----------------------------------------------------------------------------
    def _status(self) -> dict[str, str]:
        out = self.git("status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames").stdout
        return {entry[3:]: entry[:2] for entry in out.split("\0") if len(entry) > 3}

    def _stamp(self, rel: str) -> tuple | None:
        try:
            st = os.stat(self.root / rel)
        except OSError:
            return None
        return st.st_size, st.st_mtime_ns

    def _blob(self, rev: str, rel: str) -> str:
        proc = self.git("rev-parse", "-q", "--verify", f"{rev}:{rel}", check=False)
        return proc.stdout.strip() if proc.returncode == 0 else ""
