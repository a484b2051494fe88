# The two commands a newcomer runs (see README): `make demo` and `make test`.
# Both create .venv when needed, install torch first (TORCH_SPEC, default torch==2.13.0,
# skipped when the interpreter already imports torch), then the project, then run.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
DEMO_OUT ?= demo_output
BIN := $(VENV)/bin
STAMP := $(VENV)/.medseg-installed

.PHONY: demo test test-slow bench lint screenshots install clean

$(STAMP): pyproject.toml scripts/bootstrap.sh
	PYTHON="$(PYTHON)" VENV="$(VENV)" TORCH_SPEC="$(TORCH_SPEC)" bash scripts/bootstrap.sh
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/medsegtrain demo --out $(DEMO_OUT)

# The fast suite runs on up to 4 cores (pytest-xdist, one test file per worker; the stand-in driver
# starts first, see Testing/conftest.py); `make test PYTEST_JOBS=0` runs it in one process.
PYTEST_JOBS ?= auto
test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -m "not slow and not benchmark" --ignore=Testing/benchmarks \
		-n $(PYTEST_JOBS) --maxprocesses=4 --dist loadfile

test-slow: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -m slow --ignore=Testing/benchmarks

# The bench extra (nnunetv2 -> timm -> torchvision) would otherwise upgrade torch to a CUDA build:
# the torch already installed is pinned in the same pip command.
bench: $(STAMP)
	$(BIN)/pip install -q -e ".[bench]" "torch==$$($(BIN)/python -c 'import torch; print(torch.__version__.split("+")[0])')"
	$(BIN)/python -m pytest Testing/benchmarks -m benchmark -s

# Refresh the Slicer-module screenshots the docs show (the GUI tests take them).
screenshots: $(STAMP)
	QT_QPA_PLATFORM=offscreen MEDSEG_SCREENSHOT_DIR=$(CURDIR)/Resources/Screenshots \
		$(BIN)/python -m pytest -m gui Testing/MedSegMixup --ignore=Testing/MedSegMixup/test_in_slicer_standin.py

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) $(DEMO_OUT) build *.egg-info
