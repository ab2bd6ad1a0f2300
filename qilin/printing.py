"""Tensor repr in torch's style: `tensor([1., 2.], requires_grad=True)`."""

from __future__ import annotations

import numpy as np

from . import dtypes

_options = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None) -> None:
    if profile == "full":
        _options.update(threshold=np.inf)
    elif profile == "short":
        _options.update(precision=2, threshold=1000, edgeitems=2)
    elif profile == "default":
        _options.update(precision=4, threshold=1000, edgeitems=3, linewidth=80)
    for key, value in (("precision", precision), ("threshold", threshold),
                       ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if value is not None:
            _options[key] = value
    _options["sci_mode"] = sci_mode


def _format_float(values: np.ndarray):
    finite = values[np.isfinite(values)]
    precision = _options["precision"]
    if finite.size and np.all(finite == np.round(finite)) and np.abs(finite).max() < 1e8:
        return lambda v: _special(v) or f"{v:.0f}."
    big = finite.size and (np.abs(finite).max() >= 1e8 or (
        np.abs(finite[finite != 0]).min(initial=1) < 1e-4))
    if _options["sci_mode"] or (_options["sci_mode"] is None and big):
        return lambda v: _special(v) or f"{v:.{precision}e}"
    return lambda v: _special(v) or f"{v:.{precision}f}"


def _special(v) -> str | None:
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return None


def _body(array: np.ndarray) -> str:
    if array.dtype == np.bool_:
        formatter = {"bool": lambda v: "True" if v else "False"}
    elif array.dtype.kind == "f":
        formatter = {"float_kind": _format_float(array)}
    else:
        formatter = None
    return np.array2string(
        array, separator=", ", prefix="tensor(", formatter=formatter,
        threshold=_options["threshold"], edgeitems=_options["edgeitems"],
        max_line_width=_options["linewidth"])


def tensor_repr(tensor) -> str:
    array = tensor._host()
    dtype = tensor.dtype
    if dtype in (dtypes.float16, dtypes.bfloat16):
        array = array.astype(np.float32)
    body = _body(array) if array.size or array.ndim == 1 else "[]"
    suffix = []
    if array.size == 0 and array.ndim != 1:
        suffix.append(f"size={tuple(array.shape)}")
    default = dtype is dtypes.get_default_dtype() or dtype in (dtypes.int64, dtypes.bool)
    if not default:
        suffix.append(f"dtype={dtype!r}")
    if tensor.device.type != "cpu":
        suffix.append(f"device='{tensor.device}'")
    if tensor._node is not None:
        suffix.append(f"grad_fn=<{tensor._node.name()}>")
    elif tensor.requires_grad:
        suffix.append("requires_grad=True")
    return "tensor(" + ", ".join([body] + suffix) + ")"
