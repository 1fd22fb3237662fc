"""The `.obsidian/` settings `kb init` writes, so the vault opens in Obsidian as kb writes it.

Each key is one Obsidian reads from a vault's config folder:

- `app.json`: `useMarkdownLinks: false` makes new links `[[wikilinks]]`; `newLinkFormat:
  "absolute"` writes them as a path from the vault root, the form kb itself writes
  (`[[wiki/concepts/X|X]]`), which stays unambiguous when two notes share a name;
  `alwaysUpdateLinks` lets Obsidian rewrite those path links when a person renames or moves a
  note; `attachmentFolderPath` puts pasted images in `raw/assets/`, where compile looks for them;
  `userIgnoreFilters` keeps kb's state (`.kb/`) out of search, the graph and quick switcher.
- `types.json`: the property types Obsidian's Properties view uses (the per-vault registry that
  "Property type" edits): `created`/`updated` are dates (kb writes them as YAML dates, which
  Dataview reads as dates too), `sources` a list of links, `aliases` and `tags` their own types.
- A home note: Obsidian itself has no setting for a note to open on start (it restores the last
  workspace). The Homepage community plugin does it; kb writes that plugin's settings
  (`plugins/homepage/data.json`, its version-4 format) naming `index`, so installing and enabling
  the plugin is all it takes. kb installs no plugin code in a vault; without the plugin, Obsidian
  opens what it had open last (on a new vault, nothing) and index.md is one click away.
"""

from __future__ import annotations

HOME_NOTE = "index"  # index.md, as Obsidian names notes in links and settings
TEXT_PROPERTIES = ("title", "type", "description", "raw", "raw_hash", "kb_hash")

SETTINGS: dict[str, object] = {
    "app.json": {"userIgnoreFilters": [".kb/"], "useMarkdownLinks": False, "newLinkFormat": "absolute",
                 "alwaysUpdateLinks": True, "attachmentFolderPath": "raw/assets"},
    # the object form Obsidian 1.x writes (id -> enabled); `properties` is the Properties view
    "core-plugins.json": {p: True for p in ("file-explorer", "global-search", "switcher", "graph", "backlink",
                                            "outgoing-link", "tag-pane", "properties", "page-preview", "outline",
                                            "command-palette")},
    "types.json": {"types": {"aliases": "aliases", "tags": "tags", "sources": "multitext", "created": "date",
                             "updated": "date", **dict.fromkeys(TEXT_PROPERTIES, "text")}},
    "plugins/homepage/data.json": {"version": 4, "separateMobile": False, "homepages": {"Main Homepage": {
        "value": HOME_NOTE, "kind": "File", "openOnStartup": True, "openMode": "Replace all open notes",
        "manualOpenMode": "Keep open notes", "view": "Default view", "revertView": True,
        "openWhenEmpty": False, "refreshDataview": False, "autoCreate": False, "autoScroll": False,
        "pin": False, "commands": [], "alwaysApply": False, "hideReleaseNotes": False}}},
}
