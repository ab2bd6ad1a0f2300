"""Turning a list of samples into a batch: default_collate (stack) and default_convert
(NumPy to tensors, no batching), both recursing through dicts, tuples, lists and namedtuples."""

from __future__ import annotations

import collections.abc
import re

import numpy as np

from ... import dtypes
from ...ops.creation import as_tensor, tensor
from ...ops.movement import stack
from ...tensor import Tensor

__all__ = ["default_collate", "default_convert"]

# NumPy dtypes of text, bytes and objects: no tensor can hold them.
_STRING_OR_OBJECT = re.compile(r"[SaUO]")

_UNSUPPORTED = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"
)


def _is_namedtuple(value) -> bool:
    return isinstance(value, tuple) and hasattr(value, "_fields")


def _rebuild_sequence(template, items: list):
    # A user sequence type that cannot be built from a list comes back as a plain list.
    try:
        return type(template)(items)
    except TypeError:
        return items


def default_convert(data):
    """Convert NumPy arrays and scalars inside `data` to tensors, keeping the structure."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, (np.ndarray, np.generic)) and not isinstance(data, (np.str_, np.bytes_)):
        if _STRING_OR_OBJECT.search(data.dtype.str):
            return data
        return as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return _rebuild_mapping(data, {key: default_convert(data[key]) for key in data})
    if _is_namedtuple(data):
        return type(data)(*(default_convert(item) for item in data))
    if isinstance(data, tuple):
        return [default_convert(item) for item in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _rebuild_sequence(data, [default_convert(item) for item in data])
    return data


def _rebuild_mapping(template, items: dict):
    try:
        return type(template)(items)
    except TypeError:
        return items


def default_collate(batch):
    """Stack a list of samples into a batch, recursing through containers.

    Tensors stack along a new first dimension; NumPy arrays become tensors first; Python
    floats, ints and bools become float64, int64 and bool tensors; strings stay a list; a
    list of tuples becomes a list of batches (one per field).
    """
    sample = batch[0]
    if isinstance(sample, Tensor):
        return stack(list(batch), 0)
    if isinstance(sample, (np.ndarray, np.generic)) and not isinstance(
        sample, (np.str_, np.bytes_)
    ):
        if _STRING_OR_OBJECT.search(sample.dtype.str):
            raise TypeError(_UNSUPPORTED.format(sample.dtype))
        if isinstance(sample, np.ndarray) and sample.shape != ():
            return default_collate([as_tensor(item) for item in batch])
        return as_tensor(np.asarray(batch))
    if isinstance(sample, bool):
        return tensor(batch, dtype=dtypes.bool)
    if isinstance(sample, float):
        return tensor(batch, dtype=dtypes.float64)
    if isinstance(sample, int):
        return tensor(batch, dtype=dtypes.int64)
    if isinstance(sample, (str, bytes)):
        return batch
    if isinstance(sample, collections.abc.Mapping):
        return _rebuild_mapping(
            sample, {key: default_collate([item[key] for item in batch]) for key in sample}
        )
    if _is_namedtuple(sample):
        return type(sample)(*(default_collate(list(field)) for field in zip(*batch)))
    if isinstance(sample, collections.abc.Sequence):
        if any(len(item) != len(sample) for item in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        fields = [default_collate(list(field)) for field in zip(*batch)]
        # Tuples collate to lists, as torch does (for backward compatibility there).
        return fields if isinstance(sample, tuple) else _rebuild_sequence(sample, fields)
    raise TypeError(_UNSUPPORTED.format(type(sample)))
