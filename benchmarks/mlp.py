"""A 4-layer MLP, forward + backward, qilin vs torch: time per step and peak step memory.

    python benchmarks/mlp.py

Same initial weights and data on both sides. Time: median over repeated steps, the two
frameworks alternating. Memory: each framework runs in its own subprocess; the kernel's peak
resident-set counter is reset after setup, so the figure is the extra memory one step needs.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from common import load, median_seconds, peak_resident_bytes, reset_peak, resident_bytes, table

WIDTHS = (784, 512, 512, 256, 10)


def weights():
    rng = np.random.default_rng(0)
    return [
        ((rng.standard_normal((i, o)) / np.sqrt(i)).astype(np.float32), np.zeros(o, np.float32))
        for i, o in zip(WIDTHS, WIDTHS[1:])
    ]


def make_step(lib, batch: int):
    rng = np.random.default_rng(1)
    x = lib.tensor(rng.standard_normal((batch, WIDTHS[0])).astype(np.float32))
    params = [
        (lib.tensor(w, requires_grad=True), lib.tensor(b, requires_grad=True)) for w, b in weights()
    ]

    def step():
        h = x
        for i, (w, b) in enumerate(params):
            h = h @ w + b
            if i < len(params) - 1:
                h = h.relu()
        loss = (h * h).mean()
        for w, b in params:
            w.grad = b.grad = None
        loss.backward()
        return loss

    return step


def measure_memory(name: str, batch: int) -> int:
    """Run in a child process: the peak resident memory that 5 steps add to the set-up model
    (activations, gradients and the framework's working memory, first step included)."""
    lib = load(name)
    step = make_step(lib, batch)
    baseline = resident_bytes()
    reset_peak()
    for _ in range(5):
        step()
    return peak_resident_bytes() - baseline


def main() -> None:
    torch, qilin = load("torch"), load("qilin")
    rows = []
    for batch in (1, 256):
        steps = {"qilin": make_step(qilin, batch), "torch": make_step(torch, batch)}
        losses = {k: f().item() for k, f in steps.items()}
        assert abs(losses["qilin"] - losses["torch"]) < 1e-4 * max(1, abs(losses["torch"])), losses
        times = {k: [] for k in steps}
        for _ in range(3):
            for name, step in steps.items():
                times[name].append(median_seconds(step, repeat=5))
        memory = {}
        for name in steps:
            output = subprocess.run(
                [sys.executable, __file__, "--memory", name, str(batch)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            memory[name] = json.loads(output)
        q, t = min(times["qilin"]), min(times["torch"])
        rows.append(
            (
                batch,
                f"{q * 1e3:.3f}",
                f"{t * 1e3:.3f}",
                f"{q / t:.2f}",
                f"{memory['qilin'] / 2**20:.1f}",
                f"{memory['torch'] / 2**20:.1f}",
                f"{memory['qilin'] / max(memory['torch'], 1):.2f}",
            )
        )
    print(
        table(
            f"MLP {WIDTHS} forward+backward (float32)",
            ("batch", "qilin ms", "torch ms", "ratio", "qilin MiB", "torch MiB", "mem ratio"),
            rows,
        )
    )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--memory":
        print(json.dumps(measure_memory(sys.argv[2], int(sys.argv[3]))))
    else:
        main()
