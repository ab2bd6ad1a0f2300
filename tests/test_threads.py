"""qilin.set_num_threads / get_num_threads size the BLAS pool, as torch's do."""

import numpy as np
import pytest

import qilin


def test_set_and_get_num_threads_round_trip():
    before = qilin.get_num_threads()
    try:
        qilin.set_num_threads(1)
        assert qilin.get_num_threads() == 1
        a = np.random.default_rng(0).standard_normal((64, 48))
        np.testing.assert_allclose((qilin.tensor(a) @ qilin.tensor(a.T)).numpy(), a @ a.T)
    finally:
        qilin.set_num_threads(before)
    assert qilin.get_num_threads() == before


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "2"])
def test_set_num_threads_rejects_non_positive_integers(bad):
    with pytest.raises(ValueError, match=f"positive integer number of threads, got {bad!r}"):
        qilin.set_num_threads(bad)


def test_interop_threads_are_recorded():
    qilin.set_num_interop_threads(3)
    assert qilin.get_num_interop_threads() == 3
    with pytest.raises(ValueError, match="positive integer"):
        qilin.set_num_interop_threads(0)
    qilin.set_num_interop_threads(1)
