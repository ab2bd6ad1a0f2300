"""The Tensor's attribute and conversion API against torch: metadata, item/tolist/numpy, to(),
dtype conversions, Python protocols, pickling and copying, Size, hashing and NumPy scalars."""

from __future__ import annotations

import copy
import operator
import pickle
import warnings

import numpy as np
import pytest

import qilin

from .test_creation import assert_same

torch = pytest.importorskip("torch")


def pair(data):
    """The same data as a qilin and a torch tensor."""
    return qilin.tensor(data), torch.tensor(data)


MATRIX = [[1.0, -2.0, 3.0], [4.0, 5.5, -6.0]]


# ----- metadata --------------------------------------------------------------------------------
@pytest.mark.parametrize("data", [MATRIX, [1, 2, 3], 2.5, [[[True]]], [[]]], ids=str)
def test_metadata_matches_torch(data):
    q, t = pair(data)
    assert tuple(q.shape) == tuple(t.shape)
    assert q.size() == tuple(t.size()) and isinstance(q.size(), qilin.Size)
    assert q.dim() == t.dim() and q.ndim == t.ndim and q.ndimension() == t.ndimension()
    assert q.numel() == t.numel() and q.nelement() == t.nelement()
    assert q.dtype.name == str(t.dtype).removeprefix("torch.")
    assert q.element_size() == t.element_size()
    assert q.is_floating_point() == t.is_floating_point()
    assert q.device == qilin.device("cpu") and q.device.type == "cpu" and not q.is_cuda
    for dim in range(-q.dim(), q.dim()):
        assert q.size(dim) == t.size(dim)


def test_size_dim_out_of_range():
    with pytest.raises(IndexError, match=r"range of \[-2, 1\], but got 2"):
        qilin.zeros(2, 3).size(2)


@pytest.mark.parametrize(
    "dtype",
    [
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
    ],
)
def test_element_size_and_type_names(dtype):
    q = qilin.zeros(2, dtype=getattr(qilin, dtype))
    t = torch.zeros(2, dtype=getattr(torch, dtype))
    assert q.element_size() == t.element_size()
    assert q.type() == t.type()  # the torch spelling: scripts compare it with literals


def test_autograd_attributes():
    leaf = qilin.tensor([1.0, 2.0], requires_grad=True)
    assert leaf.requires_grad and leaf.is_leaf and leaf.grad is None and leaf.grad_fn is None
    out = (leaf * leaf).sum()
    assert not out.is_leaf and out.grad_fn is not None
    out.backward()
    np.testing.assert_allclose(leaf.grad.numpy(), [2.0, 4.0])
    plain = qilin.tensor([1.0])
    assert not plain.requires_grad and plain.is_leaf
    plain.requires_grad = True
    assert plain.requires_grad
    with pytest.raises(RuntimeError, match="floating point"):
        qilin.tensor([1]).requires_grad_()


# ----- scalars and lists -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "data,dtype",
    [
        (1.5, None),
        ([3], None),
        (True, None),
        (7, "int32"),
        ([[0.25]], "float16"),
        (-2.0, "float64"),
    ],
)
def test_item(data, dtype):
    q = qilin.tensor(data, dtype=getattr(qilin, dtype) if dtype else None)
    t = torch.tensor(data, dtype=getattr(torch, dtype) if dtype else None)
    assert q.item() == t.item() and type(q.item()) is type(t.item())


def test_item_errors_on_many_elements():
    with pytest.raises(RuntimeError, match="4 elements cannot be converted"):
        qilin.zeros(2, 2).item()


@pytest.mark.parametrize("data", [MATRIX, [1, 2], 2.5, [True, False], [[]]], ids=str)
def test_tolist(data):
    q, t = pair(data)
    assert q.tolist() == t.tolist()
    assert type(q.tolist()) is type(t.tolist())


def test_tolist_types():
    assert type(qilin.tensor([1]).tolist()[0]) is int
    assert type(qilin.tensor([1.0], dtype=qilin.float16).tolist()[0]) is float
    assert type(qilin.tensor([True]).tolist()[0]) is bool


# ----- numpy interop ---------------------------------------------------------------------------
def test_numpy_shares_memory():
    t = qilin.zeros(2, 3)
    array = t.numpy()
    array[0, 0] = 5.0
    assert t[0, 0].item() == 5.0
    t[1, 1] = 7.0
    assert array[1, 1] == 7.0
    assert array.dtype == np.float32


def test_numpy_refuses_requires_grad():
    t = qilin.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"detach\(\)\.numpy\(\)"):
        t.numpy()
    assert t.detach().numpy().tolist() == [1.0, 1.0]


@pytest.mark.parametrize(
    "dtype", ["bool", "uint8", "int32", "int64", "float16", "float32", "float64"]
)
def test_array_protocol(dtype):
    q = qilin.ones(3, dtype=getattr(qilin, dtype))
    array = np.asarray(q)
    assert array.dtype == np.asarray(torch.ones(3, dtype=getattr(torch, dtype))).dtype
    assert np.array(q, dtype=np.float64).dtype == np.float64
    if dtype == "float32":
        array[0] = 9
        assert q[0].item() == 9  # np.asarray shares memory, as with torch


# ----- to() and dtype conversions --------------------------------------------------------------
CONVERSIONS = [
    "float",
    "double",
    "half",
    "bfloat16",
    "long",
    "int",
    "short",
    "char",
    "byte",
    "bool",
]


@pytest.mark.parametrize("method", CONVERSIONS)
def test_dtype_conversion_methods(method):
    q, t = pair([[1.7, -2.2], [0.0, 3.5]])
    assert_same(getattr(q, method)(), getattr(t, method)())


def test_conversion_is_identity_when_dtype_matches():
    q = qilin.tensor([1.0, 2.0])
    assert q.float() is q and q.to(qilin.float32) is q and q.to("cpu") is q
    assert q.type(qilin.float32) is q
    copied = q.to(copy=True)
    assert copied is not q and copied.tolist() == q.tolist()
    copied[0] = 9.0
    assert q[0].item() == 1.0


TO_CASES = {
    "dtype": lambda lib, x, i: x.to(lib.int64),
    "dtype_keyword": lambda lib, x, i: x.to(dtype=lib.float64),
    "other": lambda lib, x, i: x.to(i),
    "device_and_dtype": lambda lib, x, i: x.to("cpu", lib.float64),
    "device_object": lambda lib, x, i: x.to(lib.device("cpu"), dtype=lib.int32),
    "type_dtype": lambda lib, x, i: x.type(lib.int32),
    "type_string": lambda lib, x, i: x.type(f"{lib.__name__}.IntTensor"),
    "type_as": lambda lib, x, i: x.type_as(i),
    "int_to_float": lambda lib, x, i: i.float(),
    "cpu": lambda lib, x, i: x.cpu(),
}


@pytest.mark.parametrize("name", sorted(TO_CASES))
def test_to_matches_torch(name):
    build = TO_CASES[name]
    got = build(qilin, qilin.tensor(MATRIX), qilin.tensor([1, 2]))
    want = build(torch, torch.tensor(MATRIX), torch.tensor([1, 2]))
    assert_same(got, want)


def test_to_keeps_gradients_flowing():
    x = qilin.tensor([1.0, 2.0], requires_grad=True)
    y = x.double()
    assert y.requires_grad and y.grad_fn is not None
    (y * 3).sum().backward()
    assert x.grad.dtype is qilin.float32 and x.grad.tolist() == [3.0, 3.0]


def test_to_rejects_unknown_keywords():
    with pytest.raises(TypeError, match="unexpected keyword"):
        qilin.zeros(2).to(colour="red")


# ----- clone, detach, contiguous ---------------------------------------------------------------
def test_clone_copies_and_keeps_graph():
    x = qilin.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert c.requires_grad and not c.is_leaf
    assert c.untyped_storage_id() != x.untyped_storage_id()
    c.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]


def test_detach_shares_memory():
    x = qilin.tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and d.is_leaf
    d[0] = 10.0
    assert x[0].item() == 10.0


def test_contiguous():
    x = qilin.arange(6.0).reshape(2, 3)
    assert x.contiguous() is x
    transposed = x.t()
    assert not transposed.is_contiguous()
    made = transposed.contiguous()
    assert made.is_contiguous() and made.tolist() == transposed.tolist()


# ----- Python protocols ------------------------------------------------------------------------
def test_len_and_iter():
    q, t = pair(MATRIX)
    assert len(q) == len(t) == 2
    rows = list(q)
    assert [r.tolist() for r in rows] == [r.tolist() for r in t]
    assert all(isinstance(r, qilin.Tensor) for r in rows)
    with pytest.raises(TypeError, match="0-d"):
        len(qilin.tensor(1.0))
    with pytest.raises(TypeError, match="0-d"):
        iter(qilin.tensor(1.0))


@pytest.mark.parametrize("data", [[1.0], [0.0], 2, 0, True, [[False]]], ids=str)
def test_scalar_conversions(data):
    q, t = pair(data)
    assert bool(q) == bool(t)
    assert float(q) == float(t)
    assert int(q) == int(t)


def test_int_truncates_toward_zero():
    assert int(qilin.tensor(2.7)) == int(torch.tensor(2.7)) == 2
    assert int(qilin.tensor(-2.7)) == int(torch.tensor(-2.7)) == -2


@pytest.mark.parametrize("convert", [bool, float, int], ids=lambda f: f.__name__)
def test_scalar_conversion_errors_match_torch(convert):
    with pytest.raises(Exception) as torch_error:
        convert(torch.zeros(2, 2))
    with pytest.raises(type(torch_error.value)):
        convert(qilin.zeros(2, 2))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(qilin.tensor([]))


def test_index_protocol():
    items = list(range(10))
    assert items[qilin.tensor(3)] == 3
    assert range(10)[qilin.tensor([4])] == 4
    assert operator.index(qilin.tensor(5, dtype=qilin.int32)) == 5
    for bad in (qilin.tensor(3.0), qilin.tensor([1, 2])):
        with pytest.raises(TypeError, match="integer tensors of a single element"):
            operator.index(bad)


def test_format():
    assert f"{qilin.tensor(1.5):.3f}" == f"{torch.tensor(1.5):.3f}" == "1.500"
    assert f"{qilin.tensor([1.0, 2.0])}" == repr(qilin.tensor([1.0, 2.0]))


# ----- pickling and copying --------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16", "int64", "bool", "uint8"])
def test_pickle_round_trip(dtype):
    x = qilin.tensor([[1, 0], [3, 4]], dtype=getattr(qilin, dtype))
    y = pickle.loads(pickle.dumps(x))
    assert y.dtype is x.dtype and y.tolist() == x.tolist() and not y.requires_grad
    assert y.untyped_storage_id() != x.untyped_storage_id()


def test_pickle_keeps_requires_grad_and_views():
    x = qilin.tensor([1.0, 2.0], requires_grad=True)
    y = pickle.loads(pickle.dumps(x))
    assert y.requires_grad and y.is_leaf and y.tolist() == [1.0, 2.0]
    view = qilin.arange(6.0).reshape(2, 3)[:, 1]
    assert pickle.loads(pickle.dumps(view)).tolist() == view.tolist()
    scalar = qilin.tensor(3)
    assert pickle.loads(pickle.dumps(scalar)).shape == ()


def test_deepcopy():
    x = qilin.tensor([1.0, 2.0], requires_grad=True)
    x.grad = qilin.tensor([0.5, 0.5])
    y = copy.deepcopy(x)
    assert y.requires_grad and y.is_leaf and y.tolist() == x.tolist()
    assert y.grad.tolist() == [0.5, 0.5] and y.grad is not x.grad
    y.detach()[0] = 9.0
    assert x[0].item() == 1.0
    shared = [x, x]
    copied = copy.deepcopy(shared)
    assert copied[0] is copied[1]
    with pytest.raises(RuntimeError, match="graph leaves"):
        copy.deepcopy(x * 2)


# ----- Size, hashing ---------------------------------------------------------------------------
def test_size():
    size = qilin.Size([2, 3])
    assert repr(size) == repr(torch.Size([2, 3])).replace("torch", "qilin")
    assert repr(qilin.Size([])) == "qilin.Size([])"
    assert size.numel() == torch.Size([2, 3]).numel() == 6
    assert qilin.Size([]).numel() == 1
    assert size == (2, 3) and isinstance(size, tuple)
    assert isinstance(size[1:], qilin.Size) and size[1:] == (3,)
    assert isinstance(size + (4,), qilin.Size) and size + (4,) == (2, 3, 4)
    assert qilin.zeros(2, 3).shape == size
    assert pickle.loads(pickle.dumps(size)) == size


def test_tensors_hash_by_identity():
    a, b = qilin.tensor([1.0]), qilin.tensor([1.0])
    table = {a: "a", b: "b"}
    assert table[a] == "a" and table[b] == "b" and len(table) == 2
    assert hash(a) == hash(a) and hash(a) != hash(b)
    assert a in {a} and b not in {a}


# ----- NumPy scalars on either side ------------------------------------------------------------
NUMPY_SCALAR_CASES = {
    "f32_times": lambda lib, x, i: np.float32(2) * x,
    "times_f32": lambda lib, x, i: x * np.float32(2),
    "f64_plus_int": lambda lib, x, i: np.float64(2) + i,
    "int_plus_f64": lambda lib, x, i: i + np.float64(2),
    "i64_times": lambda lib, x, i: np.int64(2) * x,
    "f32_minus": lambda lib, x, i: np.float32(2) - x,
    "f32_div": lambda lib, x, i: np.float32(2) / x,
    "f32_pow": lambda lib, x, i: np.float32(2) ** x,
    "f32_gt": lambda lib, x, i: np.float32(2) > x,
    "i32_floordiv": lambda lib, x, i: np.int32(7) // i,
    "f64_half": lambda lib, x, i: np.float64(2) * x.half(),
}


@pytest.mark.parametrize("name", sorted(NUMPY_SCALAR_CASES))
def test_numpy_scalars_on_either_side(name):
    build = NUMPY_SCALAR_CASES[name]
    got = build(qilin, qilin.tensor(MATRIX), qilin.tensor([1, 2]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = build(torch, torch.tensor(MATRIX), torch.tensor([1, 2]))
    assert_same(got, want, exact=False)
