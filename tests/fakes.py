"""Fakes at the engine interface, for tests of kb's own logic (never of model quality)."""

import json
import re

from kb.agents.engine import Reply, Usage


class CompileFake:
    """Answers compile's two kinds of call: a source chunk's analysis (JSON: a summary, key points
    and the first concepts the schema allows) and a concept's article. Deterministic, so runs can
    be compared."""

    name = "compile-fake"

    def __init__(self, concepts: int = 3):
        self.calls = []
        self.concepts = concepts

    def chat(self, messages, *, json_schema=None, max_tokens=512, temperature=0.2, stop=None, on_token=None):
        self.calls.append({"messages": messages, "json_schema": json_schema})
        user = messages[-1]["content"]
        doc = re.search(r"<document>\n(.*?)\n</document>", user, re.S)
        summary = f"This source is about {' '.join((doc.group(1) if doc else user).split())[:160]}."
        if json_schema is None:  # free text: compile asks for none now
            out = summary
        elif "sentences" in json_schema["properties"]:  # a concept article: each source's first
            said = re.findall(r"^\[(\d+)\] .*?:\n- (.*)$", user, re.M)  # sentence, and one invented
            out = json.dumps({"sentences": [{"source": int(n), "text": s} for n, s in said]
                              + [{"source": 1, "text": "It was invented by Zork Industries in 1802."}]})
        else:
            names = json_schema["properties"]["concepts"]["items"]["properties"]["name"].get("enum") or ["Topic"]
            out = json.dumps({"summary": summary,
                              "key_points": ["The first key point of this source.",
                                             "The second key point of this source."],
                              "concepts": [{"name": n, "claim": f"The source says something about {n}."}
                                           for n in names[:self.concepts]]})
        return Reply(text=out, usage=Usage(len(user) // 4, len(out) // 4))


class LintFake:
    """Plays both roles of lint's agent: the root model finishes with FINAL_VAR(verdicts); the
    sub-model says yes to contradictions, no to claims, and names a question and a topic."""

    name = "lint-fake"

    def __init__(self):
        self.sub_calls = 0
        self.root_calls = 0

    def chat(self, messages, *, json_schema=None, max_tokens=512, temperature=0.2, stop=None, on_token=None):
        user = messages[-1]["content"]
        if messages[0]["role"] == "system":
            self.root_calls += 1
            out = "FINAL_VAR(verdicts)"
        else:
            self.sub_calls += 1
            if "Do A and B state the same fact" in user:
                out = "Yes. The two passages give different values."
            elif "Is the claim supported" in user:
                out = "No. The source does not say this."
            elif "does not answer" in user:
                out = "How long does it take?"
            elif "Name one related topic" in user:
                out = "Mycorrhizal fungi"
            else:
                out = "QUESTION: What is it?"
        return Reply(text=out, usage=Usage(len(user) // 4, len(out) // 4))
