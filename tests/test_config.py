import pytest

from kb.core import config
from kb.core.errors import ConfigError


def cfg(tmp_path, text, env=None):
    p = tmp_path / "config.toml"
    p.write_text(text)
    return config.load(p, env or {})


def test_defaults_and_file_values(tmp_path):
    c = cfg(tmp_path, '[model]\nname = "/x/m.gguf"\nn_ctx = 4096\ntemperature = 1\n')
    assert c.model["name"] == "/x/m.gguf" and c.model["n_ctx"] == 4096
    assert c.model["temperature"] == 1.0 and c.model["engine"] == "llama_cpp"
    assert config.load(tmp_path / "missing.toml", {}).model["n_ctx"] == 8192


def test_typo_names_file_key_and_suggestion(tmp_path):
    with pytest.raises(ConfigError) as e:
        cfg(tmp_path, "[model]\nn_ctxx = 4096\n")
    msg = str(e.value)
    assert "config.toml" in msg and "model.n_ctxx" in msg and "did you mean 'n_ctx'" in msg
    assert e.value.exit_code == 2


def test_wrong_type_and_bad_values(tmp_path):
    with pytest.raises(ConfigError, match=r"model.n_ctx must be an integer, got str"):
        cfg(tmp_path, '[model]\nn_ctx = "big"\n')
    with pytest.raises(ConfigError, match="must be an integer, got bool"):
        cfg(tmp_path, "[model]\nn_threads = true\n")
    with pytest.raises(ConfigError, match="engine must be one of"):
        cfg(tmp_path, '[model]\nengine = "gpt"\n')
    with pytest.raises(ConfigError, match=r"unknown section \[modle\].*did you mean 'model'"):
        cfg(tmp_path, "[modle]\nname = 'x'\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        cfg(tmp_path, "[model\n")


def test_env_overrides_and_their_validation(tmp_path):
    c = cfg(tmp_path, '[model]\nname = "a"\n', env={"KB_MODEL": "b", "KB_N_CTX": "2048"})
    assert c.model["name"] == "b" and c.model["n_ctx"] == 2048
    with pytest.raises(ConfigError, match="environment KB_N_CTX.*integer"):
        cfg(tmp_path, "", env={"KB_N_CTX": "lots"})
    c = config.load(None, {"KB_MODEL": "b"}, {("model", "name"): "c"})
    assert c.model["name"] == "c"  # the command line wins
