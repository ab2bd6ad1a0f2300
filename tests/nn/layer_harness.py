"""One harness for every layer: build it in qilin and torch, give both torch's initial state,
and compare forward, backward (input and parameter grads), state_dict keys and shapes, a
state_dict round trip into a fresh qilin module, and the repr.

A LayerSpec is data: how to build the layer from an `nn` namespace, and its inputs, each a
shape (a float64 normal sample that gets a gradient), a function of a NumPy generator that
returns an array (integer targets, probabilities: passed without gradient), or Grad(function)
for a sampled float input that does get a gradient."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

import qilin
import qilin.nn as qnn


@dataclass
class LayerSpec:
    name: str
    build: Callable  # nn namespace -> Module
    inputs: list = field(default_factory=lambda: [(3, 4)])
    random: bool = False  # training-mode output is random: compare in eval mode only
    kwargs: dict = field(default_factory=dict)  # keyword arguments of forward (same for both)
    train: bool = True  # False: compare in eval mode (layers whose eval path differs)
    rtol: float = 1e-7
    atol: float = 1e-9

    def __str__(self) -> str:
        return self.name


@dataclass
class Grad:
    """A sampled input that gets a gradient (plain functions give inputs without one)."""

    sample: Callable


def _arrays(spec: LayerSpec, seed: int = 0) -> list:
    """(array, needs_grad) per input."""
    rng = np.random.default_rng(seed)
    arrays = []
    for item in spec.inputs:
        if isinstance(item, Grad):
            arrays.append((item.sample(rng), True))
        elif callable(item):
            arrays.append((np.asarray(item(rng)), False))
        else:
            arrays.append((rng.standard_normal(item), True))
    return arrays


def _leaves(arrays: list, lib):
    """Inputs with a gradient become leaves; the layer sees a clone, so in-place layers do
    not write into a leaf."""
    leaves, fed = [], []
    for array, needs_grad in arrays:
        value = lib.tensor(array)
        if needs_grad:
            value.requires_grad_(True)
            leaves.append(value)
            value = value.clone()
        fed.append(value)
    return leaves, fed


def build_pair(spec: LayerSpec):
    """The torch and qilin layers in float64, the qilin one loaded with torch's state."""
    reference = spec.build(torch.nn).double()
    ours = spec.build(qnn).double()
    ours.load_state_dict(
        {key: qilin.tensor(value.detach().numpy()) for key, value in reference.state_dict().items()}
    )
    return reference, ours


def _close(ours, reference, spec: LayerSpec, what: str) -> None:
    np.testing.assert_allclose(
        ours.detach().numpy(),
        reference.detach().numpy(),
        rtol=spec.rtol,
        atol=spec.atol,
        err_msg=f"{spec.name}: {what}",
    )


def _flat(output) -> list:
    """The tensors of a layer's output, in order (layers may return nested tuples, or None)."""
    if isinstance(output, (tuple, list)):
        return [leaf for item in output for leaf in _flat(item)]
    return [] if output is None else [output]


def _inputs_for(spec: LayerSpec, lib, arrays):
    leaves, fed = _leaves(arrays, lib)
    kwargs = {
        key: lib.tensor(value) if isinstance(value, np.ndarray) else value
        for key, value in spec.kwargs.items()
    }
    return leaves, fed, kwargs


def check_forward_backward(spec: LayerSpec) -> None:
    reference, ours = build_pair(spec)
    if spec.random or not spec.train:
        reference.eval()
        ours.eval()
    arrays = _arrays(spec)
    torch_leaves, torch_inputs, torch_kwargs = _inputs_for(spec, torch, arrays)
    our_leaves, our_inputs, our_kwargs = _inputs_for(spec, qilin, arrays)
    expected = _flat(reference(*torch_inputs, **torch_kwargs))
    result = _flat(ours(*our_inputs, **our_kwargs))
    assert len(result) == len(expected), (
        f"{spec.name}: {len(result)} outputs, torch gives {len(expected)}"
    )
    for index, (mine, theirs) in enumerate(zip(result, expected)):
        assert tuple(mine.shape) == tuple(theirs.shape), f"{spec.name}: shape of output {index}"
        _close(mine, theirs, spec, f"forward output {index}")
    pairs = [(mine, theirs) for mine, theirs in zip(result, expected) if theirs.requires_grad]
    if not pairs:
        return
    # one backward through every differentiable output, each with its own cotangent
    rng = np.random.default_rng(1)
    cotangents = [rng.standard_normal(tuple(theirs.shape)) for _, theirs in pairs]
    torch.autograd.backward([t for _, t in pairs], [torch.tensor(c) for c in cotangents])
    qilin.autograd.backward([m for m, _ in pairs], [qilin.tensor(c) for c in cotangents])
    for index, (mine, theirs) in enumerate(zip(our_leaves, torch_leaves)):
        _close(mine.grad, theirs.grad, spec, f"grad of input {index}")
    theirs = dict(reference.named_parameters())
    for name, parameter in ours.named_parameters():
        if theirs[name].grad is None:
            assert parameter.grad is None, f"{spec.name}: {name} got a grad torch did not"
        else:
            _close(parameter.grad, theirs[name].grad, spec, f"grad of {name}")


def check_state_dict(spec: LayerSpec) -> None:
    reference, ours = build_pair(spec)
    mine = ours.state_dict()
    theirs = reference.state_dict()
    assert list(mine) == list(theirs), spec.name
    for key in theirs:
        assert tuple(mine[key].shape) == tuple(theirs[key].shape), f"{spec.name}: {key}"
    assert [name for name, _ in ours.named_parameters()] == [
        name for name, _ in reference.named_parameters()
    ]
    # round trip: a fresh module given this state computes the same function
    fresh = spec.build(qnn).double()
    fresh.load_state_dict(mine)
    ours.eval()
    fresh.eval()
    _, inputs, kwargs = _inputs_for(spec, qilin, _arrays(spec))
    for mine, again in zip(_flat(ours(*inputs, **kwargs)), _flat(fresh(*inputs, **kwargs))):
        np.testing.assert_array_equal(again.detach().numpy(), mine.detach().numpy())


def check_repr(spec: LayerSpec) -> None:
    assert repr(spec.build(qnn)) == repr(spec.build(torch.nn)).replace("torch", "qilin")
