"""`save` / `load` without pickle: tensors in a safetensors blob, structure in tagged JSON.

A checkpoint is ONE safetensors file. Its tensors are ordinary safetensors entries (any
safetensors reader can list them), and the Python structure around them (dicts, lists, tuples,
numbers, strings, None) is JSON stored in the header metadata under `STRUCTURE_KEY`. Loading
parses JSON and copies bytes, so an untrusted file can never run code: there is no pickle here.

JSON encoding (every JSON object is a one-key tag; anything else is a plain JSON scalar):
    None, bool, int, str, finite float  -> the JSON scalar itself (floats keep their repr)
    nan / inf / -inf                     -> {"float": "nan" | "inf" | "-inf"}
    list / tuple                         -> {"list": [...]} / {"tuple": [...]}
    dict                                 -> {"dict": [[key, value], ...]}  (keys any scalar above)
    tensor                               -> {"tensor": {"id", "dtype", "shape", ...}}

Sharing, as torch.load restores it: the same tensor object saved twice (a tied weight, or a
parameter in both a model and an optimizer dict) is stored once and loads as one object. Distinct
tensors that view one NumPy buffer are stored as that buffer once plus (offset, shape, strides), and
load as tensors sharing one buffer, so an in-place write to one shows in the others (they load as
independent leaves: the autograd view relation is not saved, as in torch).
"""

from __future__ import annotations

import io
import json
import math
import os
import struct
import tempfile
from typing import Any, BinaryIO

import ml_dtypes
import numpy as np
import safetensors
import safetensors.numpy

from .. import dtypes
from ..tensor import Tensor

__all__ = ["save", "load", "save_safetensors", "load_safetensors", "CheckpointError"]

STRUCTURE_KEY = "qilin.checkpoint"
FORMAT_VERSION = 1
_STORAGE_DTYPE = "uint8"  # shared buffers are stored as raw bytes

# safetensors dtype codes qilin holds (bfloat16 through ml_dtypes, written natively as BF16).
_NUMPY_OF_CODE = {
    "BOOL": np.dtype(np.bool_),
    "U8": np.dtype(np.uint8),
    "I8": np.dtype(np.int8),
    "I16": np.dtype(np.int16),
    "I32": np.dtype(np.int32),
    "I64": np.dtype(np.int64),
    "F16": np.dtype(np.float16),
    "BF16": np.dtype(ml_dtypes.bfloat16),
    "F32": np.dtype(np.float32),
    "F64": np.dtype(np.float64),
}


class CheckpointError(ValueError):
    """A file that is not a valid qilin checkpoint / safetensors file (names the file and why)."""


# ----- public API ----------------------------------------------------------------------------
def save(obj: Any, f) -> None:
    """Save tensors, state dicts and nested containers of them to `f` (a path or binary file).

    A path is written atomically: to a temporary file in the same folder, flushed and fsync'ed,
    then renamed over the target, so a crash leaves either the old file or the new one."""
    arrays: dict[str, np.ndarray] = {}
    structure = _Encoder(arrays).encode(obj)
    header = {"format": STRUCTURE_KEY, "version": FORMAT_VERSION, "root": structure}
    metadata = {STRUCTURE_KEY: json.dumps(header, allow_nan=False, separators=(",", ":"))}
    _write(f, safetensors.numpy.save(arrays, metadata=metadata))


def load(f, map_location=None, weights_only: bool = True) -> Any:
    """Load what `save` wrote; a plain `.safetensors` file loads as a flat dict of tensors.

    `weights_only` is accepted for torch compatibility: this format only ever holds data, so
    loading is always as safe as torch's `weights_only=True`. `map_location` may be a device
    (or its name), a dict mapping saved device names to devices, or a callable
    `(tensor, saved_device_name) -> tensor`."""
    name, data = _read(f)
    metadata, arrays = _parse(name, data)
    if metadata is None or STRUCTURE_KEY not in metadata:
        return {key: _to_tensor(array) for key, array in arrays.items()}
    try:
        header = json.loads(metadata[STRUCTURE_KEY])
    except (ValueError, RecursionError) as error:
        raise CheckpointError(
            f"{name}: the structure metadata is not valid JSON ({error})"
        ) from None
    if (
        not isinstance(header, dict)
        or header.get("format") != STRUCTURE_KEY
        or "root" not in header
    ):
        raise CheckpointError(f"{name}: the structure metadata is not a qilin checkpoint header")
    if header.get("version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{name}: checkpoint format version {header.get('version')!r} is not supported "
            f"(this qilin reads version {FORMAT_VERSION})"
        )
    try:
        return _Decoder(name, arrays, map_location).decode(header["root"])
    except RecursionError:
        raise CheckpointError(f"{name}: the structure is nested too deeply to load") from None


def save_safetensors(state_dict: dict[str, Tensor], path, metadata: dict[str, str] | None = None):
    """Write a flat {name: tensor} dict as a plain safetensors file (readable by torch's)."""
    arrays = {}
    for key, value in state_dict.items():
        if not isinstance(key, str) or not isinstance(value, Tensor):
            raise TypeError(
                "save_safetensors expects a dict of str -> Tensor, got an entry "
                f"{type(key).__name__} -> {type(value).__name__}"
            )
        arrays[key] = _contiguous(value.numpy(force=True))
    _write(path, safetensors.numpy.save(arrays, metadata=metadata))


def load_safetensors(path, device=None) -> dict[str, Tensor]:
    """Read a safetensors file (for example one written by torch) as a {name: tensor} dict."""
    name, data = _read(path)
    _, arrays = _parse(name, data)
    tensors = {key: _to_tensor(array) for key, array in arrays.items()}
    if device is not None:
        tensors = {key: tensor.to(device) for key, tensor in tensors.items()}
    return tensors


# ----- encoding ------------------------------------------------------------------------------
def _root_buffer(array: np.ndarray) -> np.ndarray:
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


class _Encoder:
    """Turns a Python object into tagged JSON, collecting tensor arrays into `arrays`."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.arrays = arrays
        self.tensor_ids: dict[int, str] = {}  # id(tensor) -> its entry id
        self.keep_alive: list[Tensor] = []  # ids stay unique while we encode
        self.storage_ids: dict[int, str] = {}  # id(root buffer) -> stored buffer name
        self.root_users: dict[int, set[int]] = {}

    def encode(self, obj: Any) -> Any:
        self._count_buffer_users(obj, set())
        return self._encode(obj, "")

    def _count_buffer_users(self, obj: Any, seen: set[int]) -> None:
        """Which root buffers more than one distinct (CPU) tensor views: those are stored once."""
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, Tensor):
            data = obj._data
            if isinstance(data, np.ndarray):
                self.root_users.setdefault(id(_root_buffer(data)), set()).add(id(obj))
        elif isinstance(obj, (list, tuple)):
            for item in obj:
                self._count_buffer_users(item, seen)
        elif isinstance(obj, dict):
            for item in obj.values():
                self._count_buffer_users(item, seen)

    def _encode(self, obj: Any, path: str) -> Any:
        if isinstance(obj, np.generic) and obj.dtype.kind in "biuf":
            obj = obj.item()  # NumPy scalars save as the Python number they hold
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return int(obj)  # int subclasses (IntEnum) save as plain ints
        if isinstance(obj, float):
            return float(obj) if math.isfinite(obj) else {"float": repr(float(obj))}
        if isinstance(obj, Tensor):
            return {"tensor": self._tensor(obj, path)}
        if isinstance(obj, (list, tuple)):
            tag = "tuple" if isinstance(obj, tuple) else "list"
            return {tag: [self._encode(item, f"{path}.{i}") for i, item in enumerate(obj)]}
        if isinstance(obj, dict):
            return {
                "dict": [
                    [self._key(key), self._encode(v, f"{path}.{key}")] for key, v in obj.items()
                ]
            }
        raise TypeError(
            f"qilin.save cannot store an object of type {type(obj).__name__} (at "
            f"{path.lstrip('.') or 'the top level'}); it saves tensors, dicts, lists, tuples, "
            "None, bool, int, float and str, without pickle"
        )

    def _key(self, key: Any) -> Any:
        if key is None or isinstance(key, (bool, int, float, str)):
            return self._encode(key, "")
        raise TypeError(
            f"qilin.save cannot store a dict key of type {type(key).__name__}; keys must be "
            "str, int, float, bool or None"
        )

    def _tensor(self, tensor: Tensor, path: str) -> str | dict:
        if id(tensor) in self.tensor_ids:
            return self.tensor_ids[id(tensor)]
        entry_id = f"t{len(self.tensor_ids)}"
        self.tensor_ids[id(tensor)] = entry_id
        self.keep_alive.append(tensor)
        array = tensor.numpy(force=True)
        record: dict[str, Any] = {
            "id": entry_id,
            "dtype": tensor.dtype.name,
            "shape": list(array.shape),
            "device": str(tensor.device),
            "requires_grad": bool(tensor.requires_grad),
            "parameter": type(tensor).__name__ == "Parameter",
        }
        root = _root_buffer(array) if isinstance(tensor._data, np.ndarray) else None
        if (
            root is not None
            and len(self.root_users.get(id(root), ())) > 1
            and root.flags.c_contiguous
        ):
            record["storage"] = self._storage(root)
            record["offset"] = int(
                array.__array_interface__["data"][0] - root.__array_interface__["data"][0]
            )
            record["strides"] = list(array.strides)
        else:
            record["name"] = self._unique_name(path.lstrip(".") or "tensor")
            self.arrays[record["name"]] = _contiguous(array)
        return record

    def _storage(self, root: np.ndarray) -> str:
        if id(root) not in self.storage_ids:
            name = self._unique_name(f"storage.{len(self.storage_ids)}")
            self.storage_ids[id(root)] = name
            self.arrays[name] = root.reshape(-1).view(np.uint8)
        return self.storage_ids[id(root)]

    def _unique_name(self, name: str) -> str:
        candidate, n = name, 1
        while candidate in self.arrays or candidate.startswith("__"):
            candidate, n = f"{name}#{n}", n + 1
        return candidate


# ----- decoding ------------------------------------------------------------------------------
class _Decoder:
    """Rebuilds the Python object from tagged JSON; any surprise is a CheckpointError."""

    def __init__(self, name: str, arrays: dict[str, np.ndarray], map_location):
        self.name, self.arrays, self.map_location = name, arrays, map_location
        self.tensors: dict[str, Tensor] = {}

    def fail(self, what: str) -> CheckpointError:
        return CheckpointError(f"{self.name}: malformed checkpoint structure: {what}")

    def decode(self, node: Any) -> Any:
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, dict) and len(node) == 1:
            ((tag, body),) = node.items()
            if tag in ("list", "tuple") and isinstance(body, list):
                items = [self.decode(item) for item in body]
                return items if tag == "list" else tuple(items)
            if tag == "dict" and isinstance(body, list):
                return self._dict(body)
            if tag == "float" and body in ("nan", "inf", "-inf"):
                return float(body)
            if tag == "tensor" and isinstance(body, (str, dict)):
                return self._tensor(body)
            raise self.fail(f"unknown or invalid tag {tag!r} (with a {type(body).__name__} body)")
        raise self.fail(f"unexpected JSON value {json.dumps(node)[:80]}")

    def _dict(self, pairs: list) -> dict:
        out = {}
        for pair in pairs:
            if not (isinstance(pair, list) and len(pair) == 2):
                raise self.fail(
                    f"a dict entry must be a [key, value] pair, got {json.dumps(pair)[:80]}"
                )
            key = self.decode(pair[0])
            if not (key is None or isinstance(key, (bool, int, float, str))):
                raise self.fail(f"a dict key must be a scalar, got {type(key).__name__}")
            out[key] = self.decode(pair[1])
        return out

    def _tensor(self, body: str | dict) -> Tensor:
        if isinstance(body, str):  # a reference to a tensor decoded earlier
            if body not in self.tensors:
                raise self.fail(f"reference to unknown tensor {body!r}")
            return self.tensors[body]
        try:
            entry_id, dtype, shape = (
                body["id"],
                dtypes.to_dtype(body["dtype"]),
                tuple(body["shape"]),
            )
            array = self._array(body, dtype.numpy, shape)
        except (KeyError, TypeError, ValueError) as error:
            raise self.fail(f"invalid tensor record {json.dumps(body)[:120]} ({error})") from None
        tensor = _to_tensor(array)
        tensor = self._place(tensor, body.get("device", "cpu"))
        if body.get("parameter"):
            from ..nn.parameter import Parameter

            tensor = Parameter(tensor, requires_grad=bool(body.get("requires_grad", True)))
        elif body.get("requires_grad"):
            tensor.requires_grad_(True)
        self.tensors[entry_id] = tensor
        return tensor

    def _array(self, body: dict, numpy_dtype: np.dtype, shape: tuple) -> np.ndarray:
        if "storage" in body:
            buffer = self._entry(body["storage"])
            if buffer.dtype != np.uint8:
                raise ValueError(f"storage {body['storage']!r} is not a byte buffer")
            offset, strides = int(body["offset"]), tuple(int(s) for s in body["strides"])
            _check_in_bounds(buffer.nbytes, offset, shape, strides, numpy_dtype.itemsize)
            return np.ndarray(shape, numpy_dtype, buffer=buffer, offset=offset, strides=strides)
        array = self._entry(body["name"])
        if array.dtype != numpy_dtype or array.shape != shape:
            raise ValueError(
                f"entry {body['name']!r} holds {array.dtype}{list(array.shape)}, the record says "
                f"{numpy_dtype}{list(shape)}"
            )
        return array

    def _entry(self, name: str) -> np.ndarray:
        if name not in self.arrays:
            raise ValueError(f"no tensor entry named {name!r} in the file")
        return self.arrays[name]

    def _place(self, tensor: Tensor, saved_device: str) -> Tensor:
        where = self.map_location
        if callable(where):
            return where(tensor, saved_device)
        if isinstance(where, dict):
            where = where.get(saved_device, saved_device)
        if where is None:
            where = saved_device
        return tensor if str(where) == "cpu" else tensor.to(where)


def _check_in_bounds(nbytes: int, offset: int, shape: tuple, strides: tuple, itemsize: int):
    """A view record must stay inside its buffer (NumPy would otherwise read arbitrary memory)."""
    if len(shape) != len(strides) or any(size < 0 for size in shape) or offset < 0:
        raise ValueError("view shape/strides/offset are inconsistent")
    if 0 in shape:
        return
    low = offset + sum(stride * (size - 1) for size, stride in zip(shape, strides) if stride < 0)
    high = offset + sum(stride * (size - 1) for size, stride in zip(shape, strides) if stride > 0)
    if low < 0 or high + itemsize > nbytes:
        raise ValueError(f"view reaches outside its {nbytes}-byte buffer")


def _contiguous(array: np.ndarray) -> np.ndarray:
    # not np.ascontiguousarray: it turns 0-d arrays into 1-d ones
    return array if array.flags.c_contiguous else array.copy(order="C")


def _to_tensor(array: np.ndarray) -> Tensor:
    from ..ops.creation import from_numpy

    return from_numpy(array)


# ----- file level ----------------------------------------------------------------------------
def _parse(name: str, data: bytes) -> tuple[dict[str, str] | None, dict[str, np.ndarray]]:
    """Validate the safetensors layout and return (metadata, {entry: writable array})."""
    if len(data) < 8:
        raise CheckpointError(f"{name}: not a safetensors file (only {len(data)} bytes)")
    (header_size,) = struct.unpack("<Q", data[:8])
    if header_size > len(data) - 8 or data[8:9] != b"{":
        hint = " (it looks like a pickle, e.g. a torch.save file)" if data[:1] == b"\x80" else ""
        hint = (
            " (it looks like a zip archive, e.g. a torch.save file)" if data[:2] == b"PK" else hint
        )
        raise CheckpointError(f"{name}: not a safetensors file: bad header{hint}")
    try:
        header = json.loads(data[8 : 8 + header_size])
        metadata = header.get("__metadata__")
        entries = safetensors.deserialize(data)
    except (ValueError, AttributeError, RecursionError, safetensors.SafetensorError) as error:
        raise CheckpointError(f"{name}: not a valid safetensors file ({error})") from None
    if metadata is not None and not (
        isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())
    ):
        raise CheckpointError(f"{name}: the safetensors metadata must map strings to strings")
    arrays = {}
    for key, entry in entries:
        numpy_dtype = _NUMPY_OF_CODE.get(entry["dtype"])
        if numpy_dtype is None:
            raise CheckpointError(
                f"{name}: tensor {key!r} has dtype {entry['dtype']}, which qilin does not support "
                f"(supported: {', '.join(_NUMPY_OF_CODE)})"
            )
        arrays[key] = np.frombuffer(entry["data"], dtype=numpy_dtype).reshape(entry["shape"])
    return metadata, arrays


def _read(f) -> tuple[str, bytes]:
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as file:
            return os.fspath(f), file.read()
    if hasattr(f, "read"):
        data = f.read()
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError("qilin.load needs a file opened in binary mode ('rb')")
        return str(getattr(f, "name", "<file object>")), bytes(data)
    raise TypeError(f"qilin.load expects a path or a binary file object, got {type(f).__name__}")


def _write_all(file: BinaryIO, data: bytes) -> None:
    """Write `data` fully (its own function so tests can simulate a crash mid-write)."""
    file.write(data)


def _write(f, data: bytes) -> None:
    if not isinstance(f, (str, os.PathLike)):
        if not hasattr(f, "write") or isinstance(f, io.TextIOBase):
            raise TypeError(
                f"qilin.save expects a path or a binary file object, got {type(f).__name__}"
            )
        _write_all(f, data)
        if hasattr(f, "flush"):
            f.flush()
        return
    target = os.path.abspath(os.fspath(f))
    folder, base = os.path.split(target)
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=f".{base}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            _write_all(file, data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, _new_file_mode(target))
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    _fsync_folder(folder)


def _new_file_mode(target: str) -> int:
    """Keep an existing file's permissions; a new file gets what open() would give it."""
    try:
        return os.stat(target).st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_folder(folder: str) -> None:
    """Make the rename itself durable (POSIX); some systems cannot open folders, which is fine."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
