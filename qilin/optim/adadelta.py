"""Adadelta: steps scaled by the ratio of running RMS of updates to running RMS of gradients."""

from __future__ import annotations

import qilin

from .optimizer import Optimizer, check_flags, check_nonnegative, zero_step

__all__ = ["Adadelta", "adadelta_update"]


def adadelta_update(
    param, grad, square_avg, acc_delta, step, *, lr, rho, eps, weight_decay, maximize
):
    """One Adadelta step; returns (param, square_avg, acc_delta, step).

    v = rho * v + (1 - rho) * g * g
    d = sqrt(u + eps) / sqrt(v + eps) * g
    u = rho * u + (1 - rho) * d * d;   param -= lr * d
    """
    if maximize:
        grad = -grad
    step = step + 1
    if weight_decay != 0:
        grad = grad + weight_decay * param
    square_avg = qilin.addcmul(square_avg * rho, grad, grad, value=1 - rho)
    std = (square_avg + eps).sqrt()
    delta = (acc_delta + eps).sqrt() / std * grad
    acc_delta = qilin.addcmul(acc_delta * rho, delta, delta, value=1 - rho)
    return param - lr * delta, square_avg, acc_delta, step


class Adadelta(Optimizer):
    """Adadelta (torch.optim.Adadelta)."""

    def __init__(
        self,
        params,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_nonnegative(lr, "learning rate")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        check_nonnegative(eps, "epsilon value")
        check_nonnegative(weight_decay, "weight_decay value")
        check_flags(differentiable)
        defaults = {
            "lr": lr,
            "rho": rho,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "capturable": capturable,
            "foreach": foreach,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _init_state(self, param, group):
        return {
            "step": zero_step(),
            "square_avg": qilin.zeros_like(param),
            "acc_delta": qilin.zeros_like(param),
        }

    def _update(self, param, grad, state, group):
        new_param, square_avg, acc_delta, step = adadelta_update(
            param,
            grad,
            state["square_avg"],
            state["acc_delta"],
            state["step"],
            lr=group["lr"],
            rho=group["rho"],
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            maximize=group["maximize"],
        )
        return new_param, {"step": step, "square_avg": square_avg, "acc_delta": acc_delta}
