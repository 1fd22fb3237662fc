"""The compile job: raw sources -> source pages, concept pages, index, log, search index."""
