"""One harness for every op spec: forward vs NumPy, forward and backward vs torch, gradients vs
float64 finite differences, double backward vs torch, and (through QILIN_VERIFY, set in
conftest) every primitive's output against its meta rule.

A spec is data:

    OpSpec("exp", lambda lib, x: lib.exp(x), [(Arg((3, 4)),)], ref=np.exp)

`call(lib, *args)` runs unchanged with lib=qilin and lib=torch; `samples` are tuples whose
`Arg` entries become tensors (other entries pass through as they are).
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Callable

import numpy as np
import pytest

import qilin

try:
    import torch
except ImportError:  # torch is the parity oracle; its tests skip without it
    torch = None


@dataclasses.dataclass(frozen=True)
class Arg:
    """A tensor argument: shape, value kind and whether gradients are checked for it."""

    shape: tuple
    kind: str = "float"  # float | positive | unit (-1..1 open) | int | bool | index:N | nonzero
    grad: bool = True
    low: float = -2.0
    high: float = 2.0

    def make(self, rng: np.random.Generator, dtype: str) -> np.ndarray:
        if self.kind == "int":
            return rng.integers(-5, 6, self.shape).astype(np.int64)
        if self.kind.startswith("index:"):
            return rng.integers(0, int(self.kind.split(":")[1]), self.shape).astype(np.int64)
        if self.kind == "bool":
            return rng.random(self.shape) < 0.5
        values = rng.uniform(self.low, self.high, self.shape)
        if self.kind == "positive":
            values = rng.uniform(0.5, 2.5, self.shape)
        elif self.kind == "unit":
            values = rng.uniform(-0.9, 0.9, self.shape)
        elif self.kind == "nonzero":
            values = np.sign(values + 1e-9) * rng.uniform(0.5, 2.0, self.shape)
        return values.astype(dtype)

    @property
    def floating(self) -> bool:
        return self.kind in ("float", "positive", "unit", "nonzero")


@dataclasses.dataclass
class OpSpec:
    op: str | tuple  # the registry op(s) this spec stands for
    call: Callable
    samples: list
    ref: Callable | None = None  # NumPy reference over the same arguments
    name: str | None = None
    dtypes: tuple = ("float32", "float64")
    grad: bool = True
    double: bool = True
    torch: bool = True
    atol: float = 1e-5
    rtol: float = 1e-4
    fd_eps: float = 1e-6
    fd_atol: float = 1e-5
    torch_call: Callable | None = None  # when torch spells the call differently

    @property
    def ops(self) -> tuple:
        return (self.op,) if isinstance(self.op, str) else tuple(self.op)

    @property
    def id(self) -> str:
        return self.name or self.ops[0]


# ----- building inputs -----------------------------------------------------------------------
def _rng(spec: OpSpec, index: int) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(f"{spec.id}:{index}".encode()))


def _arrays(spec: OpSpec, index: int, dtype: str) -> list:
    rng = _rng(spec, index)
    return [a.make(rng, dtype) if isinstance(a, Arg) else a for a in spec.samples[index]]


def _to_qilin(values, sample, requires_grad: bool):
    out = []
    for value, arg in zip(values, sample):
        if isinstance(arg, Arg):
            tensor = qilin.tensor(value)
            if requires_grad and arg.grad and arg.floating:
                tensor.requires_grad_(True)
            out.append(tensor)
        else:
            out.append(value)
    return out


def _to_torch(values, sample, requires_grad: bool):
    out = []
    for value, arg in zip(values, sample):
        if isinstance(arg, Arg):
            tensor = torch.tensor(value)
            if requires_grad and arg.grad and arg.floating:
                tensor.requires_grad_(True)
            out.append(tensor)
        else:
            out.append(value)
    return out


def _outputs(result) -> list:
    if isinstance(result, (tuple, list)):
        return [r for r in result]
    return [result]


def _numpy(value) -> np.ndarray:
    if torch is not None and isinstance(value, torch.Tensor):
        return value.detach().numpy(force=True)  # force: torch's ZeroTensor grads convert too
    if isinstance(value, qilin.Tensor):
        return value.detach().numpy()
    return np.asarray(value)


def _close(actual, expected, atol, rtol, what: str) -> None:
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    if expected.dtype == np.bool_ or expected.dtype.kind in "iu":
        np.testing.assert_array_equal(actual, expected, err_msg=what)
    else:
        np.testing.assert_allclose(
            actual.astype(np.float64),
            expected.astype(np.float64),
            atol=atol,
            rtol=rtol,
            equal_nan=True,
            err_msg=what,
        )


def _float_outputs(outputs) -> list:
    return [i for i, o in enumerate(outputs) if o.dtype.is_floating_point]


# ----- checks --------------------------------------------------------------------------------
def check_forward_numpy(spec: OpSpec, index: int, dtype: str) -> None:
    values = _arrays(spec, index, dtype)
    result = _outputs(spec.call(qilin, *_to_qilin(values, spec.samples[index], False)))
    expected = _outputs(spec.ref(*[v.copy() if isinstance(v, np.ndarray) else v for v in values]))
    tolerance = 10 if dtype == "float32" else 1
    for i, (r, e) in enumerate(zip(result, expected)):
        _close(_numpy(r), e, spec.atol * tolerance, spec.rtol * tolerance, f"output {i}")


def check_torch(spec: OpSpec, index: int, dtype: str) -> None:
    """Forward and backward (same inputs, same cotangent) against torch."""
    values = _arrays(spec, index, dtype)
    sample = spec.samples[index]
    q_inputs = _to_qilin(values, sample, spec.grad)
    t_inputs = _to_torch(values, sample, spec.grad)
    q_out = _outputs(spec.call(qilin, *q_inputs))
    t_out = _outputs((spec.torch_call or spec.call)(torch, *t_inputs))
    tolerance = 10 if dtype == "float32" else 1
    assert len(q_out) == len(t_out), f"{len(q_out)} outputs, torch gives {len(t_out)}"
    for i, (q, t) in enumerate(zip(q_out, t_out)):
        _close(_numpy(q), _numpy(t), spec.atol * tolerance, spec.rtol * tolerance, f"output {i}")
        assert str(q.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], (
            f"output {i}: dtype {q.dtype} != torch {t.dtype}"
        )
    if not spec.grad:
        return
    differentiable = [i for i in _float_outputs(q_out) if q_out[i].requires_grad]
    if not differentiable:
        return
    rng = _rng(spec, 1000 + index)
    cotangents = [rng.standard_normal(tuple(q_out[i].shape)).astype(dtype) for i in differentiable]
    q_leaves = [t for t in q_inputs if isinstance(t, qilin.Tensor) and t.requires_grad]
    t_leaves = [t for t in t_inputs if isinstance(t, torch.Tensor) and t.requires_grad]
    q_grads = qilin.autograd.grad(
        [q_out[i] for i in differentiable],
        q_leaves,
        [qilin.tensor(c) for c in cotangents],
        allow_unused=True,
        materialize_grads=True,
    )
    t_grads = torch.autograd.grad(
        [t_out[i] for i in differentiable],
        t_leaves,
        [torch.tensor(c) for c in cotangents],
        allow_unused=True,
        materialize_grads=True,
    )
    for i, (q, t) in enumerate(zip(q_grads, t_grads)):
        _close(
            _numpy(q),
            _numpy(t),
            spec.atol * tolerance * 10,
            spec.rtol * tolerance * 10,
            f"grad of input {i}",
        )


def _scalar_function(spec: OpSpec, index: int, values: list, cotangents: list, position: int):
    sample = spec.samples[index]

    def evaluate(array: np.ndarray) -> float:
        current = list(values)
        current[position] = array
        outputs = _outputs(spec.call(qilin, *_to_qilin(current, sample, False)))
        floats = _float_outputs(outputs)
        return float(
            sum(
                (outputs[i].numpy().astype(np.float64) * c).sum()
                for i, c in zip(floats, cotangents)
            )
        )

    return evaluate


def check_finite_differences(spec: OpSpec, index: int) -> None:
    values = _arrays(spec, index, "float64")
    sample = spec.samples[index]
    inputs = _to_qilin(values, sample, True)
    outputs = _outputs(spec.call(qilin, *inputs))
    floats = [i for i in _float_outputs(outputs) if outputs[i].requires_grad]
    if not floats:
        pytest.skip("no differentiable output")
    rng = _rng(spec, 2000 + index)
    cotangents = [rng.standard_normal(tuple(outputs[i].shape)) for i in floats]
    leaves = [
        (p, t) for p, t in enumerate(inputs) if isinstance(t, qilin.Tensor) and t.requires_grad
    ]
    grads = qilin.autograd.grad(
        [outputs[i] for i in floats],
        [t for _, t in leaves],
        [qilin.tensor(c) for c in cotangents],
        allow_unused=True,
        materialize_grads=True,
    )
    for (position, _), grad in zip(leaves, grads):
        evaluate = _scalar_function(spec, index, values, cotangents, position)
        base = values[position]
        numeric = np.zeros_like(base)
        for k in range(base.size):
            step = np.zeros(base.size)
            step[k] = spec.fd_eps
            step = step.reshape(base.shape)
            numeric.reshape(-1)[k] = (evaluate(base + step) - evaluate(base - step)) / (
                2 * spec.fd_eps
            )
        _close(grad.numpy(), numeric, spec.fd_atol, 1e-4, f"d/d input {position} (finite diff)")


def check_double_backward(spec: OpSpec, index: int) -> None:
    """Gradient of <grad(<f(x), v>, x), w> with respect to x (and v), against torch."""
    values = _arrays(spec, index, "float64")
    sample = spec.samples[index]
    results = []
    for lib, convert in ((qilin, _to_qilin), (torch, _to_torch)):
        inputs = convert(values, sample, True)
        outputs = _outputs(
            spec.call(lib, *inputs)
            if lib is qilin
            else (spec.torch_call or spec.call)(lib, *inputs)
        )
        floats = [i for i, o in enumerate(outputs) if o.dtype.is_floating_point and o.requires_grad]
        if not floats:
            pytest.skip("no differentiable output")
        leaves = [t for t in inputs if isinstance(t, lib.Tensor) and t.requires_grad]
        rng = _rng(spec, 3000 + index)
        cotangents = [
            lib.tensor(rng.standard_normal(tuple(outputs[i].shape)), requires_grad=True)
            for i in floats
        ]
        first = lib.autograd.grad(
            [outputs[i] for i in floats],
            leaves,
            cotangents,
            create_graph=True,
            allow_unused=True,
            materialize_grads=True,
        )
        weights = [lib.tensor(rng.standard_normal(tuple(g.shape))) for g in first]
        total = sum((g * w).sum() for g, w in zip(first, weights) if g.requires_grad)
        if not isinstance(total, lib.Tensor):
            results.append(None)
            continue
        second = lib.autograd.grad(
            total, leaves + cotangents, allow_unused=True, materialize_grads=True
        )
        results.append([_numpy(s) for s in second])
    if results[1] is None:
        pytest.skip("torch's first gradient is constant")
    assert results[0] is not None, "qilin's first gradient is not differentiable"
    for i, (q, t) in enumerate(zip(*results)):
        _close(q, t, 1e-6, 1e-5, f"second-order grad {i}")


# ----- test generation -----------------------------------------------------------------------
def _cases(specs, dtypes_wanted=True):
    for spec in specs:
        for index in range(len(spec.samples)):
            if dtypes_wanted:
                for dtype in spec.dtypes:
                    yield pytest.param(spec, index, dtype, id=f"{spec.id}-{index}-{dtype}")
            else:
                yield pytest.param(spec, index, id=f"{spec.id}-{index}")


def make_tests(specs: list, namespace: dict) -> None:
    """Define the parametrized tests for `specs` in a test module's namespace."""

    @pytest.mark.parametrize("spec,index,dtype", list(_cases([s for s in specs if s.ref])))
    def test_forward_numpy(spec, index, dtype):
        check_forward_numpy(spec, index, dtype)

    @pytest.mark.skipif(torch is None, reason="torch is the parity oracle")
    @pytest.mark.parametrize("spec,index,dtype", list(_cases([s for s in specs if s.torch])))
    def test_torch_parity(spec, index, dtype):
        check_torch(spec, index, dtype)

    @pytest.mark.parametrize("spec,index", list(_cases([s for s in specs if s.grad], False)))
    def test_finite_differences(spec, index):
        check_finite_differences(spec, index)

    @pytest.mark.skipif(torch is None, reason="torch is the parity oracle")
    @pytest.mark.parametrize(
        "spec,index", list(_cases([s for s in specs if s.grad and s.double and s.torch], False))
    )
    def test_double_backward(spec, index):
        check_double_backward(spec, index)

    namespace.update(
        test_forward_numpy=test_forward_numpy,
        test_torch_parity=test_torch_parity,
        test_finite_differences=test_finite_differences,
        test_double_backward=test_double_backward,
    )
