"""qilin.utils.data side by side with torch.utils.data.

Datasets, collation, samplers and loaders are built twice from the same NumPy arrays, once with
each library, and their outputs compared (structure, dtypes, values, error messages). Shuffled
orders cannot match torch (the generators differ), so for those the tests check determinism
under a seed and the permutation / disjointness properties instead.
"""

import collections
import os
import time

import numpy as np
import pytest

import qilin
import qilin.utils.data as data

torch = pytest.importorskip("torch")
import torch.utils.data as tdata  # noqa: E402

Point = collections.namedtuple("Point", ["x", "y"])


def plain(value):
    """A batch as nested Python / NumPy values with type tags, comparable across libraries."""
    if isinstance(value, (qilin.Tensor, torch.Tensor)):
        return ("tensor", str(value.dtype).split(".")[-1], value.numpy().tolist())
    if isinstance(value, dict):
        return ("dict", type(value).__name__, {key: plain(item) for key, item in value.items()})
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return ("namedtuple", type(value).__name__, [plain(item) for item in value])
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [plain(item) for item in value])
    return value


def both(make):
    """make(lib, tdata-like module) built for qilin and for torch."""
    return make(qilin, data), make(torch, tdata)


def batches(loader):
    return [plain(batch) for batch in loader]


# ----- datasets ---------------------------------------------------------------------------------
def test_tensor_dataset_matches_torch():
    x, y = np.arange(12.0).reshape(6, 2), np.arange(6)
    ours, theirs = both(lambda lib, mod: mod.TensorDataset(lib.tensor(x), lib.tensor(y)))
    assert len(ours) == len(theirs) == 6
    for index in (0, 3, -1):
        assert plain(ours[index]) == plain(theirs[index])


def test_tensor_dataset_size_mismatch():
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        data.TensorDataset(qilin.zeros(3), qilin.zeros(4))
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        tdata.TensorDataset(torch.zeros(3), torch.zeros(4))


class Squares(data.Dataset):
    def __init__(self, size):
        self.size = size

    def __getitem__(self, index):
        if not 0 <= index < self.size:
            raise IndexError(index)
        return index * index

    def __len__(self):
        return self.size


def test_concat_dataset_and_add():
    ours = Squares(3) + Squares(4)
    theirs = tdata.ConcatDataset([list(range(3)), list(range(4))])
    assert isinstance(ours, data.ConcatDataset)
    assert ours.cumulative_sizes == theirs.cumulative_sizes == [3, 7]
    assert [ours[i] for i in range(-7, 7)] == [v * v for v in [theirs[i] for i in range(-7, 7)]]
    with pytest.raises(ValueError, match="absolute value of index"):
        ours[-8]
    with pytest.raises(AssertionError, match="empty iterable"):
        data.ConcatDataset([])


def test_subset_and_random_split_lengths():
    dataset = Squares(10)
    subset = data.Subset(dataset, [4, 1, 7])
    assert [subset[i] for i in range(3)] == [16, 1, 49] and len(subset) == 3
    parts = data.random_split(dataset, [3, 7], generator=qilin.Generator().manual_seed(1))
    again = data.random_split(dataset, [3, 7], generator=qilin.Generator().manual_seed(1))
    assert [len(p) for p in parts] == [3, 7]
    assert parts[0].indices == again[0].indices
    assert sorted(parts[0].indices + parts[1].indices) == list(range(10))


@pytest.mark.parametrize("fractions", [[0.3, 0.7], [0.33, 0.33, 0.34], [0.5, 0.25, 0.25]])
def test_random_split_fractions_match_torch_lengths(fractions):
    for size in (10, 11, 7):
        ours = data.random_split(Squares(size), fractions)
        theirs = tdata.random_split(range(size), fractions)
        assert [len(p) for p in ours] == [len(p) for p in theirs]


def test_random_split_errors_and_default_generator():
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        data.random_split(Squares(5), [2, 2])
    qilin.manual_seed(3)
    first = data.random_split(Squares(8), [4, 4])[0].indices
    qilin.manual_seed(3)
    assert data.random_split(Squares(8), [4, 4])[0].indices == first


# ----- collate ----------------------------------------------------------------------------------
def _samples(lib):
    return [
        {
            "image": lib.tensor(np.full((2, 2), float(i), dtype=np.float32)),
            "label": i,
            "weight": 0.5 * i,
            "flag": i % 2 == 0,
            "name": f"s{i}",
            "array": np.arange(3, dtype=np.int16) + i,
            "scalar": np.float32(i),
            "pair": (i, [float(i), lib.tensor([i])]),
            "point": Point(i, float(i)),
        }
        for i in range(3)
    ]


def test_default_collate_matches_torch():
    ours = data.default_collate(_samples(qilin))
    theirs = tdata.default_collate(_samples(torch))
    assert plain(ours) == plain(theirs)


def test_default_collate_numbers_dtypes():
    assert data.default_collate([1, 2]).dtype == qilin.int64
    assert data.default_collate([1.0, 2.0]).dtype == qilin.float64
    assert data.default_collate([True, False]).dtype == qilin.bool
    assert plain(data.default_collate([np.int32(1), np.int32(2)])) == plain(
        tdata.default_collate([np.int32(1), np.int32(2)])
    )


def test_default_collate_errors_match_torch():
    for bad in ([object(), object()], [np.array(["a"]), np.array(["b"])], [1j, 2j]):
        with pytest.raises(TypeError) as theirs:
            tdata.default_collate(bad)
        with pytest.raises(TypeError) as ours:
            data.default_collate(bad)
        assert str(ours.value).replace("qilin", "torch") == str(theirs.value)
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal"):
        data.default_collate([[1, 2], [1]])


def test_default_convert_matches_torch():
    def sample(lib):
        return {"a": np.arange(3.0), "b": (np.int64(4), "text"), "c": [np.array(["x"])]}

    ours = data.default_convert(sample(qilin))
    theirs = tdata.default_convert(sample(torch))
    assert ours["b"][1] == "text" and isinstance(ours["c"][0], np.ndarray)
    assert plain({k: v for k, v in ours.items() if k != "c"}) == plain(
        {k: v for k, v in theirs.items() if k != "c"}
    )


# ----- samplers ---------------------------------------------------------------------------------
def test_sequential_and_batch_sampler_match_torch():
    for size, batch, drop in [(10, 3, False), (10, 3, True), (9, 3, True), (2, 5, False)]:
        ours = data.BatchSampler(data.SequentialSampler(range(size)), batch, drop)
        theirs = tdata.BatchSampler(tdata.SequentialSampler(range(size)), batch, drop)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)
    with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
        data.BatchSampler(range(3), 0, False)


@pytest.mark.parametrize("num_samples", [None, 4, 23])
def test_random_sampler_permutations(num_samples):
    sampler = data.RandomSampler(range(10), num_samples=num_samples)
    drawn = list(sampler)
    expected = 10 if num_samples is None else num_samples
    assert len(drawn) == len(sampler) == expected
    for start in range(0, expected - expected % 10, 10):
        assert sorted(drawn[start : start + 10]) == list(range(10))
    assert len(set(drawn[expected - expected % 10 :])) == expected % 10


def test_random_sampler_determinism_and_replacement():
    generator = qilin.Generator().manual_seed(5)
    first = list(data.RandomSampler(range(50), generator=generator))
    generator.manual_seed(5)
    assert list(data.RandomSampler(range(50), generator=generator)) == first
    qilin.manual_seed(2)
    one = list(data.RandomSampler(range(50)))
    two = list(data.RandomSampler(range(50)))
    qilin.manual_seed(2)
    assert list(data.RandomSampler(range(50))) == one and one != two
    drawn = list(data.RandomSampler(range(5), replacement=True, num_samples=100))
    assert len(drawn) == 100 and set(drawn) <= set(range(5)) and len(set(drawn)) == 5
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        data.RandomSampler(range(3), num_samples=0)


def test_subset_and_weighted_samplers():
    indices = [3, 8, 1, 9]
    assert sorted(data.SubsetRandomSampler(indices)) == sorted(indices)
    weights = [0.0, 1.0, 0.0, 3.0]
    drawn = list(data.WeightedRandomSampler(weights, 400))
    assert set(drawn) == {1, 3} and 0.65 < drawn.count(3) / 400 < 0.85
    unique = list(data.WeightedRandomSampler([1.0, 1.0, 1.0], 3, replacement=False))
    assert sorted(unique) == [0, 1, 2]


@pytest.mark.parametrize("size,replicas", [(10, 3), (12, 4), (5, 8), (7, 2)])
@pytest.mark.parametrize("drop_last", [False, True])
def test_distributed_sampler_unshuffled_matches_torch(size, replicas, drop_last):
    for rank in range(replicas):
        kwargs = dict(num_replicas=replicas, rank=rank, shuffle=False, drop_last=drop_last)
        ours = data.DistributedSampler(range(size), **kwargs)
        theirs = tdata.DistributedSampler(range(size), **kwargs)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)


def test_distributed_sampler_shuffle_properties():
    def shares(epoch, seed=0):
        result = []
        for rank in range(3):
            sampler = data.DistributedSampler(range(10), num_replicas=3, rank=rank, seed=seed)
            sampler.set_epoch(epoch)
            result.append(list(sampler))
        return result

    epoch0 = shares(0)
    assert epoch0 == shares(0) and epoch0 != shares(1) and epoch0 != shares(0, seed=1)
    flat = [index for share in epoch0 for index in share]
    assert len(flat) == 12 and set(flat) == set(range(10))  # two indices repeated as padding
    with pytest.raises(
        ValueError, match=r"Invalid rank 3, rank should be in the interval \[0, 2\]"
    ):
        data.DistributedSampler(range(10), num_replicas=3, rank=3)


# ----- DataLoader, one process ------------------------------------------------------------------
def _xy(lib):
    x = np.arange(40, dtype=np.float32).reshape(10, 4)
    return lib.tensor(x), lib.tensor(np.arange(10))


@pytest.mark.parametrize(
    "options",
    [
        dict(batch_size=3),
        dict(batch_size=3, drop_last=True),
        dict(batch_size=None),
        dict(batch_size=4, sampler=[9, 1, 5, 0, 2]),
        dict(batch_sampler=[[0, 1], [7], [3, 4, 5]]),
        dict(batch_size=2, collate_fn=lambda samples: len(samples)),
    ],
)
def test_loader_matches_torch(options):
    ours = data.DataLoader(data.TensorDataset(*_xy(qilin)), **options)
    theirs = tdata.DataLoader(tdata.TensorDataset(*_xy(torch)), **options)
    assert batches(ours) == batches(theirs)
    assert len(ours) == len(theirs)


class Stream(data.IterableDataset):
    def __init__(self, size):
        self.size = size

    def __iter__(self):
        info = data.get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter({"value": i, "half": i / 2} for i in range(start, self.size, step))

    def __len__(self):
        return self.size


class TorchStream(tdata.IterableDataset):
    def __init__(self, size):
        self.size = size

    def __iter__(self):
        return iter({"value": i, "half": i / 2} for i in range(self.size))

    def __len__(self):
        return self.size


@pytest.mark.parametrize(
    "options", [dict(batch_size=3), dict(batch_size=3, drop_last=True), dict(batch_size=None)]
)
def test_iterable_loader_matches_torch(options):
    ours = data.DataLoader(Stream(8), **options)
    theirs = tdata.DataLoader(TorchStream(8), **options)
    assert batches(ours) == batches(theirs) and len(ours) == len(theirs)


def test_loader_shuffle_is_seeded_permutation():
    dataset = data.TensorDataset(*_xy(qilin))
    qilin.manual_seed(4)
    first = [b[1].tolist() for b in data.DataLoader(dataset, batch_size=3, shuffle=True)]
    second = [b[1].tolist() for b in data.DataLoader(dataset, batch_size=3, shuffle=True)]
    qilin.manual_seed(4)
    again = [b[1].tolist() for b in data.DataLoader(dataset, batch_size=3, shuffle=True)]
    assert first == again and first != second
    assert sorted(sum(first, [])) == list(range(10)) and [len(b) for b in first] == [3, 3, 3, 1]
    loader = data.DataLoader(
        dataset, batch_size=3, shuffle=True, generator=qilin.Generator().manual_seed(1)
    )
    epochs = [[b[1].tolist() for b in loader] for _ in range(2)]
    assert epochs[0] != epochs[1]  # the loader's generator moves on between epochs


@pytest.mark.parametrize(
    "options,message",
    [
        (dict(num_workers=-1), "num_workers option should be non-negative"),
        (dict(timeout=-1), "timeout option should be non-negative"),
        (dict(sampler=[0], shuffle=True), "sampler option is mutually exclusive with shuffle"),
        (dict(batch_sampler=[[0]], batch_size=2), "batch_sampler option is mutually exclusive"),
        (dict(batch_size=None, drop_last=True), "disables auto-batching"),
        (dict(persistent_workers=True), "persistent_workers option needs num_workers > 0"),
        (dict(prefetch_factor=2), "prefetch_factor option could only be specified"),
    ],
)
def test_loader_option_errors_match_torch(options, message):
    with pytest.raises(ValueError, match=message):
        tdata.DataLoader(list(range(3)), **options)
    with pytest.raises(ValueError, match=message):
        data.DataLoader(Squares(3), **options)


def test_iterable_loader_rejects_shuffle():
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        data.DataLoader(Stream(3), shuffle=True)


# ----- DataLoader, worker processes -------------------------------------------------------------
class Failing(data.Dataset):
    def __getitem__(self, index):
        if index == 5:
            raise ValueError(f"bad sample {index}")
        return index

    def __len__(self):
        return 8


class Dying(data.Dataset):
    def __getitem__(self, index):
        if index == 3:
            os._exit(1)
        return index

    def __len__(self):
        return 8


class Slow(data.Dataset):
    def __getitem__(self, index):
        time.sleep(1.5)
        return index

    def __len__(self):
        return 2


class WorkerIds(data.Dataset):
    def __getitem__(self, index):
        info = data.get_worker_info()
        return [index, info.id, info.num_workers, os.environ.get("OMP_NUM_THREADS")]

    def __len__(self):
        return 6


def _live_children():
    import multiprocessing

    return [p for p in multiprocessing.active_children() if p.is_alive()]


@pytest.mark.parametrize(
    "options", [dict(batch_size=3), dict(batch_size=None), dict(batch_size=2, shuffle=True)]
)
def test_workers_give_the_same_batches(options):
    dataset = data.TensorDataset(*_xy(qilin))
    qilin.manual_seed(6)
    single = batches(data.DataLoader(dataset, **options))
    qilin.manual_seed(6)
    multi = batches(data.DataLoader(dataset, num_workers=2, **options))
    assert multi == single
    assert not _live_children()


def test_workers_iterable_and_worker_info():
    ours = batches(data.DataLoader(Stream(9), batch_size=2, num_workers=2))
    values = sorted(v for batch in ours for v in batch[2]["value"][2])
    assert values == list(range(9))
    rows = [
        row
        for batch in data.DataLoader(WorkerIds(), batch_size=2, num_workers=2)
        for row in zip(
            *[column if isinstance(column, list) else column.tolist() for column in batch]
        )
    ]
    assert [row[0] for row in rows] == list(range(6))
    assert {row[1] for row in rows} == {0, 1} and {row[2] for row in rows} == {2}
    assert {row[3] for row in rows} == {"1"}


def test_worker_init_fn_and_persistent_workers():
    loader = data.DataLoader(
        Squares(6),
        batch_size=2,
        num_workers=2,
        persistent_workers=True,
        worker_init_fn=lambda worker_id: None,
    )
    epochs = [[b.tolist() for b in loader] for _ in range(2)]
    assert epochs[0] == epochs[1] == [[0, 1], [4, 9], [16, 25]]
    del loader, epochs
    assert not _live_children()


def test_workers_stop_when_the_iterator_is_dropped_early():
    for batch in data.DataLoader(Squares(40), batch_size=2, num_workers=2):
        if batch[0] > 10:
            break
    del batch
    assert not _live_children()


def test_worker_exception_is_reraised_with_traceback():
    with pytest.raises(ValueError) as caught:
        list(data.DataLoader(Failing(), batch_size=2, num_workers=2))
    assert "Caught ValueError in DataLoader worker process" in str(caught.value)
    assert "bad sample 5" in str(caught.value) and "Traceback" in str(caught.value)
    assert not _live_children()


def test_dead_worker_and_timeout_raise():
    with pytest.raises(RuntimeError, match="exited unexpectedly"):
        list(data.DataLoader(Dying(), batch_size=2, num_workers=2))
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.5 seconds"):
        list(data.DataLoader(Slow(), batch_size=1, num_workers=1, timeout=0.5))
    assert not _live_children()
