"""Lint: a vault seeded with one of each structural problem, run through the CLI; --fix; the
model checks' loop with a scripted engine (the real model runs in test_lint_e2e.py)."""

import json
import shutil
from datetime import date
from pathlib import Path


from kb.compile.job import Compile
from kb.lint.job import Lint
from kb.lint.checks import empty_sections
from kb.core.text import disagreements, near_duplicates
from kb.core.vault import Vault
from conftest import ROOT, run_kb, write
from fakes import CompileFake, LintFake

SAMPLES = sorted((ROOT / "vault" / "raw").glob("*.md"))
FM = "---\ntitle: {t}\ntype: {ty}\ntags: [note]\ncreated: 2026-11-01\n---\n"

# (check, the page at fault) for every seeded problem
SEEDED = {
    ("broken-link", "notes/hub.md"),  # [[Nowhere at all]]
    ("broken-link", "notes/hub.md#heading"),  # [[wiki/concepts/Compost#No such heading]]
    ("orphan", "notes/lonely.md"),
    ("missing-concept", "notes/garden.md"),  # [[Mycorrhizal networks]] from hub and garden
    ("stale", "wiki/sources/Kimchi at home.md"),  # raw changed
    ("stale", "wiki/sources/Kombucha notes.md"),  # raw deleted
    ("duplicate-source", "wiki/sources/Hot composting.md"),  # copied in under a second name
    ("duplicate-concept", "wiki/concepts/Sourdough starter.md"),  # and 'Sourdough starters'
    ("missing-frontmatter", "wiki/concepts/No frontmatter.md"),
    ("invalid-frontmatter", "wiki/concepts/Bad yaml.md"),
    ("invalid-frontmatter", "wiki/answers/Wrong type.md"),
    ("empty-section", "wiki/answers/Empty section.md"),
    ("index-stale", "index.md"),
    ("alias-link", "notes/hub.md"),  # [[LLM]], an alias of 'Large language model'
    ("dangling-source-link", "notes/garden.md"),  # [[wiki/sources/Removed post]]
}
FIXABLE = {"missing-concept", "index-stale", "alias-link", "dangling-source-link"}


def seeded_vault(tmp_path) -> Vault:
    vault, _ = Vault.init(tmp_path / "v", "")
    for p in SAMPLES:
        (vault.root / "raw" / p.name).write_bytes(p.read_bytes())
    shutil.copy(vault.root / "raw" / "hot-composting.md", vault.root / "raw" / "composting-copy.md")
    Compile(vault, lambda: CompileFake()).run()
    r = vault.root
    with open(r / "raw" / "kimchi-at-home.md", "a") as f:
        f.write("\nA late addition to the recipe.\n")
    (r / "raw" / "kombucha-notes.md").unlink()
    write(r, "notes/hub.md", "# Hub\n\nSee [[Nowhere at all]], [[wiki/concepts/Compost#No such heading]], "
          "[[Mycorrhizal networks]], [[Sourdough starters]], [[No frontmatter]], [[Bad yaml]], [[Wrong type]], "
          "[[Empty section]], [[Large language model]], [[LLM]] and [[garden]].\n")
    write(r, "notes/garden.md", "# Garden\n\nFungi form [[Mycorrhizal networks]]; I read about it in "
          "[[wiki/sources/Removed post]]. Back to the [[hub]].\n")
    write(r, "notes/lonely.md", "# Lonely\n\nNothing links here and this links nowhere.\n")
    write(r, "wiki/concepts/Sourdough starters.md", FM.format(t="Sourdough starters", ty="concept") +
          "# Sourdough starters\n\nMy own page on starters.\n")
    write(r, "wiki/concepts/Large language model.md", FM.format(t="Large language model", ty="concept")
          .replace("tags:", "aliases: [LLM]\ntags:") + "# Large language model\n\nA model of text.\n")
    write(r, "wiki/concepts/No frontmatter.md", "# No frontmatter\n\nA page without any.\n")
    write(r, "wiki/concepts/Bad yaml.md", "---\ntitle: [unclosed\n---\n# Bad yaml\n\nBroken metadata.\n")
    write(r, "wiki/answers/Wrong type.md", FM.format(t="Wrong type", ty="concept") + "# Wrong type\n\nText.\n")
    write(r, "wiki/answers/Empty section.md", FM.format(t="Empty section", ty="answer") +
          "# Empty section\n\nIntro.\n\n## Details\n\n## More\n\nText.\n")
    return Vault.open(r)


def keys(findings) -> set[tuple[str, str]]:
    out = set()
    for f in findings:
        page = f["pages"][0] if isinstance(f, dict) else f.pages[0]
        check = f["check"] if isinstance(f, dict) else f.check
        msg = f["message"] if isinstance(f, dict) else f.message
        if check == "broken-link" and "heading" in msg:
            page += "#heading"
        if check == "missing-concept":
            page = "notes/garden.md"  # linked from hub and garden: sorted, garden first
        out.add((check, page))
    return out


def snapshot(root: Path) -> dict[str, bytes]:
    """The vault's files, less what lint may write: its report, the log, kb's state and the history
    (the report is committed; a vault made without `kb init` gets its repository then)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".kb" not in p.parts and "reports" not in p.parts and p.name != "log.md"
            and ".git" not in p.parts and p.name != ".gitignore"}


def test_seeded_vault_each_problem_found_and_nothing_else(tmp_path):
    vault = seeded_vault(tmp_path)
    before = snapshot(vault.root)
    r = run_kb("lint", "--structural", "--json", cwd=vault.root)
    assert r.returncode == 1, r.stderr  # errors were found
    data = json.loads(r.stdout)
    assert keys(data["findings"]) == SEEDED
    assert len(data["findings"]) == len(SEEDED)
    assert snapshot(vault.root) == before  # lint without --fix changes nothing but its report and log
    report = vault.root / data["report"]
    assert data["report"] == f"wiki/reports/lint-{date.today().isoformat()}.md" and report.exists()
    text = report.read_text()
    for f in data["findings"]:
        for p in f["pages"]:
            assert f"[[{p.removesuffix('.md')}|" in text, p  # every finding links the pages involved
    assert "## Errors (5)" in text and "kb lint --fix" in text
    assert "lint |" in (vault.root / "log.md").read_text()


def test_fix_repairs_the_safe_ones_and_a_second_lint_is_clean_of_them(tmp_path):
    vault = seeded_vault(tmp_path)
    hub_before = (vault.root / "notes/hub.md").read_text()
    r = run_kb("lint", "--structural", "--fix", cwd=vault.root)
    assert r.returncode == 1 and "fixed:" in r.stdout, r.stdout + r.stderr
    again = json.loads(run_kb("lint", "--structural", "--json", cwd=vault.root).stdout)
    assert keys(again["findings"]) == {k for k in SEEDED if k[0] not in FIXABLE}
    hub = (vault.root / "notes/hub.md").read_text()
    assert "[[wiki/concepts/Large language model|LLM]]" in hub
    assert hub.replace("[[wiki/concepts/Large language model|LLM]]", "[[LLM]]") == hub_before  # nothing else
    garden = (vault.root / "notes/garden.md").read_text()
    assert "[[wiki/sources/Removed post]]" not in garden and "I read about it in Removed post." in garden
    stub = vault.read("wiki/concepts/Mycorrhizal networks.md")
    assert stub.meta["type"] == "concept" and "stub" in stub.meta["tags"] and stub.state == "kb"
    assert "[[notes/hub|hub]]" in stub.body and "[[notes/garden|garden]]" in stub.body
    assert "wiki/concepts/Mycorrhizal networks" in (vault.root / "index.md").read_text()


def test_fix_keeps_kb_pages_kb_owned_and_edited_pages_edited(tmp_path):
    vault = seeded_vault(tmp_path)
    concept = vault.root / "wiki/concepts/Composting.md"  # Compost and Composting are one page
    text = concept.read_text()
    concept.write_text(text + "\nSee also [[wiki/sources/Gone for good]].\n")  # a person's edit
    src = vault.root / "wiki/sources/Hot composting.md"
    page = vault.read("wiki/sources/Hot composting.md")
    page.body += "\nFrom [[wiki/sources/Old version]].\n"
    vault.write(page, force=True)  # kb's own page (stamped) with a dangling link
    Lint(Vault.open(vault.root), None).run(fix=True, write_report=False)
    assert vault.read("wiki/concepts/Composting.md").state == "edited"
    assert "See also Gone for good." in concept.read_text()
    fixed = vault.read("wiki/sources/Hot composting.md")
    assert fixed.state == "kb" and "From Old version." in src.read_text()


def test_healthy_vault_is_clean_and_exit_zero(tmp_path):
    vault, _ = Vault.init(tmp_path / "v", "")
    for p in SAMPLES:
        (vault.root / "raw" / p.name).write_bytes(p.read_bytes())
    Compile(vault, lambda: CompileFake()).run()
    r = run_kb("lint", "--structural", cwd=vault.root)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 errors, 0 warnings" in r.stdout and "healthy" in r.stdout
    # the report is listed in the index, and a second lint does not count it against the wiki
    assert "wiki/reports/lint-" in (vault.root / "index.md").read_text()
    again = run_kb("lint", "--structural", "--json", cwd=vault.root)
    assert json.loads(again.stdout)["findings"] == [] and again.returncode == 0


def test_lint_outside_a_vault_is_one_line(tmp_path):
    r = run_kb("lint", cwd=tmp_path)
    assert r.returncode != 0 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_empty_sections():
    assert empty_sections("# T\n\nx\n\n## A\n\n## B\n\ny\n") == ["A"]
    assert empty_sections("# T\n\n## A\n\n### B\n\ntext\n") == []
    assert empty_sections("# T\n\n## A\n\n### B\n\n## C\n\nz\n") == ["B", "A"]
    assert empty_sections("## A\n\n- item\n\n## B\n") == ["B"]
    assert empty_sections("## A\n\n```\ncode\n```\n") == []


def test_near_duplicates_and_disagreements():
    base = " ".join(f"word{i} filler{i % 7}" for i in range(200))
    texts = {"a": base, "b": base.replace("word50 ", "word50x "), "c": " ".join(f"other{i}" for i in range(400))}
    pairs = near_duplicates(texts)
    assert [(a, b) for a, b, _ in pairs] == [("a", "b")] and pairs[0][2] > 0.9
    groups = disagreements({"p": "The pile reaches 55 degrees within three days of building.",
                            "q": "- “The pile reaches 65 degrees within three days of building.”",
                            "r": "Unrelated text about 55 things in total here."})
    assert len(groups) == 1 and {s.path for s in groups[0]} == {"p", "q"}


def test_model_checks_loop_with_a_scripted_engine(tmp_path):
    """Contradiction candidates found by code go to the agent; its verdicts land in the report."""
    vault, _ = Vault.init(tmp_path / "v", "")
    for p in SAMPLES:
        (vault.root / "raw" / p.name).write_bytes(p.read_bytes())
    Compile(vault, lambda: CompileFake()).run()
    page = vault.read("wiki/sources/Hot composting.md")
    assert "about 50-60% water" in page.body
    page.body = page.body.replace("about 50-60% water", "about 80-90% water")  # the seeded contradiction
    vault.write(page, force=True)
    engine = LintFake()
    report = Lint(Vault.open(vault.root), lambda: engine).run()
    found = [f for f in report.findings if f.check == "contradiction"]
    assert len(found) == 1 and found[0].severity == "warning"
    quoted = {p: t for p, t in found[0].quotes}
    assert "80-90% water" in quoted["wiki/sources/Hot composting.md"]
    assert "50-60% water" in quoted["raw/hot-composting.md"]
    assert {f.check for f in report.findings} >= {"gap", "question"}
    assert report.model["sub_calls"] == engine.sub_calls >= 2
    text = (vault.root / report.report_page).read_text()
    assert "80-90% water" in text and "50-60% water" in text and "## Suggestions" in text


def test_duplicate_concepts_by_name_alias_and_acronym(tmp_path):
    vault, _ = Vault.init(tmp_path / "v", "")
    pages = {"Mixture of Experts": "[]", "MoE routing": "[]", "Experts mixture": "[MoE]",
             "Thread reward": "[]", "Throughput router": "[]", "Transformers": "[]", "Transformer": "[]"}
    links = " ".join(f"[[{t}]]" for t in pages)
    for t, al in pages.items():
        write(vault.root, f"wiki/concepts/{t}.md", FM.format(t=t, ty="concept").replace("tags:", f"aliases: {al}\ntags:")
              + f"# {t}\n\nAbout {t}. {links}\n")
    found = [sorted(f.pages) for f in Lint(vault, None).run(write_report=False).findings
             if f.check == "duplicate-concept"]
    assert sorted(found) == [["wiki/concepts/Experts mixture.md", "wiki/concepts/Mixture of Experts.md"],
                             ["wiki/concepts/Transformer.md", "wiki/concepts/Transformers.md"]]


def test_links_in_tables_and_properties_as_obsidian_reads_them(tmp_path):
    """`\\|` in a table cell is the link's pipe, not part of its target; a property's link is a
    link: it makes a backlink (no orphan) and, when it points nowhere, a broken link."""
    vault = Vault.init(tmp_path / "v", "")[0]
    write(vault.root, "wiki/concepts/SCOBY.md", FM.format(t="SCOBY", ty="concept") + "# SCOBY\n\nA culture.\n")
    write(vault.root, "notes/table.md", "# Brews\n\n| brew | culture |\n|---|---|\n"
          "| kombucha | [[wiki/concepts/SCOBY\\|SCOBY]] |\n")
    write(vault.root, "notes/child.md", '---\nup: "[[notes/table]]"\n---\n# Child\n\nLinks to [[wiki/concepts/SCOBY]].\n')
    r = run_kb("lint", "--structural", "--no-report", "--json", cwd=vault.root)
    found = json.loads(r.stdout)["findings"]
    assert not [f for f in found if f["check"] in ("broken-link", "missing-concept")], found
    orphans = {f["pages"][0] for f in found if f["check"] == "orphan"}
    assert "notes/table.md" not in orphans  # its backlink is child's `up` property
    write(vault.root, "notes/child.md", '---\nup: "[[notes/Nowhere]]"\nrelated: ["[[wiki/concepts/SCOBY]]"]\n---\n# Child\n')
    r = run_kb("lint", "--structural", "--no-report", "--json", cwd=vault.root)
    assert r.returncode == 1
    broken = [f for f in json.loads(r.stdout)["findings"] if f["check"] == "broken-link"]
    assert [f["message"] for f in broken] == ["notes/child.md (property up): [[notes/Nowhere]] -> no file matches 'notes/Nowhere'"]
