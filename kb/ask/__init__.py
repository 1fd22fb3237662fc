"""The ask job (one question through rlm, rag or stuff) and `kb eval` over a question set."""
