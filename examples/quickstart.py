"""Train a two-layer network on a two-spiral problem with qilin tensors and autograd.

    python examples/quickstart.py

No layers, no optimizer classes: the parameters are tensors with requires_grad=True, the loss
is written with qilin ops, `loss.backward()` fills `.grad`, and the update runs under no_grad.
"""

import math
import time

import numpy as np

import qilin as torch


def two_spirals(points_per_class: int, noise: float, generator: np.random.Generator):
    """Two interleaved spirals in the plane, labelled 0 and 1."""
    radius = np.sqrt(generator.random(points_per_class)) * 3 * math.pi
    first = np.stack([radius * np.cos(radius), radius * np.sin(radius)], 1)
    points = np.concatenate([first, -first]) / (3 * math.pi)
    points += generator.normal(0, noise, points.shape)
    labels = np.concatenate([np.zeros(points_per_class), np.ones(points_per_class)])
    order = generator.permutation(len(labels))
    return points[order].astype(np.float32), labels[order].astype(np.int64)


def main() -> None:
    torch.manual_seed(0)
    data = np.random.default_rng(0)
    x_train, y_train = (torch.from_numpy(a) for a in two_spirals(1000, 0.02, data))
    x_test, y_test = (torch.from_numpy(a) for a in two_spirals(500, 0.02, data))

    hidden = 64
    w1 = (torch.randn(2, hidden) * math.sqrt(2 / 2)).requires_grad_()
    b1 = torch.zeros(hidden, requires_grad=True)
    w2 = (torch.randn(hidden, hidden) * math.sqrt(2 / hidden)).requires_grad_()
    b2 = torch.zeros(hidden, requires_grad=True)
    w3 = (torch.randn(hidden, 2) * math.sqrt(1 / hidden)).requires_grad_()
    b3 = torch.zeros(2, requires_grad=True)
    parameters = [w1, b1, w2, b2, w3, b3]
    velocity = [torch.zeros_like(p) for p in parameters]

    def logits(x):
        h = torch.relu(x @ w1 + b1)
        h = torch.relu(h @ w2 + b2)
        return h @ w3 + b3

    def cross_entropy(scores, labels):
        log_probs = scores - torch.logsumexp(scores, dim=1, keepdim=True)
        return -log_probs.gather(1, labels.unsqueeze(1)).mean()

    epochs, batch_size, learning_rate, momentum = 30, 100, 0.1, 0.9
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        order = torch.randperm(len(y_train))
        total = 0.0
        for begin in range(0, len(order), batch_size):
            batch = order[begin : begin + batch_size]
            loss = cross_entropy(logits(x_train[batch]), y_train[batch])
            for p in parameters:
                p.grad = None
            loss.backward()
            with torch.no_grad():
                for p, v in zip(parameters, velocity):
                    v.mul_(momentum).add_(p.grad)
                    p.sub_(learning_rate * v)
            total += loss.item() * len(batch)
        if epoch % 10 == 0 or epoch == 1:
            with torch.no_grad():
                accuracy = (logits(x_test).argmax(1) == y_test).float().mean().item()
            print(
                f"epoch {epoch:3d}  loss {total / len(order):.4f}  test accuracy {accuracy:.1%}"
                f"  ({time.perf_counter() - start:.1f}s)"
            )
    print(f"final test accuracy: {accuracy:.1%}")


if __name__ == "__main__":
    main()
