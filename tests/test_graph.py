"""The link graph kept in memory (kb/core/graph.py): the same links, backlinks and broken links as
a fresh read of the vault (lint's), kept so by `update` (paths a job wrote or removed) and by
`refresh` (stamps of every file), through writes, removals, renames and lost headings; and its
cache in .kb/graph.json, which a second start reads instead of the notes."""

import os
import random

from kb.core.graph import LinkGraph
from kb.core.vault import Vault
from conftest import write


def vault_at(tmp_path) -> Vault:
    vault, _ = Vault.init(tmp_path / "v", "")
    write(vault.root, "wiki/concepts/Compost.md", "---\ntitle: Compost\naliases: [Humus]\n---\n# Compost\n\n"
          "## Heat\n\nWarm piles. ^warm\n\nSee [[Soil]] and [[raw/pile.md|the notes]].\n")
    write(vault.root, "wiki/concepts/Soil.md", "---\ntitle: Soil\n---\n# Soil\n\n[[Compost#Heat]] and [[Compost#^warm]]\n")
    write(vault.root, "wiki/sources/Pile.md", "---\ntitle: Pile notes\ntype: source\n---\n[[Compost]], [[Nowhere]]\n")
    write(vault.root, "raw/pile.md", "# Pile\n\n[[not a wiki link target]]\n")
    write(vault.root, "notes/Mine.md", "My own [[Soil]] note, and [[Compost#Cold]].\n")
    return Vault.open(vault.root)


def state(g: LinkGraph) -> tuple:
    """What a graph says: backlinks, broken links, files, titles."""
    inbound = {t: sorted(s) for t, s in g.inbound.items() if s}
    broken = sorted((r.source, r.link.target, r.link.subpath, r.target, r.problem) for r in g.broken)
    return inbound, broken, sorted(g.files), {rel: g.title(rel) for rel in sorted(g.notes)}


def fresh(vault: Vault) -> tuple:
    return state(LinkGraph.load(Vault.open(vault.root), cache=False))


def test_the_graph_is_lints_graph(tmp_path):
    from kb.lint.snapshot import Snapshot
    vault = vault_at(tmp_path)
    g = LinkGraph.load(vault)
    snap = Snapshot.load(vault)
    assert {t: s for t, s in snap.graph.backlinks.items() if s} == {t: s for t, s in g.inbound.items() if s}
    assert sorted(map(str, snap.graph.broken)) == sorted(map(str, g.broken))
    assert g.backlinks("wiki/concepts/Compost.md") == ["notes/Mine.md", "wiki/concepts/Soil.md", "wiki/sources/Pile.md"]
    assert g.backlinks("raw/pile.md") == ["wiki/concepts/Compost.md"]  # raw/ is linked to, never read for links
    assert sorted((r.link.target, r.problem) for r in g.broken) == [("Compost", "no heading 'Cold'"),
                                                                   ("Nowhere", "no file matches 'Nowhere'")]
    assert g.find("humus") == g.find("Compost") == "wiki/concepts/Compost.md"  # alias, then link
    assert g.find("pile notes") == "wiki/sources/Pile.md"  # by title


def test_a_page_written_then_removed_changes_backlinks(tmp_path):
    vault = vault_at(tmp_path)
    g = LinkGraph.load(vault)
    write(vault.root, "wiki/answers/Why heat.md", "---\ntitle: Why heat\n---\nBecause of [[Compost#Heat]].\n")
    changed = g.update(["wiki/answers/Why heat.md"])
    assert "wiki/answers/Why heat.md" in changed
    assert "wiki/answers/Why heat.md" in g.backlinks("wiki/concepts/Compost.md")
    assert state(g) == fresh(vault)
    os.unlink(vault.root / "wiki/answers/Why heat.md")
    g.update(["wiki/answers/Why heat.md"])
    assert "wiki/answers/Why heat.md" not in g.backlinks("wiki/concepts/Compost.md")
    assert "wiki/answers/Why heat.md" not in g.files and state(g) == fresh(vault)


def test_a_rename_breaks_the_old_name_and_mends_links_to_the_new(tmp_path):
    vault = vault_at(tmp_path)
    g = LinkGraph.load(vault)
    assert "Nowhere" in {r.link.target for r in g.broken}
    os.rename(vault.root / "wiki/concepts/Soil.md", vault.root / "wiki/concepts/Nowhere.md")
    g.update(["wiki/concepts/Soil.md", "wiki/concepts/Nowhere.md"])
    broken = {(r.source, r.link.target) for r in g.broken}
    assert ("notes/Mine.md", "Soil") in broken and ("wiki/concepts/Compost.md", "Soil") in broken
    assert ("wiki/sources/Pile.md", "Nowhere") not in broken  # the new name is linked already
    assert g.backlinks("wiki/concepts/Nowhere.md") == ["wiki/sources/Pile.md"]
    assert g.backlinks("wiki/concepts/Soil.md") == []
    assert "wiki/concepts/Nowhere.md" in g.backlinks("wiki/concepts/Compost.md")  # its own links moved with it
    assert state(g) == fresh(vault)


def test_a_heading_that_goes_breaks_the_links_into_it(tmp_path):
    vault = vault_at(tmp_path)
    g = LinkGraph.load(vault)
    compost = vault.root / "wiki/concepts/Compost.md"
    compost.write_text(compost.read_text().replace("## Heat", "## Warmth").replace(" ^warm", ""))
    g.update(["wiki/concepts/Compost.md"])
    problems = {(r.source, r.problem) for r in g.broken}
    assert ("wiki/concepts/Soil.md", "no heading 'Heat'") in problems
    assert ("wiki/concepts/Soil.md", "no block ^warm") in problems
    assert state(g) == fresh(vault)


def test_refresh_finds_what_a_person_changed_outside(tmp_path):
    vault = vault_at(tmp_path)
    g = LinkGraph.load(vault)
    assert g.refresh() == set()  # nothing changed: nothing read
    mine = vault.root / "notes/Mine.md"
    mine.write_text("Now about [[Compost]] only.\n")
    os.utime(mine, ns=(mine.stat().st_atime_ns, mine.stat().st_mtime_ns + 10**9))
    write(vault.root, "notes/New.md", "[[Mine]]\n")
    os.unlink(vault.root / "wiki/sources/Pile.md")
    changed = g.refresh()
    assert {"notes/Mine.md", "notes/New.md", "wiki/sources/Pile.md"} <= changed
    assert g.backlinks("notes/Mine.md") == ["notes/New.md"]
    assert "notes/Mine.md" not in g.backlinks("wiki/concepts/Soil.md")
    assert state(g) == fresh(vault)
    raw = vault.root / "raw/pile.md"
    raw.write_text(raw.read_text() + "more\n")
    assert g.refresh() == {"raw/pile.md"}  # a source changed: the health counts again


def test_random_edits_keep_the_graph_as_a_fresh_read_would(tmp_path):
    vault = vault_at(tmp_path)
    g = LinkGraph.load(vault)
    rng = random.Random(5)
    names = ["wiki/concepts/Compost.md", "wiki/concepts/Soil.md", "notes/A.md", "notes/sub/B.md", "B.md",
             "wiki/sources/Pile.md", "raw/assets/pic.png"]
    bodies = ["[[Compost]] [[B]]", "[[Soil#Soil]] ![[pic.png]]", "# B\n\n[[A#B]] [[notes/sub/B]]", "[[Pile]] ^x",
              "[[Compost#^warm]] [[Missing]]", "nothing", "[[#Self]] [[A.md]]"]
    for step in range(40):
        rel = rng.choice(names)
        path = vault.root / rel
        if path.exists() and rng.random() < 0.3:
            path.unlink()
        else:
            write(vault.root, rel, f"---\ntitle: T{step}\n---\n{rng.choice(bodies)}\n{'x' * step}\n")
        g.update([rel]) if step % 2 else g.refresh()
        assert state(g) == fresh(vault), step


def test_the_cache_is_read_on_the_next_start_and_rebuilt_when_bad(tmp_path, monkeypatch):
    vault = vault_at(tmp_path)
    first = LinkGraph.load(vault)
    assert (vault.state_dir / "graph.json").exists() and first.saved
    reads = []
    real = LinkGraph._read
    monkeypatch.setattr(LinkGraph, "_read", lambda self, rel: reads.append(rel) or real(self, rel))
    again = LinkGraph.load(Vault.open(vault.root))
    assert reads == [] and state(again) == state(first)  # no note read again
    write(vault.root, "notes/Mine.md", "changed: [[Pile]]\n")
    again = LinkGraph.load(Vault.open(vault.root))
    assert reads == ["notes/Mine.md"] and state(again) == fresh(vault)
    (vault.state_dir / "graph.json").write_text('{"version": 1, "files": 3}')
    reads.clear()
    rebuilt = LinkGraph.load(Vault.open(vault.root))
    assert "not a graph kb can read" in rebuilt.problem and len(reads) == len(rebuilt.notes)
    assert state(rebuilt) == fresh(vault)
