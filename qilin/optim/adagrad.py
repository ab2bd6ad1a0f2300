"""Adagrad: per-coordinate learning rates from the running sum of squared gradients."""

from __future__ import annotations

import qilin

from .optimizer import Optimizer, as_float64, check_flags, check_nonnegative, zero_step

__all__ = ["Adagrad", "adagrad_update"]


def adagrad_update(param, grad, state_sum, step, *, lr, lr_decay, weight_decay, eps, maximize):
    """One Adagrad step; returns (param, state_sum, step).

    t = step + 1;  clr = lr / (1 + (t - 1) * lr_decay)
    s += g * g;    param -= clr * g / (sqrt(s) + eps)
    """
    if maximize:
        grad = -grad
    step = step + 1
    if weight_decay != 0:
        grad = grad + weight_decay * param
    clr = lr / (1 + (as_float64(step) - 1) * lr_decay)
    state_sum = qilin.addcmul(state_sum, grad, grad, value=1)
    std = state_sum.sqrt() + eps
    return param - clr * (grad / std), state_sum, step


class Adagrad(Optimizer):
    """Adagrad (torch.optim.Adagrad). Its state exists from construction, as in torch."""

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        check_nonnegative(lr, "learning rate")
        check_nonnegative(lr_decay, "lr_decay value")
        check_nonnegative(weight_decay, "weight_decay value")
        check_nonnegative(initial_accumulator_value, "initial_accumulator_value value")
        check_nonnegative(eps, "epsilon value")
        check_flags(differentiable)
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "fused": fused,
        }
        super().__init__(params, defaults)
        for group in self.param_groups:
            for param in group["params"]:
                self.state[param].update(self._init_state(param, group))

    def _init_state(self, param, group):
        return {
            "step": zero_step(),
            "sum": qilin.full_like(param, group["initial_accumulator_value"]),
        }

    def _update(self, param, grad, state, group):
        new_param, state_sum, step = adagrad_update(
            param,
            grad,
            state["sum"],
            state["step"],
            lr=group["lr"],
            lr_decay=group["lr_decay"],
            weight_decay=group["weight_decay"],
            eps=group["eps"],
            maximize=group["maximize"],
        )
        return new_param, {"step": step, "sum": state_sum}
