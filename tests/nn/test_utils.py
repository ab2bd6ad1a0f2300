"""nn.utils against torch: gradient clipping and parameter vectors."""

import numpy as np
import pytest

import qilin

torch = pytest.importorskip("torch")

SHAPES = [(3, 4), (4,), (2, 2, 2)]


def _params(lib, scale=1.0):
    rng = np.random.default_rng(0)
    params = []
    for shape in SHAPES:
        p = lib.tensor(rng.standard_normal(shape), requires_grad=True)
        p.grad = lib.tensor(rng.standard_normal(shape) * scale)
        params.append(p)
    return params


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    ours, theirs = _params(qilin), _params(torch)
    total_ours = qilin.nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    total_theirs = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    np.testing.assert_allclose(total_ours.item(), total_theirs.item(), rtol=1e-12)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_clip_grad_norm_nonfinite_error():
    ours = _params(qilin)
    ours[0].grad[0, 0] = float("inf")
    with pytest.raises(RuntimeError, match="non-finite"):
        qilin.nn.utils.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)


def test_clip_grad_value_matches_torch():
    ours, theirs = _params(qilin, 3.0), _params(torch, 3.0)
    qilin.nn.utils.clip_grad_value_(ours, 1.5)
    torch.nn.utils.clip_grad_value_(theirs, 1.5)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())


def test_parameters_to_vector_and_back():
    ours, theirs = _params(qilin), _params(torch)
    vec_ours = qilin.nn.utils.parameters_to_vector(ours)
    vec_theirs = torch.nn.utils.parameters_to_vector(theirs)
    np.testing.assert_array_equal(vec_ours.detach().numpy(), vec_theirs.detach().numpy())
    assert vec_ours.requires_grad  # differentiable, as torch's
    new = np.arange(vec_ours.numel(), dtype=np.float64)
    qilin.nn.utils.vector_to_parameters(qilin.tensor(new), ours)
    torch.nn.utils.vector_to_parameters(torch.tensor(new), theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    with pytest.raises(RuntimeError, match="elements"):
        qilin.nn.utils.vector_to_parameters(qilin.zeros(100, dtype=qilin.float64), ours)
