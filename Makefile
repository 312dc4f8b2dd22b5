# fusionrec: `make demo` sets up and runs the main job; `make test` sets up and runs the checks.
VENV ?= .venv
BIN := $(VENV)/bin
SHARED_DATA := $(abspath ../shared/data)
export FUSIONREC_DATA ?= $(if $(wildcard $(SHARED_DATA)),$(SHARED_DATA),)
export PYTHONHASHSEED := 0

.PHONY: setup demo test lint typecheck pytest benchmark clean

setup:
	bash scripts/setup.sh

demo: setup
	$(BIN)/fusionrec demo

lint: setup
	$(BIN)/ruff check src tests benchmarks experiments
	$(BIN)/ruff format --check src tests benchmarks experiments

typecheck: setup
	$(BIN)/mypy

pytest: setup
	$(BIN)/python scripts/run_pytest.py -m "not slow" -p no:cacheprovider

test: lint typecheck pytest

benchmark: setup
	$(BIN)/fusionrec benchmark --data-dir "$(FUSIONREC_DATA)" --dataset baby --model lightgcn --seeds 3 --json runs/baby-lightgcn.json

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
