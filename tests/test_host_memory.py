"""Freed CPU tensor buffers are reused from the heap: a loop that allocates and frees
multi-megabyte tensors stops page-faulting once it has warmed up."""

import os
import subprocess
import sys

import numpy as np
import pytest

SCRIPT = """
import resource, numpy as np, qilin
x = qilin.tensor(np.ones((1024, 1024), np.float32))
for _ in range(3):
    y = (x * 2 + 1).sum()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    y = (x * 2 + 1).sum()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(environment: dict) -> int:
    env = {**os.environ, **environment}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, check=True
    )
    return int(result.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc tuning")
def test_freed_buffers_are_reused_without_page_faults():
    # 4 MiB temporaries: glibc's default hands them back with munmap (faulting ~1,000 pages
    # per temporary); with qilin's thresholds the loop is (nearly) fault-free.
    tuned = _faults({})
    system = _faults({"QILIN_HOST_ALLOCATOR": "system"})
    assert tuned < 100, tuned
    assert system > 10 * max(tuned, 1), (tuned, system)


def test_results_are_unaffected():
    import qilin

    a = np.random.default_rng(0).standard_normal((700, 900)).astype(np.float32)
    np.testing.assert_allclose((qilin.tensor(a) * 2 + 1).numpy(), a * 2 + 1)
