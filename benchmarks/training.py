"""Training throughput and peak step memory of the five workloads, qilin vs torch.

    python benchmarks/training.py [substring of a workload name ...]

Both frameworks run the same model code (workloads.py) from the same initial weights (torch's,
copied into qilin) on the same batch; the first losses must agree before anything is timed.
Time: median step time, the two frameworks alternating, reported as throughput ratio
qilin / torch (1.0 = as fast as torch, higher is faster). Memory: each framework in its own
subprocess; the kernel's peak resident-set counter is reset once the model is built, so the
figure is what three training steps add: activations, gradients, optimizer state and the
framework's working memory.
"""

from __future__ import annotations

import json
import subprocess
import sys

from common import load, median_seconds, peak_resident_bytes, reset_peak, resident_bytes, table
from workloads import WORKLOADS


def build_pair(builder):
    """The torch workload and the qilin one, the latter loaded with torch's initial state."""
    torch, qilin = load("torch"), load("qilin")
    torch.manual_seed(0)
    reference = builder(torch)
    ours = builder(qilin)
    ours.model.load_state_dict(
        {key: qilin.tensor(value.numpy()) for key, value in reference.model.state_dict().items()}
    )
    return {"qilin": ours, "torch": reference}


def measure_memory(name: str, workload: str) -> int:
    lib = load(name)
    lib.manual_seed(0)
    work = WORKLOADS[workload](lib)
    baseline = resident_bytes()
    reset_peak()
    for _ in range(3):
        work.step()
    return max(peak_resident_bytes() - baseline, 0)


def main(selected: list[str]) -> None:
    rows = []
    for title, builder in WORKLOADS.items():
        if selected and not any(s.lower() in title.lower() for s in selected):
            continue
        pair = build_pair(builder)
        first = {name: work.step().item() for name, work in pair.items()}
        if abs(first["qilin"] - first["torch"]) > 1e-3 * max(1.0, abs(first["torch"])):
            raise AssertionError(f"{title}: first losses differ: {first}")
        times = {name: [] for name in pair}
        for _ in range(3):
            for name, work in pair.items():
                times[name].append(median_seconds(work.step, repeat=5, budget=1.0))
        memory = {}
        for name in pair:
            output = subprocess.run(
                [sys.executable, __file__, "--memory", name, title],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            memory[name] = json.loads(output)
        q, t = min(times["qilin"]), min(times["torch"])
        samples = pair["qilin"].samples
        rows.append(
            (
                title,
                f"{samples / q:.0f}",
                f"{samples / t:.0f}",
                f"{t / q:.2f}",
                f"{memory['qilin'] / 2**20:.1f}",
                f"{memory['torch'] / 2**20:.1f}",
            )
        )
        print(rows[-1], flush=True)
    print(
        table(
            "Training step, float32 (samples/s; speed = qilin throughput / torch throughput)",
            ("workload", "qilin/s", "torch/s", "speed", "qilin MiB", "torch MiB"),
            rows,
        )
    )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--memory":
        print(json.dumps(measure_memory(sys.argv[2], sys.argv[3])))
    else:
        main(sys.argv[1:])
