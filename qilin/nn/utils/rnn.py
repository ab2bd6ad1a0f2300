"""Variable-length sequences for the recurrent layers (torch.nn.utils.rnn).

A PackedSequence stores a batch of sequences time step by time step, longest first: `data`
holds the rows of step 0 for every sequence, then the rows of step 1 for the sequences still
running, and so on; `batch_sizes[t]` says how many sequences are running at step t. Packing and
padding are one gather each (an index into the rows plus one padding row), so gradients flow
through them like through any indexing.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable

import numpy as np

import qilin

from ...errors import located
from ...tensor import Tensor

__all__ = [
    "PackedSequence",
    "invert_permutation",
    "pack_padded_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "unpad_sequence",
    "pack_sequence",
    "unpack_sequence",
]


class PackedSequence(
    namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])
):
    """(data, batch_sizes, sorted_indices, unsorted_indices); build it with pack_padded_sequence
    or pack_sequence. `sorted_indices[i]` is the original position of the i-th longest
    sequence, `unsorted_indices` its inverse."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:  # PackedSequence((data, batch_sizes), sorted_indices)
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise located(
                    ValueError(
                        "PackedSequence expects data and batch_sizes, or one (data, batch_sizes) "
                        f"pair; got {type(data).__name__} and no batch_sizes"
                    )
                )
            data, batch_sizes = data
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def _map_data(self, convert) -> PackedSequence:
        return type(self)(convert(self.data), self.batch_sizes, *self[2:])

    def to(self, *args, **kwargs) -> PackedSequence:
        """data converted as Tensor.to; the indices follow data's device."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        indices = [None if i is None else i.to(data.device) for i in self[2:]]
        return type(self)(data, self.batch_sizes, *indices)

    def cpu(self) -> PackedSequence:
        return self.to("cpu")

    def cuda(self, *args, **kwargs) -> PackedSequence:
        return self.to("cuda", *args, **kwargs)

    def double(self) -> PackedSequence:
        return self.to(dtype=qilin.float64)

    def float(self) -> PackedSequence:
        return self.to(dtype=qilin.float32)

    def half(self) -> PackedSequence:
        return self.to(dtype=qilin.float16)

    def long(self) -> PackedSequence:
        return self.to(dtype=qilin.int64)

    def int(self) -> PackedSequence:
        return self.to(dtype=qilin.int32)

    @property
    def is_cuda(self) -> bool:
        return self.data.is_cuda

    def is_pinned(self) -> bool:
        return False


def invert_permutation(permutation):
    """The inverse of a permutation (None stays None)."""
    if permutation is None:
        return None
    order = np.asarray(permutation.tolist(), dtype=np.int64)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size)
    return qilin.tensor(inverse, device=permutation.device)


def _lengths_list(lengths, batch: int) -> list:
    values = lengths.tolist() if isinstance(lengths, Tensor) else [int(n) for n in lengths]
    if len(values) != batch:
        raise located(
            RuntimeError(
                f"Expected `len(lengths)` to be equal to batch_size, but got {len(values)} "
                f"(batch_size={batch})"
            )
        )
    if any(n <= 0 for n in values):
        raise located(
            RuntimeError(
                "Length of all samples has to be greater than 0, but found an element in "
                "'lengths' that is <= 0"
            )
        )
    return values


def _batch_sizes(lengths: list) -> list:
    """How many sequences (sorted longest first) are still running at each step."""
    counts = np.bincount(np.asarray(lengths), minlength=max(lengths) + 1)
    return (len(lengths) - np.cumsum(counts)[:-1]).tolist()


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (T, B, *) ((B, T, *) with batch_first) of sequences of the given
    lengths. enforce_sorted=False sorts them longest first and remembers the order."""
    batch_dim = 0 if batch_first else 1
    if input.ndim < 2:
        raise located(
            RuntimeError(
                f"pack_padded_sequence: expected input of at least 2 dims (time and batch), "
                f"got shape {tuple(input.shape)}"
            )
        )
    steps, batch = input.shape[1 - batch_dim], input.shape[batch_dim]
    lengths = _lengths_list(lengths, batch)
    sorted_indices = None
    if enforce_sorted:
        if any(a < b for a, b in zip(lengths, lengths[1:])):
            raise located(
                RuntimeError(
                    "`lengths` array must be sorted in decreasing order when `enforce_sorted` "
                    "is True. You can pass `enforce_sorted=False` to pack_padded_sequence "
                    "and/or pack_sequence to sidestep this requirement if you do not need ONNX "
                    "exportability."
                )
            )
        order = np.arange(batch)
    else:
        order = np.argsort(-np.asarray(lengths), kind="stable")
        sorted_indices = qilin.tensor(order, device=input.device)
    if max(lengths) > steps:
        raise located(
            RuntimeError(
                f"pack_padded_sequence: a length of {max(lengths)} exceeds the {steps} time "
                f"steps of the input of shape {tuple(input.shape)}"
            )
        )
    batch_sizes = _batch_sizes([lengths[i] for i in order])
    # row of (t, sequence order[b]) in the input flattened over its first two dims
    rows = np.concatenate([order[:n] + t * batch for t, n in enumerate(batch_sizes)])
    if batch_first:
        rows = (rows % batch) * steps + rows // batch
    flat = input.reshape((steps * batch, *input.shape[2:]))
    data = flat[qilin.tensor(rows, device=input.device)]
    return PackedSequence(data, qilin.tensor(batch_sizes), sorted_indices, None)


def _gather_with_padding(rows_source, index: np.ndarray, padding_value):
    """rows_source[index], where index == len(rows_source) picks a row of padding_value."""
    pad = rows_source.new_full((1, *rows_source.shape[1:]), padding_value)
    table = qilin.cat([rows_source, pad])
    return table[qilin.tensor(index, device=rows_source.device)]


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """The inverse of pack_padded_sequence: (padded (T, B, *) or (B, T, *), lengths)."""
    batch_sizes = sequence.batch_sizes.tolist()
    steps = len(batch_sizes)
    if total_length is not None:
        if total_length < steps:
            raise located(
                ValueError(
                    "Expected total_length to be at least the length of the longest sequence "
                    f"in input, but got total_length={total_length} and max sequence length "
                    f"being {steps}"
                )
            )
        steps = total_length
    data = sequence.data
    batch = batch_sizes[0]
    # index[t, b]: the data row of step t of the b-th longest sequence, or the padding row
    index = np.full((steps, batch), data.shape[0], dtype=np.int64)
    start = 0
    for t, n in enumerate(batch_sizes):
        index[t, :n] = np.arange(start, start + n)
        start += n
    lengths = (index[: len(batch_sizes)] < data.shape[0]).sum(0)
    unsorted = sequence.unsorted_indices
    if unsorted is not None:
        order = np.asarray(unsorted.tolist(), dtype=np.int64)
        index, lengths = index[:, order], lengths[order]
    if batch_first:
        index = index.T
    padded = _gather_with_padding(data, index, padding_value)
    return padded, qilin.tensor(lengths.astype(np.int64))


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack sequences (L_i, *) into (T, B, *) ((B, T, *) with batch_first), padding each
    on the right (or left) to the longest length T."""
    if isinstance(sequences, Tensor):
        sequences = sequences.unbind(0)
    if not isinstance(sequences, Iterable):
        raise located(
            RuntimeError(
                "pad_sequence: Expected iterable for input sequences, but got arg of type: "
                f"{type(sequences)}"
            )
        )
    sequences = list(sequences)
    if padding_side not in ("left", "right"):
        raise located(
            RuntimeError(
                f"Expected padding_side to be one of left or right, but got {padding_side}."
            )
        )
    if not sequences:
        raise located(RuntimeError("received an empty list of sequences"))
    lengths = np.array([s.shape[0] for s in sequences])
    steps, total = int(lengths.max()), int(lengths.sum())
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    position = np.arange(steps)[:, None]  # (T, 1) against (B,)
    if padding_side == "left":
        position = position - (steps - lengths)
    valid = (position >= 0) & (position < lengths)
    index = np.where(valid, starts + position, total)  # (T, B)
    rows = qilin.cat(sequences)
    return _gather_with_padding(rows, index.T if batch_first else index, padding_value)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The sequences of a padded batch, each cut to its length (a list of views)."""
    values = lengths.tolist() if isinstance(lengths, Tensor) else list(lengths)
    batch_dim = 0 if batch_first else 1
    return [padded_sequences.select(batch_dim, b)[: int(n)] for b, n in enumerate(values)]


def pack_sequence(sequences, enforce_sorted=True):
    """pack_padded_sequence(pad_sequence(sequences), their lengths)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """The list of sequences in a PackedSequence, in their original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
