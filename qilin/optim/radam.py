"""RAdam: Adam whose adaptive step is switched on and rectified once its variance is tractable."""

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

__all__ = ["RAdam", "radam_update"]


def radam_update(
    param,
    grad,
    exp_avg,
    exp_avg_sq,
    step,
    *,
    lr,
    beta1,
    beta2,
    eps,
    weight_decay,
    decoupled_weight_decay,
    maximize,
):
    """One RAdam step; returns (param, exp_avg, exp_avg_sq, step).

        rho_inf = 2 / (1 - beta2) - 1;   rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
        r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
        a = sqrt(1 - beta2^t) / (sqrt(v) + eps)
        param -= lr * m / (1 - beta1^t) * (a * r if rho_t > 5 else 1)

    The rho_t > 5 test is a `where` on a 0-dim tensor, not a Python branch, so it traces.
    """
    if maximize:
        grad = -grad
    step = step + 1
    if weight_decay != 0:
        if decoupled_weight_decay:
            param = param * (1 - lr * weight_decay)
        else:
            grad = grad + weight_decay * param
    exp_avg = qilin.lerp(exp_avg, grad, 1 - beta1)
    exp_avg_sq = qilin.addcmul(exp_avg_sq * beta2, grad, grad, value=1 - beta2)
    t = as_float64(step)
    bias_correction1 = 1 - beta1**t
    bias_correction2 = 1 - beta2**t
    corrected_exp_avg = exp_avg / bias_correction1
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * beta2**t / bias_correction2
    # Clamped so the branch that `where` discards (rho_t <= 5) never takes sqrt of a negative.
    rect_square = (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
    rect = rect_square.clamp(min=0).sqrt()
    adaptive_lr = bias_correction2.sqrt() / (exp_avg_sq.sqrt() + eps)
    update = qilin.where(rho_t > 5.0, adaptive_lr * rect, 1.0)
    return param - corrected_exp_avg * lr * update, exp_avg, exp_avg_sq, step


class RAdam(Optimizer):
    """RAdam (torch.optim.RAdam)."""

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
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
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "decoupled_weight_decay": decoupled_weight_decay,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _init_state(self, param, group):
        return {
            "step": zero_step(),
            "exp_avg": qilin.zeros_like(param),
            "exp_avg_sq": qilin.zeros_like(param),
        }

    def _update(self, param, grad, state, group):
        beta1, beta2 = group["betas"]
        new_param, exp_avg, exp_avg_sq, step = radam_update(
            param,
            grad,
            state["exp_avg"],
            state["exp_avg_sq"],
            state["step"],
            lr=group["lr"],
            beta1=beta1,
            beta2=beta2,
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            decoupled_weight_decay=group["decoupled_weight_decay"],
            maximize=group["maximize"],
        )
        return new_param, {"step": step, "exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq}
