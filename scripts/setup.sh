#!/usr/bin/env bash
# Set up h2cm in a virtual environment (.venv) from the project's own files.
# torch is installed first as the pinned CPU build so that no CUDA packages are pulled in.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e ".[dev,ray,tune,cf]"
# the CF checker (extra cf) needs the udunits2 C library; its tests skip cleanly without it
if ! ldconfig -p 2>/dev/null | grep -q libudunits2; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get install -y -q libudunits2-0 >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q libudunits2-0 >/dev/null 2>&1; }) \
      || echo "libudunits2-0 not installed: the CF checker test will be skipped"
  else
    echo "no udunits2 library: install it (e.g. apt-get install libudunits2-0) to run the CF checker test"
  fi
fi
echo "h2cm installed in .venv ($(.venv/bin/h2cm --version))"
