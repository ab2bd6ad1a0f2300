"""Eager per-op overhead: qilin vs torch on tiny tensors, where the dispatcher dominates.

    python benchmarks/eager_overhead.py

Same shapes and values on both sides, alternating measurements, the fastest run of each
(noise on a shared machine only adds time); the ratio is
qilin time / torch time (lower is better; 1.0 means parity).
"""

from __future__ import annotations

import numpy as np
import torch
from common import best_seconds, table

import qilin

torch.set_num_threads(1)


def cases(lib, requires_grad: bool):
    rng = np.random.default_rng(0)
    a = lib.tensor(rng.standard_normal((8, 8)).astype(np.float32), requires_grad=requires_grad)
    b = lib.tensor(rng.standard_normal((8, 8)).astype(np.float32), requires_grad=requires_grad)
    small = lib.tensor(rng.standard_normal(16).astype(np.float32), requires_grad=requires_grad)
    return {
        "add (16)": lambda: small + small,
        "mul (16)": lambda: small * small,
        "add scalar (16)": lambda: small + 1.0,
        "matmul 8x8": lambda: a @ b,
        "sum (8x8)": lambda: a.sum(),
        "relu (8x8)": lambda: a.relu(),
        "reshape (8x8)": lambda: a.reshape(64),
        "index a[1:3]": lambda: a[1:3],
    }


def main() -> None:
    rows = []
    for requires_grad in (False, True):
        ours, theirs = cases(qilin, requires_grad), cases(torch, requires_grad)
        for name in ours:
            times = {"qilin": [], "torch": []}
            for _ in range(5):  # alternate to share any drift in machine load
                times["qilin"].append(best_seconds(ours[name]))
                times["torch"].append(best_seconds(theirs[name]))
            q, t = min(times["qilin"]), min(times["torch"])
            rows.append(
                (
                    name,
                    "yes" if requires_grad else "no",
                    f"{q * 1e6:.2f}",
                    f"{t * 1e6:.2f}",
                    f"{q / t:.2f}",
                )
            )
    print(
        table(
            "eager per-op time (µs per call, fastest of 15 runs x 5 alternating rounds)",
            ("op", "grad", "qilin", "torch", "ratio"),
            rows,
        )
    )


if __name__ == "__main__":
    main()
