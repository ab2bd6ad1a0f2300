"""Loss-trajectory parity: a small CNN with BatchNorm, an LSTM language model and a Transformer
encoder classifier, built with the same code in qilin and torch, started from torch's initial
weights, trained 20 steps with SGD-momentum and with AdamW on the same float32 batches: the
loss matches torch's within 1e-4 at every step (and the BatchNorm running statistics, which
are updated in place, agree at the end)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import qilin

STEPS = 20


def small_cnn(lib):
    # No bias before BatchNorm: its gradient is rounding noise that Adam would scale up into
    # steps, moving the running mean differently in any two implementations.
    nn = lib.nn
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 5),
    )  # fmt: skip

    def batch(lib, rng):
        x = lib.tensor(rng.standard_normal((8, 3, 12, 12)).astype(np.float32))
        return x, lib.tensor(rng.integers(0, 5, 8))

    return model, batch, lambda out, y: lib.nn.functional.cross_entropy(out, y)


def lstm_lm(lib):
    nn, vocab = lib.nn, 30

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(vocab, 16)
            self.lstm = nn.LSTM(16, 24, num_layers=2)
            self.head = nn.Linear(24, vocab)

        def forward(self, tokens):
            return self.head(self.lstm(self.embedding(tokens))[0])

    def batch(lib, rng):
        tokens = rng.integers(0, vocab, (11, 4))
        return lib.tensor(tokens[:-1]), lib.tensor(tokens[1:])

    def loss(out, y):
        return lib.nn.functional.cross_entropy(out.reshape(-1, vocab), y.reshape(-1))

    return LM(), batch, loss


def transformer_encoder(lib):
    nn, vocab = lib.nn, 20

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(vocab, 32)
            layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.head = nn.Linear(32, 3)

        def forward(self, tokens):
            return self.head(self.encoder(self.embedding(tokens)).mean(1))

    def batch(lib, rng):
        return lib.tensor(rng.integers(0, vocab, (6, 9))), lib.tensor(rng.integers(0, 3, 6))

    return Classifier(), batch, lambda out, y: lib.nn.functional.cross_entropy(out, y)


OPTIMIZERS = {
    "sgd_momentum": lambda lib, params: lib.optim.SGD(params, lr=0.05, momentum=0.9),
    "adamw": lambda lib, params: lib.optim.AdamW(params, lr=3e-3, weight_decay=0.05),
}


def _losses(lib, build, make_optimizer, state):
    model, batch, loss_of = build(lib)
    model.load_state_dict({key: lib.tensor(value) for key, value in state.items()})
    optimizer = make_optimizer(lib, model.parameters())
    rng = np.random.default_rng(0)
    batches = [batch(lib, rng) for _ in range(4)]  # a small fixed set, so the loss falls
    losses = []
    for step in range(STEPS):
        x, y = batches[step % len(batches)]
        optimizer.zero_grad()
        loss = loss_of(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    buffers = {name: value.detach().numpy() for name, value in model.named_buffers()}
    return np.array(losses), buffers


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize(
    "build", [small_cnn, lstm_lm, transformer_encoder], ids=lambda b: b.__name__
)
def test_loss_trajectory_matches_torch(build, optimizer):
    torch.manual_seed(0)
    initial = {key: value.numpy().copy() for key, value in build(torch)[0].state_dict().items()}
    theirs, their_buffers = _losses(torch, build, OPTIMIZERS[optimizer], initial)
    ours, our_buffers = _losses(qilin, build, OPTIMIZERS[optimizer], initial)
    assert theirs[-4:].mean() < theirs[:4].mean()  # it trains, so the comparison means something
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-4)
    assert list(our_buffers) == list(their_buffers)
    for name in their_buffers:
        np.testing.assert_allclose(our_buffers[name], their_buffers[name], atol=1e-4, err_msg=name)
