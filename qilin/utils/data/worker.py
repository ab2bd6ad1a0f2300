"""Worker processes for DataLoader(num_workers > 0).

The main process sends (task number, index group) to each worker's own queue, round robin,
keeping at most prefetch_factor tasks per worker outstanding; workers fetch and collate, and
put (task number, batch) on one shared result queue. The main process yields batches in task
order, re-raises a worker's exception with its traceback text, raises when a worker dies or a
batch takes longer than `timeout`, and joins every worker when the epoch ends or the iterator
is dropped.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import queue
import random
import sys
import traceback

import numpy as np

from ... import random as qilin_random
from ... import threads as qilin_threads

__all__ = ["WorkerInfo", "get_worker_info", "MultiProcessIterator"]

# How often a waiting process wakes up to check that its peer is still alive (seconds).
_POLL_INTERVAL = 1.0
# Environment variables that cap the threads of the BLAS libraries NumPy may use.
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclasses.dataclass(frozen=True)
class WorkerInfo:
    """What a worker knows about itself: get_worker_info() returns it inside a worker."""

    id: int
    num_workers: int
    seed: int
    dataset: object


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """This worker's WorkerInfo, or None in the main process."""
    return _worker_info


@dataclasses.dataclass
class _WorkerFailure:
    """An exception raised in a worker, carried back as its type and traceback text (the
    exception itself may not pickle)."""

    worker_id: int
    exception_type: type
    traceback_text: str

    def reraise(self):
        message = (
            f"Caught {self.exception_type.__name__} in DataLoader worker process "
            f"{self.worker_id}.\nOriginal {self.traceback_text}"
        )
        try:
            error = self.exception_type(message)
        except Exception:
            # Exception types whose constructor wants other arguments.
            error = RuntimeError(message)
        raise error


@dataclasses.dataclass
class _StreamEnded:
    """An iterable dataset's copy in this worker has no more batches."""

    worker_id: int


def _limit_blas_threads() -> None:
    for name in _THREAD_VARIABLES:
        os.environ[name] = "1"
    qilin_threads.set_num_threads(1)


def _seed_worker(seed: int) -> None:
    random.seed(seed)
    qilin_random.manual_seed(seed)
    np.random.seed(np.random.SeedSequence(seed).generate_state(4))


def _new_fetcher(dataset, fetch_options: dict):
    from .dataloader import Fetcher  # dataloader imports this module lazily

    return Fetcher(
        dataset,
        fetch_options["auto_collation"],
        fetch_options["collate_fn"],
        fetch_options["drop_last"],
        fetch_options["iterable"],
    )


def _worker_loop(worker_id, num_workers, seed, dataset, fetch_options, tasks, results, parent):
    """A worker's whole life: seed, init, then fetch tasks until told to stop (None) or the
    parent process is gone."""
    global _worker_info
    _limit_blas_threads()
    _seed_worker(seed)
    _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
    init_failure = None
    try:
        if fetch_options["worker_init_fn"] is not None:
            fetch_options["worker_init_fn"](worker_id)
        fetcher = _new_fetcher(dataset, fetch_options)
    except Exception:
        init_failure = _WorkerFailure(worker_id, sys.exc_info()[0], traceback.format_exc())
    while True:
        try:
            task = tasks.get(timeout=_POLL_INTERVAL)
        except queue.Empty:
            if os.getppid() != parent:
                return
            continue
        if task is None:
            return
        number, request = task
        if number is None:  # a new epoch for a persistent worker
            fetcher = _new_fetcher(dataset, fetch_options)
            continue
        if init_failure is not None:
            results.put((number, init_failure))
            continue
        try:
            batch = fetcher.fetch(request)
        except StopIteration:
            batch = _StreamEnded(worker_id)
        except Exception:
            batch = _WorkerFailure(worker_id, sys.exc_info()[0], traceback.format_exc())
        results.put((number, batch))


class MultiProcessIterator:
    """One epoch over a DataLoader with worker processes (reset() starts the next epoch when
    the workers persist)."""

    def __init__(self, loader):
        # Settings are copied rather than the loader kept: a loader holds its persistent
        # iterator, and a reference cycle would delay the workers' shutdown until gc runs.
        self._index_sampler = loader._index_sampler
        try:
            self._length = len(loader)
        except TypeError:  # an iterable dataset without __len__
            self._length = None
        self._iterable = loader._is_iterable
        self._prefetch_factor = loader.prefetch_factor
        self._timeout = loader.timeout
        self._persistent = loader.persistent_workers
        self._context = _context(loader.multiprocessing_context)
        self._results = self._context.Queue()
        self._tasks = []
        self._workers = []
        self._start_workers(loader, loader._base_seed())
        self._begin_epoch()

    def _start_workers(self, loader, base_seed: int) -> None:
        fetch_options = {
            "auto_collation": loader._auto_collation,
            "collate_fn": loader.collate_fn,
            "drop_last": loader.drop_last,
            "iterable": loader._is_iterable,
            "worker_init_fn": loader.worker_init_fn,
        }
        saved = {name: os.environ.get(name) for name in _THREAD_VARIABLES}
        try:
            # Children started by spawn/forkserver read these before they import NumPy.
            os.environ.update(dict.fromkeys(_THREAD_VARIABLES, "1"))
            for worker_id in range(loader.num_workers):
                tasks = self._context.Queue()
                arguments = (worker_id, loader.num_workers, base_seed + worker_id, loader.dataset)
                process = self._context.Process(
                    target=_worker_loop,
                    args=(*arguments, fetch_options, tasks, self._results, os.getpid()),
                    daemon=True,
                )
                process.start()
                self._tasks.append(tasks)
                self._workers.append(process)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def _begin_epoch(self) -> None:
        self._requests = iter(self._index_sampler)
        self._next_task = 0  # number of the next task to send
        self._next_yield = 0  # number of the next batch to return
        self._waiting = {}  # task number -> worker id, for tasks sent and not yet returned
        self._arrived = {}  # task number -> batch, for batches that came early
        self._active = list(range(len(self._workers)))  # workers whose stream has not ended
        self._turn = 0
        self._finished = False
        for _ in range(self._prefetch_factor * len(self._workers)):
            self._send_task()

    def reset(self) -> None:
        """Start another epoch on the same (persistent) workers."""
        while self._waiting:  # results of an epoch left unfinished would arrive late
            self._receive()
        if self._iterable:
            for tasks in self._tasks:
                tasks.put((None, None))  # each worker restarts its dataset iterator
        self._begin_epoch()

    def __iter__(self):
        return self

    def __len__(self) -> int:
        if self._length is None:
            raise TypeError("this DataLoader's sampler has no len()")
        return self._length

    def _send_task(self) -> None:
        if not self._active:
            return
        try:
            request = next(self._requests)
        except StopIteration:
            return
        worker_id = self._active[self._turn % len(self._active)]
        self._turn += 1
        self._tasks[worker_id].put((self._next_task, request))
        self._waiting[self._next_task] = worker_id
        self._next_task += 1

    def __next__(self):
        while True:
            if self._finished:
                raise StopIteration
            if self._next_yield >= self._next_task:
                self._end_epoch()
                raise StopIteration
            if self._next_yield not in self._arrived:
                self._receive()
                continue
            batch = self._arrived.pop(self._next_yield)
            self._next_yield += 1
            if isinstance(batch, _StreamEnded):
                self._stream_ended(batch.worker_id)
                continue
            self._send_task()
            if isinstance(batch, _WorkerFailure):
                self._shutdown()
                batch.reraise()
            return batch

    def _stream_ended(self, worker_id: int) -> None:
        if worker_id in self._active:
            self._active.remove(worker_id)
        # Tasks already queued for that worker come back as _StreamEnded too; the
        # request it used goes to the next active worker.
        self._send_task()

    def _receive(self) -> None:
        """Wait for one result, checking the workers' health and the loader's timeout."""
        timeout = self._timeout
        waited = 0.0
        while True:
            interval = _POLL_INTERVAL if timeout <= 0 else min(_POLL_INTERVAL, timeout - waited)
            try:
                number, batch = self._results.get(timeout=max(interval, 0.01))
                break
            except queue.Empty:
                waited += interval
                dead = [p.pid for p in self._workers if not p.is_alive()]
                if dead:
                    self._shutdown()
                    pids = ", ".join(str(pid) for pid in dead)
                    raise RuntimeError(
                        f"DataLoader worker (pid(s) {pids}) exited unexpectedly"
                    ) from None
                if timeout > 0 and waited >= timeout:
                    self._shutdown()
                    raise RuntimeError(f"DataLoader timed out after {timeout} seconds") from None
        self._waiting.pop(number, None)
        self._arrived[number] = batch

    def _end_epoch(self) -> None:
        self._finished = True
        if not self._persistent:
            self._shutdown()

    def _shutdown(self) -> None:
        self._finished = True
        workers, self._workers = self._workers, []
        for tasks in self._tasks:
            try:
                tasks.put(None)
            except (OSError, ValueError):
                pass
        for process in workers:
            process.join(timeout=5.0)
            if process.is_alive():
                process.terminate()
                process.join()
        for tasks in self._tasks:
            tasks.cancel_join_thread()
            tasks.close()
        self._tasks = []
        self._results.cancel_join_thread()
        self._results.close()

    def __del__(self):
        if getattr(self, "_workers", None):
            self._shutdown()


def _context(name):
    if name is None:
        return multiprocessing.get_context()
    if isinstance(name, str):
        return multiprocessing.get_context(name)
    return name
