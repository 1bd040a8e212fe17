#!/usr/bin/env bash
# Set up h2cm in a virtual environment (.venv) from the project's own files.
# torch is installed first as the pinned CPU build so that no CUDA packages are pulled in.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e ".[dev,ray,tune]"
echo "h2cm installed in .venv ($(.venv/bin/h2cm --version))"
