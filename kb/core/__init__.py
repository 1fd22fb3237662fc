"""The domain core: the vault and its vocabulary (files, pages, frontmatter, wikilinks and their
Obsidian resolution, manifest, extraction, concepts, catalogue, text analysis, config, errors,
model files). Pure Python, no LLM: every layer above may import it, it imports none of them."""
