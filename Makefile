# Two commands on a fresh machine: `make run` and `make test`. Everything else is for developers.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORPUS ?=
COLLECTION ?= demo
HOST ?= 127.0.0.1
PORT ?= 8000

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install run test test-fast bench lint clean

# torch==2.13.0 first: a CPU wheel lies on disk; any other spec pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,onnx,openvino,postgres]' --config-settings editable_mode=compat
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/latent index $(CORPUS) --collection $(COLLECTION)
	@echo "Search page: http://$(HOST):$(PORT)/ui?collection=$(COLLECTION)   API docs: http://$(HOST):$(PORT)/docs"
	$(BIN)/latent serve --host $(HOST) --port $(PORT)

test: install
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-fast: install
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not slow and not browser and not postgres"

bench: install
	$(BIN)/python bench/indexing.py --json
	$(BIN)/python bench/encode.py
	$(BIN)/python bench/search.py
	$(BIN)/python bench/ann.py
	$(BIN)/python bench/maps.py
	$(BIN)/python bench/vae.py

lint: install
	$(BIN)/ruff check latent indexer service migrations tests bench
	$(BIN)/ruff format --check latent indexer service migrations tests bench
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .latent .pytest_cache
