# Quick start: `make demo` (set up, then convert and compare the built-in ResNet-18) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: setup demo test zoo clean

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

$(TEST_STAMP): $(STAMP) requirements-test.txt requirements-test-nodeps.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-test-nodeps.txt
	touch $(TEST_STAMP)

setup: $(STAMP)

demo: setup
	$(PY) run_all.py

test: $(TEST_STAMP)
	$(PY) -m pytest -n 2 -q tests

zoo: setup
	$(PY) -m mxconvert.zoo --depth 18 34 50 101 152 --out model_mxnet

clean:
	rm -rf build result model_onnx model_pytorch
