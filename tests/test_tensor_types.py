"""The legacy tensor types (qilin.FloatTensor, ...) and Tensor.type(), against torch."""

import numpy as np
import pytest

import qilin

torch = pytest.importorskip("torch")

TYPES = [
    "FloatTensor",
    "DoubleTensor",
    "HalfTensor",
    "BFloat16Tensor",
    "LongTensor",
    "IntTensor",
    "ShortTensor",
    "CharTensor",
    "ByteTensor",
    "BoolTensor",
]
DTYPES = ["float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8"]
DTYPES.append("bool")


def _dtype_name(tensor) -> str:
    return str(tensor.dtype).split(".")[-1]


@pytest.mark.parametrize("name", TYPES)
@pytest.mark.parametrize(
    "args",
    [(2, 3), (4,), (), ([1, 0, 1],), ([[1, 2], [0, 3]],), ("size",), (np.array([3, 0]),)],
)
def test_constructors_make_the_dtype_and_shape_torch_makes(name, args):
    def make(lib):
        call = tuple(lib.Size([2, 1]) if isinstance(a, str) else a for a in args)
        return getattr(lib, name)(*call)

    ours, theirs = make(qilin), make(torch)
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert _dtype_name(ours) == _dtype_name(theirs)
    if args and not isinstance(args[0], (int, str)):  # data, not sizes
        np.testing.assert_array_equal(ours.float().numpy(), theirs.float().numpy())


@pytest.mark.parametrize("name", TYPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_isinstance_is_true_exactly_for_the_dtype(name, dtype):
    ours = isinstance(qilin.zeros(2, dtype=getattr(qilin, dtype)), getattr(qilin, name))
    theirs = isinstance(torch.zeros(2, dtype=getattr(torch, dtype)), getattr(torch, name))
    assert ours == theirs
    assert isinstance(qilin.zeros(2), qilin.Tensor)
    assert not isinstance(np.zeros(2, dtype=np.float32), qilin.FloatTensor)


def test_a_tensor_of_the_same_type_passes_through_and_another_is_refused():
    x = qilin.tensor([1.0, 2.0])
    assert qilin.FloatTensor(x).data_ptr() == x.data_ptr()
    with pytest.raises(TypeError, match="float32"):
        qilin.FloatTensor(qilin.tensor([1, 2]))
    with pytest.raises(TypeError, match="data must be a sequence"):
        qilin.FloatTensor(2.5)
    with pytest.raises(RuntimeError, match="negative dimension -1"):
        qilin.FloatTensor(-1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_type_names_the_tensor_as_torch_does(dtype):
    ours = qilin.zeros(2, dtype=getattr(qilin, dtype)).type()
    theirs = torch.zeros(2, dtype=getattr(torch, dtype)).type()
    # the torch spelling on purpose: scripts compare it with torch literals
    assert ours == theirs


@pytest.mark.parametrize(
    "target",
    [
        lambda lib: lib.float64,
        lambda lib: lib.DoubleTensor,
        lambda lib: "torch.IntTensor",
        lambda lib: "torch.HalfTensor",
        lambda lib: "qilin.LongTensor" if lib is qilin else "torch.LongTensor",
        lambda lib: lib.BoolTensor,
    ],
)
def test_type_with_an_argument_converts_like_torch(target):
    ours = qilin.tensor([1.5, 0.0, -2.0]).type(target(qilin))
    theirs = torch.tensor([1.5, 0.0, -2.0]).type(target(torch))
    assert ours.type() == theirs.type()
    np.testing.assert_array_equal(ours.float().numpy(), theirs.float().numpy())


def test_type_to_the_same_type_returns_self_and_bad_names_are_refused():
    x = qilin.ones(2)
    assert x.type(qilin.float32) is x and x.type("torch.FloatTensor") is x
    with pytest.raises(ValueError, match="invalid type: 'torch.Foo'"):
        x.type("torch.Foo")


def test_scripts_comparing_type_strings_run_unchanged():
    import qilin as torch_alias  # what `import qilin as torch` gives a script

    x = torch_alias.FloatTensor([1.0, 2.0])
    assert x.type() == "torch.FloatTensor"
    assert x.long().type() == "torch.LongTensor"
    assert isinstance(x.double(), torch_alias.DoubleTensor)
    assert repr(torch_alias.FloatTensor) == "<class 'qilin.FloatTensor'>"
