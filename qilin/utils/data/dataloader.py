"""DataLoader: batches from a dataset through a sampler and a collate function, in this
process (num_workers=0) or in worker processes (see worker.py)."""

from __future__ import annotations

import math

from ... import dtypes
from ... import random as qilin_random
from .collate import default_collate, default_convert
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader"]


class _InfiniteConstantSampler(Sampler):
    """Yields None forever: an iterable dataset is read by next(), not by index."""

    def __iter__(self):
        while True:
            yield None


def _check_options(loader_options: dict) -> None:
    num_workers, timeout = loader_options["num_workers"], loader_options["timeout"]
    if num_workers < 0:
        raise ValueError(
            "num_workers option should be non-negative; use num_workers=0 to disable "
            f"multiprocessing (got num_workers={num_workers})."
        )
    if timeout < 0:
        raise ValueError(f"timeout option should be non-negative, got timeout={timeout}")
    if num_workers == 0 and loader_options["prefetch_factor"] is not None:
        raise ValueError(
            "prefetch_factor option could only be specified in multiprocessing. "
            "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None."
        )
    if loader_options["persistent_workers"] and num_workers == 0:
        raise ValueError("persistent_workers option needs num_workers > 0")


def _check_iterable_options(shuffle, sampler, batch_sampler) -> None:
    for name, value in (("shuffle", shuffle), ("sampler", sampler)):
        if value not in (None, False):
            raise ValueError(
                f"DataLoader with IterableDataset: expected unspecified {name} option, "
                f"but got {name}={value}"
            )
    if batch_sampler is not None:
        raise ValueError(
            "DataLoader with IterableDataset: expected unspecified batch_sampler option, "
            f"but got batch_sampler={batch_sampler}"
        )


class DataLoader:
    """Iterate over `dataset` in batches, as torch.utils.data.DataLoader.

    Map-style datasets are read by index: `sampler` (or shuffle -> RandomSampler, else
    SequentialSampler) gives indices, `batch_size` groups them (or `batch_sampler` gives the
    groups), and `collate_fn` (default_collate) turns each group of samples into a batch.
    batch_size=None turns batching off: each sample goes through default_convert. Iterable
    datasets are read with next(), batch_size samples at a time.

    >>> import qilin
    >>> from qilin.utils.data import DataLoader, TensorDataset
    >>> data = TensorDataset(qilin.arange(5))
    >>> [batch[0].tolist() for batch in DataLoader(data, batch_size=2)]
    [[0, 1], [2, 3], [4]]
    """

    def __init__(
        self,
        dataset,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler=None,
        batch_sampler=None,
        num_workers: int = 0,
        collate_fn=None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn=None,
        multiprocessing_context=None,
        generator=None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
    ):
        _check_options(locals())
        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = 2 if prefetch_factor is None and num_workers > 0 else prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self.generator = generator
        self._is_iterable = isinstance(dataset, IterableDataset)
        if self._is_iterable:
            _check_iterable_options(shuffle, sampler, batch_sampler)
        elif sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with batch_size, shuffle, "
                    "sampler, and drop_last"
                )
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError(
                "batch_size=None option disables auto-batching and is mutually exclusive "
                "with drop_last"
            )
        if sampler is None:
            if self._is_iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        if collate_fn is None:
            collate_fn = default_collate if batch_sampler is not None else default_convert
        self.collate_fn = collate_fn
        self._persistent_iterator = None

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def _base_seed(self) -> int:
        # Drawn once per epoch from the loader's generator (or the default one), as torch
        # does, so worker seeds differ between epochs yet follow qilin.manual_seed.
        sample = qilin_random.randint(
            0, 2**62, (), dtype=dtypes.int64, generator=self.generator
        ).item()
        return int(sample)

    def __iter__(self):
        if self.num_workers == 0:
            return _SingleProcessIterator(self)
        from .worker import MultiProcessIterator

        if not self.persistent_workers:
            return MultiProcessIterator(self)
        if self._persistent_iterator is None:
            self._persistent_iterator = MultiProcessIterator(self)
        else:
            self._persistent_iterator.reset()
        return self._persistent_iterator

    def __len__(self) -> int:
        if not self._is_iterable:
            return len(self._index_sampler)
        length = len(self.dataset)
        if self.batch_size is None:
            return length
        rounding = math.floor if self.drop_last else math.ceil
        return rounding(length / self.batch_size)


class Fetcher:
    """Reads one batch (or one sample, without auto-collation) for an index group."""

    def __init__(self, dataset, auto_collation: bool, collate_fn, drop_last: bool, iterable: bool):
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.stream = iter(dataset) if iterable else None
        self.ended = False

    def fetch(self, request):
        """The batch for `request` (an index list, an index, or None for an iterable dataset);
        StopIteration when an iterable dataset has nothing left."""
        if self.stream is not None:
            return self.collate_fn(self._next_from_stream(request))
        if not self.auto_collation:
            return self.collate_fn(self.dataset[request])
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.collate_fn(self.dataset.__getitems__(request))
        return self.collate_fn([self.dataset[index] for index in request])

    def _next_from_stream(self, request):
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return next(self.stream)
        samples = []
        for _ in request:
            try:
                samples.append(next(self.stream))
            except StopIteration:
                self.ended = True
                break
        if not samples or (self.drop_last and len(samples) < len(request)):
            raise StopIteration
        return samples


class _SingleProcessIterator:
    def __init__(self, loader: DataLoader):
        self._loader = loader
        loader._base_seed()
        self._requests = iter(loader._index_sampler)
        self._fetcher = Fetcher(
            loader.dataset,
            loader._auto_collation,
            loader.collate_fn,
            loader.drop_last,
            loader._is_iterable,
        )

    def __iter__(self):
        return self

    def __next__(self):
        return self._fetcher.fetch(next(self._requests))

    def __len__(self) -> int:
        return len(self._loader)
