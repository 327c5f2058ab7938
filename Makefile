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
$(STAMP): pyproject.toml client/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,onnx,openvino,postgres,ray]' --config-settings editable_mode=compat
	$(BIN)/pip install --quiet --disable-pip-version-check -e ./client --config-settings editable_mode=compat
	touch $(STAMP)

install: $(STAMP)

# cluster/map --if-missing: the first run fits them so /ui opens on a labelled map; a rerun does not refit.
run: install
	$(BIN)/latent index $(CORPUS) --collection $(COLLECTION)
	$(BIN)/latent cluster --collection $(COLLECTION) --if-missing
	$(BIN)/latent map --collection $(COLLECTION) --if-missing
	@echo "Map page: http://$(HOST):$(PORT)/ui?collection=$(COLLECTION)   API docs: http://$(HOST):$(PORT)/docs"
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
	$(BIN)/ruff check latent indexer service migrations tests bench client
	$(BIN)/ruff format --check latent indexer service migrations tests bench client
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .latent .pytest_cache
