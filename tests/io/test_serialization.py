"""qilin.io.save / load: exact round trips, sharing, torch safetensors interop, safety, atomicity.

References are independent of the code under test: NumPy arrays for tensor contents, torch's
own safetensors writer for interop, and a second training run for "continues identically".
"""

from __future__ import annotations

import io
import math
import os
import pickle

import ml_dtypes
import numpy as np
import pytest

import qilin
import qilin.nn as nn
import qilin.optim as optim
from qilin.io import CheckpointError, load, load_safetensors, save, save_safetensors, serialization

DTYPES = [
    "bool",
    "uint8",
    "int8",
    "int16",
    "int32",
    "int64",
    "float16",
    "bfloat16",
    "float32",
    "float64",
]


def _random_array(dtype_name: str, shape, rng) -> np.ndarray:
    numpy_dtype = ml_dtypes.bfloat16 if dtype_name == "bfloat16" else np.dtype(dtype_name)
    if dtype_name == "bool":
        return rng.random(shape) > 0.5
    if np.dtype(numpy_dtype).kind in "iu":
        return rng.integers(0, 100, size=shape).astype(numpy_dtype)
    return (rng.standard_normal(shape) * 100).astype(numpy_dtype)


def _roundtrip(obj, tmp_path, **load_kwargs):
    path = tmp_path / "checkpoint.qilin"
    save(obj, path)
    return load(path, **load_kwargs)


@pytest.mark.parametrize("dtype_name", DTYPES)
@pytest.mark.parametrize("shape", [(), (0,), (3, 0), (5,), (2, 3, 4)])
def test_every_dtype_and_shape_round_trips_bit_exactly(dtype_name, shape, tmp_path):
    array = np.asarray(_random_array(dtype_name, shape, np.random.default_rng(0)))
    loaded = _roundtrip(qilin.from_numpy(array.copy()), tmp_path)
    assert isinstance(loaded, qilin.Tensor)
    assert loaded.dtype == getattr(qilin, dtype_name)
    assert tuple(loaded.shape) == shape
    # bit-exact, NaN payloads included
    assert loaded.numpy().tobytes() == np.ascontiguousarray(array).tobytes()


def test_non_contiguous_tensor_saves_its_values(tmp_path):
    base = qilin.arange(12.0).reshape(3, 4)
    view = base.t()[1:, ::2]
    loaded = _roundtrip(view, tmp_path)
    np.testing.assert_array_equal(loaded.numpy(), np.arange(12.0).reshape(3, 4).T[1:, ::2])


def test_nested_containers_keep_types_keys_and_special_floats(tmp_path):
    obj = {
        "tuple": (1, (2, 3), []),
        "list": [1, [2, (3,)]],
        0: "int key",
        -5: None,
        2.5: True,
        None: False,
        "floats": [0.1, -0.0, 1e308, float("inf"), float("-inf"), float("nan"), 5e-324],
        "big": 2**80,
        "text": 'quotes " and {"tensor": "t0"} and ünïcode',
        "empty": {},
    }
    loaded = _roundtrip(obj, tmp_path)
    assert list(loaded) == list(obj)  # insertion order too
    assert type(loaded["tuple"]) is tuple and type(loaded["tuple"][1]) is tuple
    assert type(loaded["tuple"][2]) is list
    assert type(loaded["list"]) is list and type(loaded["list"][1][1]) is tuple
    assert loaded[0] == "int key" and loaded[-5] is None and loaded[2.5] is True
    assert loaded[None] is False
    floats = loaded["floats"]
    assert [repr(x) for x in floats[:5]] == [repr(x) for x in obj["floats"][:5]]
    assert floats[3] == math.inf and floats[4] == -math.inf and math.isnan(floats[5])
    assert floats[6] == 5e-324 and all(type(x) is float for x in floats)
    assert loaded["big"] == 2**80 and type(loaded["big"]) is int
    assert loaded["text"] == obj["text"] and loaded["empty"] == {}


def test_unsupported_objects_are_refused_with_their_location(tmp_path):
    with pytest.raises(TypeError, match=r"type set \(at a\.b\)"):
        save({"a": {"b": {1, 2}}}, tmp_path / "x")
    with pytest.raises(TypeError, match="dict key of type tuple"):
        save({(1, 2): 3}, tmp_path / "x")
    assert not os.listdir(tmp_path)


def test_shared_tensors_are_stored_once_and_restored_shared(tmp_path):
    weight = qilin.arange(6.0).reshape(2, 3)
    other = qilin.ones(4)
    obj = {"a": weight, "b": weight, "row": weight[1], "col": weight[:, 2], "other": other}
    loaded = _roundtrip(obj, tmp_path)
    assert loaded["a"] is loaded["b"]
    assert loaded["other"] is not loaded["a"]
    np.testing.assert_array_equal(loaded["row"].numpy(), [3.0, 4.0, 5.0])
    np.testing.assert_array_equal(loaded["col"].numpy(), [2.0, 5.0])
    loaded["a"].mul_(10)  # views of one buffer keep sharing it after loading, as in torch
    np.testing.assert_array_equal(loaded["row"].numpy(), [30.0, 40.0, 50.0])
    np.testing.assert_array_equal(loaded["col"].numpy(), [20.0, 50.0])
    np.testing.assert_array_equal(loaded["other"].numpy(), np.ones(4))
    # stored once: the file holds the 6 shared floats and the 4 others, not 6 + 3 + 2 + 4
    assert os.path.getsize(tmp_path / "checkpoint.qilin") < 1200
    assert (
        sum(t.numel() for t in load_safetensors(tmp_path / "checkpoint.qilin").values())
        == 6 * 4 + 4
    )


def test_file_objects_and_map_location(tmp_path):
    buffer = io.BytesIO()
    save({"x": qilin.arange(3)}, buffer)
    buffer.seek(0)
    loaded = load(buffer, map_location="cpu")
    np.testing.assert_array_equal(loaded["x"].numpy(), [0, 1, 2])
    seen = []
    buffer.seek(0)
    load(buffer, map_location=lambda tensor, device: seen.append(device) or tensor)
    assert seen == ["cpu"]


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(qilin.randn(3, 4, dtype=qilin.float64))
        self.bias = nn.Parameter(qilin.zeros(3, dtype=qilin.float64))
        self.register_buffer("scale", qilin.tensor(2.0, dtype=qilin.float64))

    def forward(self, x):
        return ((x @ self.weight.t() + self.bias) * self.scale).tanh()


def _train(model, optimizer, steps, seed):
    generator = np.random.default_rng(seed)
    for _ in range(steps):
        x = qilin.tensor(generator.standard_normal((5, 4)))
        optimizer.zero_grad()
        (model(x) ** 2).mean().backward()
        optimizer.step()


def test_module_and_adam_state_resume_continues_identically(tmp_path):
    qilin.manual_seed(0)
    model = _Tiny()
    optimizer = optim.Adam(model.parameters(), lr=0.05, betas=(0.8, 0.95), amsgrad=True)
    _train(model, optimizer, 3, seed=1)
    save({"model": model.state_dict(), "optim": optimizer.state_dict(), "step": 3}, tmp_path / "ck")

    checkpoint = load(tmp_path / "ck")
    assert checkpoint["step"] == 3
    groups = checkpoint["optim"]["param_groups"]
    assert groups[0]["betas"] == (0.8, 0.95) and type(groups[0]["betas"]) is tuple
    assert set(checkpoint["optim"]["state"]) == {0, 1}  # int keys survive
    resumed = _Tiny()
    resumed.load_state_dict(checkpoint["model"])
    resumed_optimizer = optim.Adam(resumed.parameters(), lr=1.0)
    resumed_optimizer.load_state_dict(checkpoint["optim"])

    _train(model, optimizer, 4, seed=2)
    _train(resumed, resumed_optimizer, 4, seed=2)
    for (name, expected), (_, got) in zip(model.state_dict().items(), resumed.state_dict().items()):
        assert got.numpy().tobytes() == expected.numpy().tobytes(), name


def test_parameters_and_requires_grad_are_restored(tmp_path):
    parameter = nn.Parameter(qilin.ones(2))
    leaf = qilin.zeros(2, requires_grad=True)
    loaded = _roundtrip([parameter, leaf, parameter], tmp_path)
    assert isinstance(loaded[0], nn.Parameter) and loaded[0].requires_grad
    assert not isinstance(loaded[1], nn.Parameter) and loaded[1].requires_grad
    assert loaded[2] is loaded[0]


def test_safetensors_written_by_torch_loads_into_a_qilin_state_dict(tmp_path):
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    generator = torch.Generator().manual_seed(0)
    tensors = {
        "weight": torch.randn(3, 4, generator=generator, dtype=torch.float64),
        "bias": torch.randn(3, generator=generator, dtype=torch.float64),
        "half": torch.randn(2, generator=generator).to(torch.bfloat16),
        "ids": torch.arange(5),
    }
    path = tmp_path / "model.safetensors"
    safetensors_torch.save_file(tensors, str(path))
    for loaded in (load(path), load_safetensors(path)):
        assert set(loaded) == set(tensors)
        for key, expected in tensors.items():
            assert str(loaded[key].dtype).split(".")[1] == str(expected.dtype).split(".")[1]
            # torch has no NumPy bfloat16: compare its raw 16-bit patterns
            reference = expected.view(torch.int16) if expected.dtype == torch.bfloat16 else expected
            assert loaded[key].numpy().tobytes() == reference.numpy().tobytes(), key
    model = _Tiny()
    model.load_state_dict(
        {**load(path), "scale": qilin.tensor(2.0, dtype=qilin.float64)}, strict=False
    )
    np.testing.assert_array_equal(model.weight.detach().numpy(), tensors["weight"].numpy())


def test_save_safetensors_is_readable_by_torch(tmp_path):
    safetensors_torch = pytest.importorskip("safetensors.torch")
    path = tmp_path / "out.safetensors"
    save_safetensors({"a": qilin.arange(6.0).reshape(2, 3), "b": qilin.tensor([True, False])}, path)
    read = safetensors_torch.load_file(str(path))
    np.testing.assert_array_equal(read["a"].numpy(), np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(read["b"].numpy(), [True, False])
    # a qilin checkpoint is itself a valid safetensors file
    save({"w": qilin.ones(2)}, tmp_path / "ck")
    assert list(safetensors_torch.load_file(str(tmp_path / "ck"))) == ["w"]


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_pickle_payload_is_rejected_without_running_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "model.pt"
    path.write_bytes(pickle.dumps({"weights": _Exploit()}))
    with pytest.raises(CheckpointError, match=r"model\.pt: not a safetensors file.*pickle"):
        load(path)
    assert not (tmp_path / "pwned").exists()


def _forge(metadata: dict[str, str]) -> bytes:
    import safetensors.numpy

    return safetensors.numpy.save({"t": np.zeros(2, np.float32)}, metadata=metadata)


@pytest.mark.parametrize(
    ("root", "message"),
    [
        (
            {"pickle": "gASVIAAAAAAAAACMBXBvc2l4lIwGc3lzdGVtlJOUjAV0b3VjaJSFlFKULg=="},
            "unknown or invalid tag 'pickle'",
        ),
        (
            {"tensor": {"id": "t0", "dtype": "float32", "shape": [2], "name": "missing"}},
            "no tensor entry named 'missing'",
        ),
        (
            {"tensor": {"id": "t0", "dtype": "float32", "shape": [3], "name": "t"}},
            r"holds float32\[2\]",
        ),
        ({"tensor": {"id": "t0", "dtype": "object", "shape": [2], "name": "t"}}, "unknown dtype"),
        ({"tensor": "t9"}, "reference to unknown tensor 't9'"),
        ({"dict": [[1]]}, r"\[key, value\] pair"),
        ({"float": "1e400"}, "unknown or invalid tag 'float'"),
        ({"list": [], "tuple": []}, "unexpected JSON value"),
    ],
)
def test_malformed_structure_raises_a_clear_error(root, message, tmp_path):
    import json

    header = json.dumps({"format": "qilin.checkpoint", "version": 1, "root": root})
    path = tmp_path / "evil.qilin"
    path.write_bytes(_forge({"qilin.checkpoint": header}))
    with pytest.raises(CheckpointError, match=rf"evil\.qilin: .*{message}"):
        load(path)


def test_out_of_bounds_view_record_is_refused(tmp_path):
    import json

    import safetensors.numpy

    root = {
        "tensor": {
            "id": "t0",
            "dtype": "float64",
            "shape": [4],
            "storage": "s",
            "offset": 8,
            "strides": [8],
        }
    }
    header = json.dumps({"format": "qilin.checkpoint", "version": 1, "root": root})
    data = safetensors.numpy.save(
        {"s": np.zeros(32, np.uint8)}, metadata={"qilin.checkpoint": header}
    )
    with pytest.raises(CheckpointError, match="outside its 32-byte buffer"):
        load(io.BytesIO(data))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"short",
        b"\xff" * 8 + b"{}",
        b"PK\x03\x04" + b"\x00" * 40,
        (20).to_bytes(8, "little") + b"{not json}         ",
    ],
)
def test_garbage_files_raise_checkpoint_error(data, tmp_path):
    path = tmp_path / "bad.bin"
    path.write_bytes(data)
    with pytest.raises(CheckpointError, match=r"bad\.bin: not a"):
        load(path)


def test_unsupported_version_and_dtype_are_named(tmp_path):
    import json

    import safetensors.numpy

    header = json.dumps({"format": "qilin.checkpoint", "version": 99, "root": None})
    with pytest.raises(CheckpointError, match="version 99 is not supported"):
        load(io.BytesIO(_forge({"qilin.checkpoint": header})))
    data = safetensors.numpy.save({"u": np.zeros(2, np.uint32)})
    with pytest.raises(CheckpointError, match="tensor 'u' has dtype U32"):
        load(io.BytesIO(data))


def test_a_failed_write_leaves_the_previous_file_intact_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "ck.qilin"
    save({"version": 1, "w": qilin.zeros(1000)}, path)
    before = path.read_bytes()

    def crash_midway(file, data):
        file.write(data[: len(data) // 2])
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(serialization, "_write_all", crash_midway)
    with pytest.raises(OSError, match="simulated"):
        save({"version": 2, "w": qilin.ones(1000)}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ck.qilin"]
    assert load(path)["version"] == 1
    monkeypatch.undo()
    save({"version": 2, "w": qilin.ones(1000)}, path)
    assert load(path)["version"] == 2 and os.listdir(tmp_path) == ["ck.qilin"]


def test_deeply_nested_structure_is_a_clear_error(tmp_path):
    deep = '{"list":[' * 5000 + "]}" * 5000
    header = '{"format":"qilin.checkpoint","version":1,"root":' + deep + "}"
    with pytest.raises(CheckpointError, match="<file object>: the structure"):
        load(io.BytesIO(_forge({"qilin.checkpoint": header})))


def test_torch_model_safetensors_loads_strictly_into_the_same_qilin_model(tmp_path):
    """A torch model's state_dict saved with safetensors (the usual way weights are shared)
    loads strictly into the qilin model of the same architecture, which then computes what
    torch does."""
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    torch.manual_seed(0)
    reference = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    path = tmp_path / "weights.safetensors"
    safetensors_torch.save_file(reference.state_dict(), str(path))
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    result = model.load_state_dict(load_safetensors(path))  # strict: every key, every shape
    assert not result.missing_keys and not result.unexpected_keys
    for key, expected in reference.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[key].numpy(), expected.numpy())
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(
        model(qilin.from_numpy(x)).detach().numpy(),
        reference(torch.from_numpy(x)).detach().numpy(),
        rtol=1e-5,
        atol=1e-6,
    )


def test_safetensors_numpy_file_loads_into_a_qilin_model(tmp_path):
    import safetensors.numpy

    rng = np.random.default_rng(1)
    weights = {
        "weight": rng.standard_normal((3, 4)).astype(np.float32),
        "bias": rng.standard_normal(3).astype(np.float32),
    }
    path = tmp_path / "linear.safetensors"
    safetensors.numpy.save_file(weights, str(path))
    layer = nn.Linear(4, 3)
    layer.load_state_dict(load(path))
    x = rng.standard_normal((2, 4)).astype(np.float32)
    np.testing.assert_allclose(
        layer(qilin.from_numpy(x)).detach().numpy(),
        x @ weights["weight"].T + weights["bias"],
        rtol=1e-6,
    )


@pytest.mark.parametrize(
    "root",
    [
        {"__reduce__": ["os.system", ["touch pwned"]]},
        {"py/object": "os.system", "py/newargs": ["touch pwned"]},
        {"__class__": "subprocess.Popen", "args": ["touch", "pwned"]},
        {"tensor": {"id": "t0", "dtype": "os.system", "shape": [2], "name": "t"}},
        {"object": {"module": "os", "name": "system", "args": ["touch pwned"]}},
    ],
)
def test_code_looking_metadata_is_refused_without_running_anything(root, tmp_path, monkeypatch):
    """JSON that names callables (pickle's __reduce__, jsonpickle's py/object, class paths) is
    only ever data: it raises a clear error, and nothing is imported or executed."""
    import json
    import sys

    monkeypatch.chdir(tmp_path)
    header = json.dumps({"format": "qilin.checkpoint", "version": 1, "root": root})
    path = tmp_path / "evil.safetensors"
    path.write_bytes(_forge({"qilin.checkpoint": header}))
    modules_before = set(sys.modules)
    with pytest.raises(CheckpointError, match=r"evil\.safetensors: malformed checkpoint structure"):
        load(path)
    assert not (tmp_path / "pwned").exists()
    assert set(sys.modules) == modules_before  # nothing was imported on the file's behalf


def test_class_path_strings_load_as_plain_strings(tmp_path, monkeypatch):
    """Well-formed data that merely mentions code stays data."""
    monkeypatch.chdir(tmp_path)
    obj = {"__reduce__": ("os.system", "touch pwned"), "__class__": "subprocess.Popen"}
    loaded = _roundtrip(obj, tmp_path)
    assert loaded == obj and not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("writer", ["pickle", "torch.save"])
def test_pickle_files_renamed_to_safetensors_are_refused(writer, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "model.safetensors"
    if writer == "pickle":
        path.write_bytes(pickle.dumps(_Exploit(), protocol=2))
        hint = "pickle"
    else:
        torch = pytest.importorskip("torch")
        torch.save({"weights": _Exploit()}, str(path))
        hint = "zip archive"
        assert (tmp_path / "pwned").exists() is False
    for reader in (load, load_safetensors):
        with pytest.raises(
            CheckpointError, match=rf"model\.safetensors: not a safetensors.*{hint}"
        ):
            reader(path)
    assert not (tmp_path / "pwned").exists()
