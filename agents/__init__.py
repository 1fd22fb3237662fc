"""LLM engines, the RLM runtime, prompts and agent roles. Nothing here imports llama_cpp at
module level: the in-process backend loads it when a model is first used."""
