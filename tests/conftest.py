"""Test-wide settings: every primitive's output is checked against its meta rule, and each
parallel test worker keeps to one BLAS thread (two workers with two spinning BLAS threads
each on two cores run matmuls many times slower)."""

import os

import numpy as np
import pytest

import qilin
from qilin import dispatch

dispatch.set_verify(True)

if os.environ.get("PYTEST_XDIST_WORKER"):
    qilin.set_num_threads(1)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


@pytest.fixture(autouse=True)
def _seed_and_defaults():
    qilin.manual_seed(0)
    np.random.seed(0)
    qilin.set_default_dtype(qilin.float32)
    yield
    qilin.set_default_dtype(qilin.float32)
