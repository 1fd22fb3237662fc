"""`kb finetune`: train a bundled model on the vault's finetune-data and record the result.

`latest.json` (beside the data) names the last run's base and exported GGUF, so the closed-book
comparison finds its `before` and `after` without being told; it is written here, after the
export, so it never names a model that does not exist.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from kb.core import events, models
from kb.core.vault import Vault, atomic_write
from kb.finetune import train as ft
from kb.finetune.data import out_dir


@dataclass
class Finetuned:
    report: ft.TrainReport
    base: str  # the bundled name it started from
    name: str  # the new model's name (`--model NAME`)

    def as_dict(self) -> dict:
        return self.report.as_dict() | {"base": self.base, "name": self.name}


class Finetune:
    def __init__(self, vault: Vault, models_dir: Path, settings: ft.TrainSettings | None = None,
                 on_progress: events.OnProgress | None = None):
        self.vault = vault
        self.models_dir = models_dir
        self.settings = settings or ft.TrainSettings()
        self.on_progress = on_progress

    def default_name(self, base: str) -> str:
        return f"{base}-{self.vault.root.name}-ft"

    def run(self, base: str, name: str | None = None) -> Finetuned:
        ft.require_extra()  # before resolving: a missing extra is the first thing to say
        base_path = models.resolve(base, self.models_dir)
        name = name or self.default_name(base)
        data = out_dir(self.vault)
        report = ft.train(base_path, data, data / "runs" / name, self.models_dir, name, self.settings,
                          on_progress=self.on_progress)
        done = Finetuned(report, base, name)
        atomic_write(data / "latest.json", json.dumps(done.as_dict(), indent=1) + "\n")
        return done
