"""The five training workloads, written once against a library namespace (`lib` is qilin or
torch), so both frameworks run the very same model code.

Each builder returns a Workload: the model, its optimizer, one batch of synthetic data and
the step. Shapes follow the benchmark's specification."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass
class Workload:
    model: object
    optimizer: object
    step: Callable  # () -> loss tensor
    samples: int  # samples per step (for throughput)


def _step(lib, model, optimizer, loss_of, clip: float | None = None):
    def step():
        optimizer.zero_grad()
        loss = loss_of()
        loss.backward()
        if clip is not None:
            lib.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        return loss

    return step


def _classifier(lib, model, optimizer, shape) -> Workload:
    """A 10-class classifier trained on one fixed batch of normal samples of `shape`."""
    rng = np.random.default_rng(0)
    x = lib.tensor(rng.standard_normal(shape).astype(np.float32))
    y = lib.tensor(rng.integers(0, 10, shape[0]))
    loss_fn = lib.nn.CrossEntropyLoss()
    step = _step(lib, model, optimizer, lambda: loss_fn(model(x), y))
    return Workload(model, optimizer, step, shape[0])


def mlp(lib) -> Workload:
    nn = lib.nn
    model = nn.Sequential(
        nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)
    )
    optimizer = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return _classifier(lib, model, optimizer, (128, 784))


def lenet5(lib) -> Workload:
    nn = lib.nn
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )  # fmt: skip
    optimizer = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return _classifier(lib, model, optimizer, (64, 1, 28, 28))


def resnet8(lib) -> Workload:
    """CIFAR-style ResNet: a 3x3 stem, three stages of one basic block (16, 32, 64 channels),
    global average pooling and a linear head: 8 weight layers, BatchNorm after each conv."""
    nn = lib.nn

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.shortcut = nn.Sequential()
            if stride != 1 or cin != cout:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
                )

        def forward(self, x):
            out = self.bn1(self.conv1(x)).relu()
            return (self.bn2(self.conv2(out)) + self.shortcut(x)).relu()

    model = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        Block(16, 16, 1), Block(16, 32, 2), Block(32, 64, 2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10),
    )  # fmt: skip
    optimizer = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    return _classifier(lib, model, optimizer, (32, 3, 32, 32))


def char_gpt(lib) -> Workload:
    """A decoder-only Transformer on characters: 4 pre-norm layers, d_model 128, 4 heads,
    context 64, batch 16, AdamW."""
    nn = lib.nn
    vocab, context, width = 65, 64, 128

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.token = nn.Embedding(vocab, width)
            self.position = nn.Embedding(context, width)
            layer = nn.TransformerEncoderLayer(
                width, 4, 4 * width, dropout=0.0, activation="gelu", batch_first=True,
                norm_first=True,
            )  # fmt: skip
            self.blocks = nn.TransformerEncoder(layer, 4, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(width)
            self.head = nn.Linear(width, vocab, bias=False)
            self.register_buffer(
                "mask", nn.Transformer.generate_square_subsequent_mask(context), persistent=False
            )

        def forward(self, tokens):
            positions = lib.arange(tokens.shape[1])
            h = self.token(tokens) + self.position(positions)
            h = self.blocks(h, mask=self.mask, is_causal=True)
            return self.head(self.norm(h))

    model = GPT()
    optimizer = lib.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1)
    rng = np.random.default_rng(0)
    tokens = lib.tensor(rng.integers(0, vocab, (16, context + 1)))
    x, y = tokens[:, :-1], tokens[:, 1:]
    loss_fn = nn.CrossEntropyLoss()

    def loss_of():
        return loss_fn(model(x).reshape(-1, vocab), y.reshape(-1))

    return Workload(model, optimizer, _step(lib, model, optimizer, loss_of), 16)


def lstm_lm(lib) -> Workload:
    """Word-level LSTM language model: vocab 1000, embedding 128, hidden 256, 35 steps of
    batch 20, gradient norm clipped to 0.25, plain SGD (the classic recipe)."""
    nn = lib.nn
    vocab, steps, batch = 1000, 35, 20

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(vocab, 128)
            self.lstm = nn.LSTM(128, 256)
            self.head = nn.Linear(256, vocab)

        def forward(self, tokens):
            output, _ = self.lstm(self.embedding(tokens))
            return self.head(output)

    model = LM()
    optimizer = lib.optim.SGD(model.parameters(), lr=20.0 / math.sqrt(1000))
    rng = np.random.default_rng(0)
    tokens = lib.tensor(rng.integers(0, vocab, (steps + 1, batch)))
    x, y = tokens[:-1], tokens[1:]
    loss_fn = nn.CrossEntropyLoss()

    def loss_of():
        return loss_fn(model(x).reshape(-1, vocab), y.reshape(-1))

    return Workload(model, optimizer, _step(lib, model, optimizer, loss_of, clip=0.25), batch)


WORKLOADS = {
    "MLP 784-512-512-10 (b128, SGD-m)": mlp,
    "LeNet-5 (b64, SGD-m)": lenet5,
    "ResNet-8 + BN (b32, SGD-m)": resnet8,
    "char GPT 4x128 (b16, AdamW)": char_gpt,
    "LSTM LM 1000/128/256 (b20, clip)": lstm_lm,
}
