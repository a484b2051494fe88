#!/usr/bin/env bash
# Creates the virtual environment (if missing), installs torch first so that pip never pulls a
# multi-GB CUDA build by accident, then installs MedSegTrain with its test and GUI extras.
set -euo pipefail
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"

if [ ! -x "$VENV/bin/python" ]; then
    echo "[bootstrap] creating virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
"$PY" -m pip install --quiet --upgrade pip
if "$PY" -c "import torch" >/dev/null 2>&1; then
    echo "[bootstrap] torch already importable: $("$PY" -c 'import torch; print(torch.__version__)')"
else
    echo "[bootstrap] installing $TORCH_SPEC"
    "$PY" -m pip install --quiet "$TORCH_SPEC"
fi
echo "[bootstrap] installing MedSegTrain[dev]"
"$PY" -m pip install --quiet -e ".[dev]"
