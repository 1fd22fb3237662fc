# Everything a fresh machine needs, in two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
KB := $(VENV)/bin/kb
LLAMA_VERSION := 0.3.36
# A native (-march=native) llama.cpp build dies with "Illegal instruction" on VMs whose CPU
# advertises instructions (AMX) that the hypervisor does not allow: build for explicit x86-64
# instruction sets instead. GPU users: make CMAKE_ARGS="-DGGML_CUDA=on"
CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
# The llama-cpp-python wheel is built once per machine and build flags (~7 minutes on 2 cores)
# and kept outside the checkout, so a new clone or a new venv reuses it.
WHEEL_CACHE ?= $(HOME)/.cache/kb/wheels
WHEEL_DIR := $(WHEEL_CACHE)/llama-$(LLAMA_VERSION)-$(shell echo '$(CMAKE_ARGS)' | cksum | cut -d' ' -f1)
STAMP := $(VENV)/.installed
DEMO_MODEL ?= qwen2.5-coder-0.5b
TEST_MODEL := smollm2-135m
PYTEST_ARGS ?=

.PHONY: install demo test test-all models bench clean marp

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip

$(WHEEL_DIR)/.built: | $(PY)
	mkdir -p $(WHEEL_DIR)
	CMAKE_ARGS="$(CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
	  $(PY) -m pip wheel --no-deps --disable-pip-version-check llama-cpp-python==$(LLAMA_VERSION) -w $(WHEEL_DIR)
	touch $@

$(STAMP): pyproject.toml $(WHEEL_DIR)/.built | $(PY)
	$(PY) -m pip install -q --disable-pip-version-check $(WHEEL_DIR)/llama_cpp_python-$(LLAMA_VERSION)-*.whl
	$(PY) -m pip install -q --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install -q --disable-pip-version-check --find-links $(WHEEL_DIR) -e '.[server,dev,finetune,mcp]'
	touch $@

install: $(STAMP)

demo: install
	$(KB) models fetch $(DEMO_MODEL)
	$(KB) init vault
	$(KB) --vault vault --model $(DEMO_MODEL) compile
	$(KB) --vault vault status

# The fast suite and a real-model smoke test with the small model (tests/test_smoke_model.py);
# `make test-all` adds the long real-model runs marked `slow` (and the default model they need).
test: install
	$(KB) models fetch $(TEST_MODEL)
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

test-all: install
	$(KB) models fetch $(TEST_MODEL) $(DEMO_MODEL)
	$(PY) -m pytest -q $(PYTEST_ARGS)

bench: install
	$(KB) models fetch $(TEST_MODEL) $(DEMO_MODEL)
	$(PY) bench/engine.py

# marp-cli (npm) and Debian's Chromium: the deck test in tests/test_render.py renders a deck with
# them and checks no text runs off a slide; without them it skips.
MARP_PREFIX ?= $(HOME)/.cache/kb/marp
marp:
	command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium)
	test -x $(MARP_PREFIX)/node_modules/.bin/marp || \
	  npm install --no-audit --no-fund --prefix $(MARP_PREFIX) @marp-team/marp-cli@4

clean:
	rm -rf $(VENV) vault/wiki vault/.kb vault/.obsidian vault/index.md vault/log.md
