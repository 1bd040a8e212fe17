"""``deterministic: true``: one machine reproduces a run bit for bit (docs/training.md#determinism).

Measured on the 2-core CI machine (hybrid, 3 epochs, one made-up tower, same seed, separate
processes): eager runs identical with 1 and 2 threads and with each other; compiled runs identical
with each other; compiled and eager differ. Compiled day blocks are TorchInductor kernels generated
for the CPU they run on, so their last bits follow the machine; deterministic runs are eager. No
setting makes two different machines (CPU instruction set, BLAS or torch build) agree bit for bit.
"""

from __future__ import annotations

import os

import torch


def set_deterministic(threads: int) -> None:
    """Deterministic kernels only (an error names any operation without one), a fixed number of
    CPU threads, cuDNN without autotuning, and the cuBLAS workspace setting CUDA needs for it."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(int(threads))
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
