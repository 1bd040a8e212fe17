"""Test-session settings. Under ``pytest -n N`` (pytest-xdist; CI runs the suite on both cores)
each worker process starts with one torch thread, so that N workers do not oversubscribe the
cores (tests that set a thread count themselves still do)."""

from __future__ import annotations

import os

import torch

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)
