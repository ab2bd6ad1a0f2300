"""End to end: the same small network trained with qilin and with torch, step for step."""

import numpy as np
import pytest

import qilin

torch = pytest.importorskip("torch")


def _train(lib, steps: int = 25):
    rng = np.random.default_rng(0)
    features = rng.standard_normal((64, 5))
    x = lib.tensor(features)
    y = lib.tensor(features[:, :3].argmax(1))  # a learnable rule
    w1 = lib.tensor(rng.standard_normal((5, 16)) * 0.5, requires_grad=True)
    b1 = lib.tensor(np.zeros(16), requires_grad=True)
    w2 = lib.tensor(rng.standard_normal((16, 3)) * 0.5, requires_grad=True)
    params = [w1, b1, w2]
    velocity = [lib.zeros_like(p) for p in params]
    losses = []
    for _ in range(steps):
        hidden = (x @ w1 + b1).tanh()
        scores = hidden @ w2
        log_probs = scores - lib.logsumexp(scores, dim=1, keepdim=True)
        loss = -log_probs.gather(1, y.unsqueeze(1)).mean() + 1e-3 * (w1 * w1).sum()
        for p in params:
            p.grad = None
        loss.backward()
        with lib.no_grad():
            for p, v in zip(params, velocity):
                v.mul_(0.9).add_(p.grad)
                p -= 0.5 * v
        losses.append(loss.item())
    return losses, [p.detach().numpy().copy() for p in params]


def test_training_matches_torch_step_for_step():
    ours, our_params = _train(qilin)
    theirs, their_params = _train(torch)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    for a, b in zip(our_params, their_params):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)
    assert ours[-1] < 0.5 * ours[0]  # and it does learn
