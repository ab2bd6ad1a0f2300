"""Adamax: Adam with the infinity norm in place of the second moment."""

from __future__ import annotations

import qilin

from .optimizer import (
    Optimizer,
    as_float64,
    check_betas,
    check_flags,
    check_nonnegative,
    zero_step,
)

__all__ = ["Adamax", "adamax_update"]


def adamax_update(
    param, grad, exp_avg, exp_inf, step, *, lr, beta1, beta2, eps, weight_decay, maximize
):
    """One Adamax step; returns (param, exp_avg, exp_inf, step).

    m = lerp(m, g, 1 - beta1);   u = max(beta2 * u, |g| + eps)
    param -= lr / (1 - beta1^t) * m / u
    """
    if maximize:
        grad = -grad
    step = step + 1
    if weight_decay != 0:
        grad = grad + weight_decay * param
    exp_avg = qilin.lerp(exp_avg, grad, 1 - beta1)
    exp_inf = qilin.maximum(exp_inf * beta2, grad.abs() + eps)
    clr = lr / (1 - beta1 ** as_float64(step))
    return param - clr * (exp_avg / exp_inf), exp_avg, exp_inf, step


class Adamax(Optimizer):
    """Adamax (torch.optim.Adamax)."""

    def __init__(
        self,
        params,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        check_nonnegative(lr, "learning rate")
        check_nonnegative(eps, "epsilon value")
        check_betas(betas)
        check_nonnegative(weight_decay, "weight_decay value")
        check_flags(differentiable)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    def _init_state(self, param, group):
        return {
            "step": zero_step(),
            "exp_avg": qilin.zeros_like(param),
            "exp_inf": qilin.zeros_like(param),
        }

    def _update(self, param, grad, state, group):
        beta1, beta2 = group["betas"]
        new_param, exp_avg, exp_inf, step = adamax_update(
            param,
            grad,
            state["exp_avg"],
            state["exp_inf"],
            state["step"],
            lr=group["lr"],
            beta1=beta1,
            beta2=beta2,
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            maximize=group["maximize"],
        )
        return new_param, {"step": step, "exp_avg": exp_avg, "exp_inf": exp_inf}
