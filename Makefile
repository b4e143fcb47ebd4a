# Set-up and entry points. `make demo` and `make test` create .venv (Python >= 3.12)
# and install the pinned stack from constraints.txt when it is missing or stale.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?= -n 2

.PHONY: install install-gpu demo test test-fast bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@set -e; \
	if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
	  PYBIN=""; \
	  for c in python3.12 python3.13 python python3; do \
	    if command -v $$c >/dev/null 2>&1 && $$c -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then PYBIN=$$c; break; fi; \
	  done; \
	  if [ -z "$$PYBIN" ] && [ -x "$$HOME/.pyenv/versions/3.12.1/bin/python" ]; then PYBIN="$$HOME/.pyenv/versions/3.12.1/bin/python"; fi; \
	  if [ -z "$$PYBIN" ]; then echo "error: Python >= 3.12 not found (install it, e.g. with pyenv: the repo's .python-version says 3.12)"; exit 1; fi; \
	  echo "creating $(VENV) with $$($$PYBIN --version)"; \
	  rm -rf $(VENV); $$PYBIN -m venv $(VENV); \
	fi
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'
	@touch $(STAMP)

# JAX with CUDA 12 for backend="numpyro" on an NVIDIA GPU (needs the registry; benchmarks/accelerator.py)
install-gpu: $(STAMP)
	$(PY) -m pip install -q -c constraints.txt "jax[cuda12]"

demo: $(STAMP)
	$(VENV)/bin/glmm-bayes demo

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS) -m "not slow"

bench: $(STAMP)
	$(PY) benchmarks/gradients.py
	$(PY) benchmarks/gradients.py --censored
	$(PY) benchmarks/backends.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
