"""Test-wide settings: every primitive's output is checked against its meta rule."""

import numpy as np
import pytest

import qilin
from qilin import dispatch

dispatch.set_verify(True)


@pytest.fixture(autouse=True)
def _seed_and_defaults():
    qilin.manual_seed(0)
    np.random.seed(0)
    qilin.set_default_dtype(qilin.float32)
    yield
    qilin.set_default_dtype(qilin.float32)
