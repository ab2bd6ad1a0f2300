"""Shared benchmark helpers: median timings, peak memory of a step, side-by-side tables."""

from __future__ import annotations

import importlib
import os
import statistics
import time


def _samples(function, repeat: int, number: int | None, budget: float) -> list:
    """Mean seconds per call over each of `repeat` runs (calls per run chosen to fill budget)."""
    function()
    if number is None:
        start = time.perf_counter()
        count = 0
        while time.perf_counter() - start < budget / 4:
            function()
            count += 1
        number = max(1, count * 4 // repeat)
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            function()
        samples.append((time.perf_counter() - start) / number)
    return samples


def median_seconds(
    function, *, repeat: int = 7, number: int | None = None, budget: float = 0.2
) -> float:
    """Median of the per-run mean time per call: for steps long enough to be stable."""
    return statistics.median(_samples(function, repeat, number, budget))


def best_seconds(
    function, *, repeat: int = 15, number: int | None = None, budget: float = 0.2
) -> float:
    """Fastest per-run mean time per call: for microsecond ops on a shared machine, where
    noise only ever adds time (timeit's advice)."""
    return min(_samples(function, repeat, number, budget))


def resident_bytes() -> int:
    with open("/proc/self/statm") as handle:
        import os

        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def reset_peak() -> None:
    """Reset the kernel's record of this process's peak resident memory (VmHWM)."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


def peak_resident_bytes() -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("VmHWM not found in /proc/self/status")


def table(title: str, header: tuple, rows: list) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).rjust(w) for c, w in zip(cells, widths))
    return "\n".join(
        [title, line(header), line(["-" * w for w in widths])] + [line(r) for r in rows]
    )


def load(name: str):
    """qilin or torch, each with the same number of CPU threads ($OMP_NUM_THREADS, default 2)."""
    lib = importlib.import_module(name)
    lib.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    return lib
