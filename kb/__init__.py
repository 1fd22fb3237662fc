"""kb: a local LLM that maintains a personal knowledge base as a linked markdown wiki."""

__version__ = "0.1.0"
