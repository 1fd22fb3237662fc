"""What agents and people both use: the search index, renderers, REPL-side functions."""
