"""Devices: parsing and identity against torch.device, clear errors when CUDA is missing, and
GPU round trips that run only where CuPy and a GPU are present."""

from __future__ import annotations

import pickle

import pytest

import qilin
from qilin.device import resolve

torch = pytest.importorskip("torch")

needs_gpu = pytest.mark.skipif(not qilin.cuda.is_available(), reason="no CUDA GPU with CuPy")
needs_no_gpu = pytest.mark.skipif(qilin.cuda.is_available(), reason="a CUDA GPU is present")

GOOD = [
    ("cpu",),
    ("cuda",),
    ("cuda:0",),
    ("cuda:1",),
    ("cuda:12",),
    ("cuda", 0),
    ("cuda", 3),
    ("cpu", 0),
    ("cpu:0",),
]


@pytest.mark.parametrize("spec", GOOD, ids=str)
def test_device_matches_torch(spec):
    q, t = qilin.device(*spec), torch.device(*spec)
    assert (q.type, q.index) == (t.type, t.index)
    assert str(q) == str(t) and repr(q) == repr(t)


def test_device_keywords_and_identity():
    assert qilin.Device(type="cuda", index=1) is qilin.Device("cuda:1") is qilin.device("cuda", 1)
    cpu = qilin.Device("cpu")
    assert qilin.Device(cpu) is cpu and qilin.device is qilin.Device
    assert qilin.Device("cuda") != qilin.Device("cuda:0")  # as in torch: index None vs 0
    assert qilin.Device("cuda:1") == "cuda:1" and qilin.Device("cpu") != "cuda"
    assert qilin.Device("cpu") != "not a device"
    assert hash(qilin.Device("cuda", 1)) == hash(qilin.Device("cuda:1"))
    assert len({qilin.Device("cpu"), qilin.Device("cpu"), qilin.Device("cuda:0")}) == 2
    assert qilin.Device(2) is qilin.Device("cuda:2")
    for device in (qilin.Device("cpu"), qilin.Device("cuda:3"), qilin.Device("cuda")):
        assert pickle.loads(pickle.dumps(device)) is device


BAD = [
    ("gpu",),
    ("CUDA",),
    ("cuda:x",),
    ("cuda:-1",),
    ("cuda:01",),
    ("cuda:1:2",),
    (" cuda",),
    ("cuda", -1),
    ("cuda:1", 2),
    (":1",),
]


@pytest.mark.parametrize("spec", BAD, ids=str)
def test_bad_device_strings_raise_like_torch(spec):
    with pytest.raises(Exception) as torch_error:
        torch.device(*spec)
    with pytest.raises(type(torch_error.value)) as qilin_error:
        qilin.device(*spec)
    assert spec[0].strip() in str(qilin_error.value) or "negative" in str(qilin_error.value)


def test_bad_device_types():
    with pytest.raises(TypeError, match="device"):
        qilin.device(1.5)
    with pytest.raises(TypeError, match="device"):
        qilin.device(None)
    with pytest.raises(RuntimeError, match="cpu, cuda"):
        qilin.device("tpu")


def test_tensors_live_on_concrete_devices():
    for spec in (None, "cpu", "cpu:0", qilin.device("cpu", 0)):
        t = qilin.zeros(2, device=spec)
        assert t.device is qilin.device("cpu") and t.device.index is None
    assert resolve("cpu:0") is qilin.device("cpu")
    assert qilin.tensor([1.0], device="cpu").to("cpu:0").device is qilin.device("cpu")


# ----- CUDA requested where it is missing ------------------------------------------------------
CUDA_REQUESTS = {
    "tensor": lambda: qilin.tensor([1.0], device="cuda"),
    "tensor_index": lambda: qilin.tensor([1.0], device="cuda:0"),
    "zeros": lambda: qilin.zeros(2, device="cuda"),
    "full": lambda: qilin.full((2,), 1.0, device=qilin.device("cuda")),
    "arange": lambda: qilin.arange(3, device="cuda"),
    "rand": lambda: qilin.rand(2, device="cuda"),
    "randint": lambda: qilin.randint(3, (2,), device="cuda"),
    "to": lambda: qilin.zeros(2).to("cuda"),
    "cuda_method": lambda: qilin.zeros(2).cuda(),
    "zeros_like": lambda: qilin.zeros_like(qilin.zeros(2), device="cuda"),
}


@needs_no_gpu
@pytest.mark.parametrize("name", sorted(CUDA_REQUESTS))
def test_cuda_without_gpu_is_a_clear_runtime_error(name):
    with pytest.raises(RuntimeError) as error:
        CUDA_REQUESTS[name]()
    message = str(error.value)
    assert "CUDA" in message and "requested" in message
    assert any(word in message for word in ("CuPy", "driver", "GPU")), message
    assert not isinstance(error.value, ImportError)


@needs_no_gpu
def test_cuda_is_not_available():
    assert qilin.cuda.is_available() is False
    assert qilin.cuda.device_count() == 0


def test_cuda_namespace():
    assert isinstance(qilin.cuda.is_available(), bool)
    assert isinstance(qilin.cuda.device_count(), int)
    qilin.cuda.manual_seed(1)
    qilin.cuda.manual_seed_all(1)


# ----- with a GPU ------------------------------------------------------------------------------
@needs_gpu
def test_gpu_round_trip():
    t = qilin.tensor([[1.0, 2.0], [3.0, 4.0]], device="cuda")
    assert t.device == qilin.device("cuda:0") and t.is_cuda
    assert t.device is not qilin.device("cuda")  # tensors name a concrete device
    back = (t * 2 + 1).cpu()
    assert back.device.type == "cpu" and back.tolist() == [[3.0, 5.0], [7.0, 9.0]]
    assert repr(t).endswith("device='cuda:0')")
    assert t.type() == "torch.cuda.FloatTensor"
    with pytest.raises(TypeError, match="cpu"):
        t.numpy()


@needs_gpu
def test_gpu_factories_and_random():
    assert qilin.zeros(2, device="cuda").device == qilin.device("cuda:0")
    assert qilin.arange(4, device="cuda").cpu().tolist() == [0, 1, 2, 3]
    qilin.manual_seed(3)
    on_gpu = qilin.rand(5, device="cuda").cpu().tolist()
    qilin.manual_seed(3)
    assert qilin.rand(5).tolist() == on_gpu  # the same seed gives the same numbers everywhere
    x = qilin.ones(3, device="cuda", requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.device == x.device and x.grad.cpu().tolist() == [2.0, 2.0, 2.0]


@needs_gpu
def test_gpu_device_mismatch_is_reported():
    with pytest.raises(RuntimeError, match="same device"):
        qilin.ones(2, device="cuda") + qilin.ones(2)
