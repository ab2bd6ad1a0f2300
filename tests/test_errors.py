# ruff: noqa: E501  (the table of cases below keeps one case a line)
"""User-facing errors: a table of common mistakes.

Each case runs unchanged on qilin and (when installed) on torch. qilin must raise the same kind
of exception as torch, with a message that names the op and what was expected and given (the
fragments), and that points at the user's own line: "test_errors.py:<a line of the case>".
"""

import builtins
import re
import warnings

import numpy as np
import pytest

import qilin
from qilin.errors import has_location, located, user_stacklevel
from qilin.tensor import _wrap

try:
    import torch
except ImportError:  # torch is only the oracle
    torch = None


def _twice(lib):
    x = lib.ones(2, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    y.backward()


def _case(name, call, kind, *fragments, located=True):
    return pytest.param(call, kind, fragments, located, id=name)


# (name, call, exception type, fragments of the message): one case a line, as a table.
# fmt: off
CASES = [
    # matrix products: the op, both shapes and the sizes that differ
    _case("matmul_inner", lambda lib: lib.matmul(lib.ones(3, 4), lib.ones(5, 6)), RuntimeError, "matmul", "(3, 4)", "(5, 6)", "inner sizes 4 and 5"),
    _case("matmul_operator", lambda lib: lib.ones(3, 4) @ lib.ones(5, 6), RuntimeError, "(3, 4)", "(5, 6)", "4 and 5"),
    _case("matmul_vector", lambda lib: lib.matmul(lib.ones(3, 4), lib.ones(5)), RuntimeError, "(3, 4)", "(5,)", "4 and 5"),
    _case("matmul_batch", lambda lib: lib.matmul(lib.ones(2, 3, 4), lib.ones(3, 4, 6)), RuntimeError, "matmul", "(2, 3, 4)", "(3, 4, 6)", "(2,) and (3,)"),
    _case("mm_inner", lambda lib: lib.mm(lib.ones(3, 4), lib.ones(5, 6)), RuntimeError, "mm:", "(3, 4)", "(5, 6)", "4 and 5"),
    _case("mm_rank", lambda lib: lib.mm(lib.ones(2, 3, 4), lib.ones(4, 6)), RuntimeError, "mm:", "2D", "3D", "[2, 3, 4]"),
    _case("bmm_inner", lambda lib: lib.bmm(lib.ones(2, 3, 4), lib.ones(2, 5, 6)), RuntimeError, "bmm:", "(2, 3, 4)", "(2, 5, 6)", "4 and 5"),
    _case("bmm_batch", lambda lib: lib.bmm(lib.ones(2, 3, 4), lib.ones(3, 4, 6)), RuntimeError, "bmm:", "batch sizes 2 and 3"),
    _case("bmm_rank", lambda lib: lib.bmm(lib.ones(3, 4), lib.ones(4, 6)), RuntimeError, "bmm:", "3D", "2D", "[3, 4]"),
    _case("mv_inner", lambda lib: lib.mv(lib.ones(3, 4), lib.ones(5)), RuntimeError, "mv:", "(3, 4)", "(5,)", "4 and 5"),
    _case("dot_sizes", lambda lib: lib.dot(lib.ones(3), lib.ones(4)), RuntimeError, "[3]", "[4]"),
    _case("outer_rank", lambda lib: lib.outer(lib.ones(2, 2), lib.ones(3)), RuntimeError, "outer", "1-D", "2-D"),
    _case("matmul_dtype", lambda lib: lib.matmul(lib.ones(2, 3), lib.ones(3, 4, dtype=lib.float64)), RuntimeError, "same dtype", "float32", "float64"),
    _case("mm_int_dtype", lambda lib: lib.mm(lib.ones(2, 3), lib.ones(3, 4, dtype=lib.int64)), RuntimeError, "same dtype", "float32", "int64"),
    # broadcasting
    _case("add_broadcast", lambda lib: lib.ones(2, 3) + lib.ones(4, 3), RuntimeError, "add", "(2, 3)", "(4, 3)", "2 in one and 4"),
    _case("mul_broadcast", lambda lib: lib.mul(lib.ones(2, 3), lib.ones(2, 4)), RuntimeError, "mul", "(2, 3)", "(2, 4)"),
    _case("compare_broadcast", lambda lib: lib.ones(2) == lib.ones(3), RuntimeError, "eq", "(2,)", "(3,)"),
    _case("where_broadcast", lambda lib: lib.where(lib.ones(2, 3) > 0, lib.ones(2, 3), lib.ones(4, 3)), RuntimeError, "where", "(4, 3)", "2 in one and 4"),
    _case("masked_fill_broadcast", lambda lib: lib.ones(2, 3).masked_fill(lib.ones(4, 3) > 0, 0.0), RuntimeError, "masked_fill", "(4, 3)", "(2, 3)"),
    _case("inplace_broadcast", lambda lib: lib.ones(2).add_(lib.ones(2, 2)), RuntimeError, "[2]", "[2, 2]"),
    _case("cat_sizes", lambda lib: lib.cat([lib.ones(2, 3), lib.ones(2, 4)]), RuntimeError, "Expected size 3 but got size 4", "[2, 3]", "[2, 4]"),
    _case("cat_ranks", lambda lib: lib.cat([lib.ones(2, 3), lib.ones(2, 3, 4)]), RuntimeError, "same number of dimensions", "2 and 3"),
    _case("cat_not_tensor", lambda lib: lib.cat([lib.ones(2), [1.0]]), TypeError, "element 1", "list"),
    _case("stack_sizes", lambda lib: lib.stack([lib.ones(2, 3), lib.ones(2, 4)]), RuntimeError, "equal size", "[2, 3]", "[2, 4]", "entry 1"),
    # reshape and view
    _case("reshape_size", lambda lib: lib.ones(2, 3).reshape(4, 2), RuntimeError, "[4, 2]", "size 6"),
    _case("view_size", lambda lib: lib.ones(2, 3).view(4, 2), RuntimeError, "[4, 2]", "size 6"),
    _case("reshape_two_unknown", lambda lib: lib.ones(2, 3).reshape(-1, -1), RuntimeError, "only one dimension can be inferred", "[-1, -1]"),
    _case("view_not_contiguous", lambda lib: lib.ones(2, 3).t().view(6), RuntimeError, "view size is not compatible", "[3, 2]", "[6]", ".reshape"),
    _case("expand_size", lambda lib: lib.ones(2, 3).expand(4, 3), RuntimeError, "expanded size of the tensor (4)", "existing size (2)"),
    # dims out of range: the op, the valid range and the dim given
    _case("sum_dim", lambda lib: lib.ones(2, 3).sum(dim=2), IndexError, "sum", "[-2, 1]", "got 2"),
    _case("sum_dims", lambda lib: lib.sum(lib.ones(2, 3), (0, 5)), IndexError, "sum", "[-2, 1]", "got 5"),
    _case("mean_dim", lambda lib: lib.ones(2, 3).mean(dim=-3), IndexError, "mean", "[-2, 1]", "got -3"),
    _case("amax_repeated", lambda lib: lib.ones(2, 3).amax(dim=(0, 0)), RuntimeError, "dim 0 appears multiple times"),
    _case("logsumexp_dim", lambda lib: lib.logsumexp(lib.ones(2, 3), dim=2), IndexError, "logsumexp", "[-2, 1]", "got 2"),
    _case("cumsum_dim", lambda lib: lib.ones(2, 3).cumsum(dim=2), IndexError, "cumsum", "got 2"),
    _case("argmax_dim", lambda lib: lib.ones(2, 3).argmax(dim=2), IndexError, "argmax", "got 2"),
    _case("max_dim", lambda lib: lib.ones(2, 3).max(dim=-4), IndexError, "max", "got -4"),
    _case("transpose_dim", lambda lib: lib.ones(2, 3).transpose(0, 2), IndexError, "transpose", "[-2, 1]", "got 2"),
    _case("squeeze_dim", lambda lib: lib.ones(2, 3).squeeze(3), IndexError, "squeeze", "got 3"),
    _case("unsqueeze_dim", lambda lib: lib.ones(2, 3).unsqueeze(3), IndexError, "unsqueeze", "[-3, 2]", "got 3"),
    _case("cat_dim", lambda lib: lib.cat([lib.ones(2, 3), lib.ones(2, 3)], dim=2), IndexError, "cat", "[-2, 1]", "got 2"),
    _case("stack_dim", lambda lib: lib.stack([lib.ones(2), lib.ones(2)], dim=3), IndexError, "stack", "[-2, 1]", "got 3"),
    _case("size_dim", lambda lib: lib.ones(2, 3).size(2), IndexError, "[-2, 1]", "got 2"),
    _case("gather_dim", lambda lib: lib.gather(lib.ones(2, 3), 2, lib.tensor([[0]])), IndexError, "gather", "got 2"),
    # indexing
    _case("index_int", lambda lib: lib.ones(2, 3)[2], IndexError, "index 2", "dimension 0", "size 2"),
    _case("index_second", lambda lib: lib.ones(2, 3)[0, 3], IndexError, "index 3", "dimension 1", "size 3"),
    _case("index_negative", lambda lib: lib.ones(2, 3)[-3], IndexError, "index -3", "size 2"),
    _case("index_too_many", lambda lib: lib.ones(2, 3)[0, 0, 0], IndexError, "too many indices", "dimension 2"),
    _case("index_tensor", lambda lib: lib.ones(2, 3)[lib.tensor([0, 5])], IndexError, "index 5", "dimension 0", "size 2"),
    _case("index_float_tensor", lambda lib: lib.ones(2, 3)[lib.tensor([0.0, 1.0])], IndexError, "long, int, byte or bool", "float32"),
    _case("index_mask_shape", lambda lib: lib.ones(2, 3)[lib.ones(3, dtype=lib.bool)], IndexError, "mask [3]", "[2, 3]"),
    _case("setitem_index", lambda lib: lib.ones(2, 3).__setitem__(5, 1.0), IndexError, "index 5", "size 2"),
    _case("gather_float_index", lambda lib: lib.gather(lib.ones(2, 3), 1, lib.tensor([[0.0]])), RuntimeError, "gather", "int32/int64", "float32"),
    _case("gather_out_of_range", lambda lib: lib.gather(lib.ones(2, 3), 1, lib.tensor([[5]])), RuntimeError, "index 5", "dimension 1", "size 3"),
    _case("index_select_float", lambda lib: lib.index_select(lib.ones(2, 3), 0, lib.tensor([0.0])), RuntimeError, "index_select", "int32", "float32"),
    # dtypes
    _case("mean_int", lambda lib: lib.arange(6).mean(), RuntimeError, "mean", "floating point", "int64"),
    _case("var_int", lambda lib: lib.arange(6).var(), RuntimeError, "floating point", "int64"),
    _case("std_int", lambda lib: lib.arange(6).std(), RuntimeError, "floating point", "int64"),
    _case("bitwise_float", lambda lib: lib.ones(2) & lib.ones(2), NotImplementedError, "bitwise_and", "float32"),
    _case("inplace_dtype", lambda lib: lib.ones(2, dtype=lib.int64).add_(lib.ones(2)), RuntimeError, "can't be cast", "float32", "int64"),
    _case("bad_dtype_name", lambda lib: lib.ones(2, dtype="flaot32"), TypeError, "flaot32", located=False),
    _case("bad_device_string", lambda lib: lib.ones(2, device="tpu"), RuntimeError, "cpu", "cuda", "tpu", located=False),
    _case("bad_device_index", lambda lib: lib.device("cuda:x"), RuntimeError, "cuda:x", located=False),
    # autograd
    _case("requires_grad_int", lambda lib: lib.ones(2, dtype=lib.int64).requires_grad_(), RuntimeError, "floating point", "int64"),
    _case("backward_not_scalar", lambda lib: (lib.ones(2, requires_grad=True) * 2).backward(), RuntimeError, "scalar outputs", "[2]"),
    _case("backward_no_grad", lambda lib: lib.ones(2).sum().backward(), RuntimeError, "does not require grad"),
    _case("backward_gradient_shape", lambda lib: (lib.ones(2, requires_grad=True) * 2).backward(lib.ones(3)), RuntimeError, "[3]", "[2]"),
    _case("backward_twice", _twice, RuntimeError, "second time", "retain_graph=True", located=False),
    _case("inplace_leaf", lambda lib: lib.ones(2, requires_grad=True).add_(1), RuntimeError, "leaf Variable", "in-place"),
    _case("numpy_requires_grad", lambda lib: lib.ones(2, requires_grad=True).numpy(), RuntimeError, "requires grad", "detach()"),
    # conversion to Python values
    _case("item_many", lambda lib: lib.ones(2).item(), RuntimeError, "2 elements", "Scalar"),
    _case("bool_many", lambda lib: bool(lib.ones(2)), RuntimeError, "ambiguous"),
    _case("float_many", lambda lib: float(lib.ones(2)), ValueError, "one element"),
    # linear algebra
    _case("inv_not_square", lambda lib: lib.linalg.inv(lib.ones(2, 3)), RuntimeError, "linalg.inv", "square", "2 by 3"),
    _case("det_not_square", lambda lib: lib.linalg.det(lib.ones(2, 3)), RuntimeError, "linalg.det", "2 by 3"),
    _case("inv_singular", lambda lib: lib.linalg.inv(lib.zeros(2, 2)), RuntimeError, "linalg.inv", "singular"),
    _case("solve_singular", lambda lib: lib.linalg.solve(lib.zeros(2, 2), lib.ones(2)), RuntimeError, "linalg.solve", "singular"),
    _case("solve_shapes", lambda lib: lib.linalg.solve(lib.eye(3), lib.ones(4)), RuntimeError, "3x3", "4x1"),
    _case("cholesky_not_definite", lambda lib: lib.linalg.cholesky(-lib.eye(2)), RuntimeError, "positive-definite", "order 1"),
    # other arguments
    _case("clamp_no_bounds", lambda lib: lib.ones(2).clamp(), RuntimeError, "clamp", "'min' or 'max'"),
    _case("sum_dim_type", lambda lib: lib.ones(2).sum(dim=1.5), TypeError, "dim", "1.5"),
    _case("narrow_length", lambda lib: lib.ones(2, 3).narrow(1, 2, 3), RuntimeError, "start (2)", "length (3)", "size (3)", located=False),
]
# fmt: on


def _builtin_kind(error: BaseException) -> type:
    """The most specific built-in class of an exception (torch's LinAlgError is a RuntimeError)."""
    return next(c for c in type(error).__mro__ if getattr(builtins, c.__name__, None) is c)


def _lines_of(call) -> set:
    return {line for _, _, line in call.__code__.co_lines() if line is not None}


@pytest.mark.parametrize("call,kind,fragments,is_located", CASES)
def test_error_message(call, kind, fragments, is_located):
    with pytest.raises(kind) as info:
        call(qilin)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} missing from: {message}"
    if is_located:
        found = re.search(r"\bat \S*test_errors\.py:(\d+)", message)
        assert found, f"no location in: {message}"
        assert int(found.group(1)) in _lines_of(call), message


@pytest.mark.skipif(torch is None, reason="torch is the parity oracle")
@pytest.mark.parametrize("call,kind,fragments,is_located", CASES)
def test_error_kind_matches_torch(call, kind, fragments, is_located):
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(Exception) as ours:
        call(qilin)
    expected = _builtin_kind(theirs.value)
    assert isinstance(ours.value, expected), f"{ours.value!r}; torch: {theirs.value!r}"


def test_device_mismatch_names_the_op_and_both_devices():
    # A tensor that only claims to live on the GPU: the check runs before anything touches it.
    elsewhere = _wrap(np.ones((2, 2), np.float32), qilin.device("cuda:0"))
    here = qilin.ones(2, 2)
    for call, op in (
        (lambda: here + elsewhere, "add"),
        (lambda: qilin.matmul(here, elsewhere), "matmul"),
        (lambda: qilin.cat([here, elsewhere]), "cat"),
    ):
        with pytest.raises(RuntimeError) as info:
            call()
        message = str(info.value)
        assert message.startswith(f"{op}: expected all tensors to be on the same device"), message
        assert "cpu" in message and "cuda:0" in message
        assert f"test_errors.py:{min(_lines_of(call))}" in message


def test_located_appends_the_callers_line_once():
    error = located(RuntimeError("something went wrong"))
    line = test_located_appends_the_callers_line_once.__code__.co_firstlineno + 1
    assert str(error).endswith(f"test_errors.py:{line}: {_source_line(line)})")
    assert has_location(str(error))
    assert located(error) is error and str(located(error)) == str(error)
    # A message with its own parenthesis starting "(at" is not mistaken for a location.
    assert not has_location("view size is not compatible (at least one dimension spans ...)")


def _source_line(line: int) -> str:
    with open(__file__) as source:
        return source.read().splitlines()[line - 1].strip()


def test_kernel_errors_keep_their_own_location_once():
    # An error that a kernel raises already located is not located again by the dispatcher.
    with pytest.raises(IndexError) as info:
        qilin.ones(2, 3)[qilin.tensor([0, 5])]
    assert str(info.value).count("(at ") == 1


def test_warnings_point_at_the_users_line():
    x = qilin.ones(3, 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        x[[0, slice(None)]]
        x[qilin.tensor([1, 0, 1], dtype=qilin.uint8)]
    assert len(caught) == 2
    for warning in caught:
        assert warning.filename == __file__, warning.filename


def test_user_stacklevel_outside_qilin_is_the_caller():
    assert user_stacklevel() == 1
