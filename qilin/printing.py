"""Tensor repr in torch's format, so a qilin tensor prints as torch would print it.

    tensor([[ 0.3930, -1.1067],
            [ 2.0000,  0.0012]], requires_grad=True)

One formatter per tensor picks a mode from the nonzero finite values: integer-valued floats
print as `1.`, values spanning more than three decades (or beyond 1e8 or below 1e-4) in
scientific notation, the rest with `precision` decimals; every element is padded to the widest,
so columns line up. Tensors with more than `threshold` elements show `edgeitems` rows and columns
at each edge with '...' between.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

from . import dtypes

__all__ = ["set_printoptions", "get_printoptions", "printoptions", "tensor_repr"]

_DEFAULTS = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None}
_PROFILES = {
    "default": {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80},
    "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
    "full": {"precision": 4, "threshold": math.inf, "edgeitems": 3, "linewidth": 80},
}
_options = dict(_DEFAULTS)


def set_printoptions(
    precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None
) -> None:
    """Set how tensors print (torch.set_printoptions). `sci_mode=None` chooses automatically."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(
                f"set_printoptions: unknown profile {profile!r}; expected one of "
                f"{sorted(_PROFILES)}"
            )
        _options.update(_PROFILES[profile])
    for key, value in (
        ("precision", precision),
        ("threshold", threshold),
        ("edgeitems", edgeitems),
        ("linewidth", linewidth),
    ):
        if value is not None:
            _options[key] = value
    _options["sci_mode"] = sci_mode


def get_printoptions() -> dict:
    """The current print options, as keyword arguments for set_printoptions."""
    return dict(_options)


@contextlib.contextmanager
def printoptions(**options):
    """Temporarily change the print options: ``with printoptions(precision=2): print(t)``."""
    saved = get_printoptions()
    set_printoptions(**options)
    try:
        yield
    finally:
        set_printoptions(**saved)


class _Formatter:
    """Chooses a number format for a whole tensor and pads every element to one width."""

    def __init__(self, values: np.ndarray, floating: bool):
        self.floating = floating
        self.int_mode, self.sci_mode, self.width = True, False, 1
        self.precision = _options["precision"]
        flat = values.reshape(-1)
        if not floating:
            if flat.size:
                extremes = (flat.min(), flat.max())
                self.width = max(len(str(v)) for v in extremes)
            return
        finite = flat[np.isfinite(flat) & (flat != 0)]
        if finite.size == 0:
            return
        magnitudes = np.abs(finite)
        smallest, largest = float(magnitudes.min()), float(magnitudes.max())
        self.int_mode = bool(np.all(finite == np.ceil(finite)))
        automatic = largest / smallest > 1000.0 or largest > 1.0e8 or smallest < 1.0e-4
        self.sci_mode = automatic if _options["sci_mode"] is None else _options["sci_mode"]
        for value in np.unique(finite).tolist():
            self.width = max(self.width, len(self._plain(value)))

    def _plain(self, value: float) -> str:
        """The unpadded text of one value (int mode appends '.' to finite values)."""
        if not self.floating:
            return str(value)
        if self.sci_mode:
            return f"{value:.{self.precision}e}"
        if self.int_mode:
            return f"{value:.0f}." if math.isfinite(value) else f"{value:.0f}"
        return f"{value:.{self.precision}f}"

    def format(self, value) -> str:
        return self._plain(value).rjust(self.width)


def _edges(length: int) -> np.ndarray | slice:
    """The indices a summarised dimension shows: `edgeitems` at each end."""
    edge = _options["edgeitems"]
    if length > 2 * edge:
        return np.r_[0:edge, length - edge : length]
    return slice(None)


def _summarized(array: np.ndarray) -> np.ndarray:
    """Only the elements a summarised print shows, so the formatter sizes columns for them."""
    if array.ndim > 1 and not _options["edgeitems"]:
        return array[(slice(0, 0),) * array.ndim]
    for axis in range(array.ndim):
        array = array[(slice(None),) * axis + (_edges(array.shape[axis]),)]
    return array


def _vector(values: list, indent: int, summarize: bool, formatter: _Formatter) -> str:
    edge = _options["edgeitems"]
    if summarize and not edge:
        items = ["..."]
    elif summarize and len(values) > 2 * edge:
        items = (
            [formatter.format(v) for v in values[:edge]]
            + [" ..."]
            + [formatter.format(v) for v in values[-edge:]]
        )
    else:
        items = [formatter.format(v) for v in values]
    per_line = max(1, math.floor((_options["linewidth"] - indent) / (formatter.width + 2)))
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _nested(array: np.ndarray, indent: int, summarize: bool, formatter: _Formatter) -> str:
    if array.ndim == 0:
        return formatter.format(array.item())
    if array.ndim == 1:
        return _vector(array.tolist(), indent, summarize, formatter)
    edge = _options["edgeitems"]
    rows = array.shape[0]
    if summarize and rows > 2 * edge:
        parts = (
            [_nested(array[i], indent + 1, summarize, formatter) for i in range(edge)]
            + ["..."]
            + [
                _nested(array[i], indent + 1, summarize, formatter)
                for i in range(rows - edge, rows)
            ]
        )
    else:
        parts = [_nested(array[i], indent + 1, summarize, formatter) for i in range(rows)]
    separator = "," + "\n" * (array.ndim - 1) + " " * (indent + 1)
    return "[" + separator.join(parts) + "]"


def _body(array: np.ndarray, floating: bool, indent: int) -> str:
    summarize = array.size > _options["threshold"]
    formatter = _Formatter(_summarized(array) if summarize else array, floating)
    return _nested(array, indent, summarize, formatter)


def _with_suffixes(text: str, suffixes: list, indent: int) -> str:
    """Append ', dtype=...' etc., moving a suffix to its own line when the line would be long."""
    pieces = [text]
    line_length = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if line_length + len(suffix) + 2 > _options["linewidth"]:
            pieces.append(",\n" + " " * indent + suffix)
            line_length = indent + len(suffix)
        else:
            pieces.append(", " + suffix)
            line_length += len(suffix) + 2
    return "".join(pieces) + ")"


def _host_values(tensor) -> np.ndarray:
    array = np.asarray(tensor._host())
    if array.dtype.kind == "f" or tensor.dtype is dtypes.bfloat16:
        return array.astype(np.float64)  # exact for every float dtype, as torch's .item()
    return array


def tensor_repr(tensor) -> str:
    kind = type(tensor).__name__
    prefix = "tensor(" if kind in ("Tensor", "Parameter") else kind + "("
    indent = len(prefix)
    dtype = tensor.dtype
    suffixes = []
    if tensor.device.type != "cpu":
        suffixes.append(f"device='{tensor.device}'")
    array = _host_values(tensor)
    if array.size == 0:
        if array.ndim != 1:
            suffixes.append(f"size={tuple(array.shape)}")
        if dtype is not dtypes.get_default_dtype():
            suffixes.append(f"dtype={dtype!r}")
        body = "[]"
    else:
        if not _options["edgeitems"]:
            suffixes.append(f"size={tuple(array.shape)}")
        if dtype not in (dtypes.get_default_dtype(), dtypes.int64, dtypes.bool):
            suffixes.append(f"dtype={dtype!r}")
        body = _body(array, dtype.is_floating_point, indent)
    node = tensor._node
    if node is not None:
        suffixes.append(f"grad_fn=<{node.name()}>")
    elif tensor.requires_grad:
        suffixes.append("requires_grad=True")
    return _with_suffixes(prefix + body, suffixes, indent)
