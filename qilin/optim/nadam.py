"""NAdam: Adam with Nesterov momentum and a momentum schedule (momentum_decay)."""

from __future__ import annotations

import qilin

from .optimizer import (
    Optimizer,
    as_float64,
    check_betas,
    check_flags,
    check_nonnegative,
    scalar_dtype,
    zero_step,
)

__all__ = ["NAdam", "nadam_update"]


def nadam_update(
    param,
    grad,
    exp_avg,
    exp_avg_sq,
    mu_product,
    step,
    *,
    lr,
    beta1,
    beta2,
    eps,
    weight_decay,
    momentum_decay,
    decoupled_weight_decay,
    maximize,
):
    """One NAdam step; returns (param, exp_avg, exp_avg_sq, mu_product, step).

        mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay));   P_t = P_{t-1} * mu_t
        m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
        d = sqrt(v / (1 - beta2^t)) + eps
        param -= lr * (1 - mu_t) / (1 - P_t) * g / d + lr * mu_{t+1} / (1 - P_t mu_{t+1}) * m / d

    mu_product keeps its own (scalar) dtype, as in torch's state, and mu is rounded to that
    dtype before the product, as torch's in-place multiply does.
    """
    if maximize:
        grad = -grad
    step = step + 1
    t = as_float64(step)
    bias_correction2 = 1 - beta2**t
    if weight_decay != 0:
        if decoupled_weight_decay:
            param = param * (1 - lr * weight_decay)
        else:
            grad = grad + weight_decay * param
    mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay))
    mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
    mu_product = mu_product * mu.to(mu_product.dtype)
    exp_avg = qilin.lerp(exp_avg, grad, 1 - beta1)
    exp_avg_sq = qilin.addcmul(exp_avg_sq * beta2, grad, grad, value=1 - beta2)
    denom = (exp_avg_sq / bias_correction2).sqrt() + eps
    product = as_float64(mu_product)
    grad_scale = -lr * (1.0 - mu) / (1.0 - product)
    avg_scale = -lr * mu_next / (1.0 - product * mu_next)
    param = param + grad_scale * (grad / denom) + avg_scale * (exp_avg / denom)
    return param, exp_avg, exp_avg_sq, mu_product, step


class NAdam(Optimizer):
    """NAdam (torch.optim.NAdam)."""

    def __init__(
        self,
        params,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
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
        check_nonnegative(momentum_decay, "momentum_decay value")
        check_flags(differentiable)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum_decay": momentum_decay,
            "decoupled_weight_decay": decoupled_weight_decay,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _init_state(self, param, group):
        return {
            "step": zero_step(),
            "mu_product": qilin.tensor(1.0, dtype=scalar_dtype()),
            "exp_avg": qilin.zeros_like(param),
            "exp_avg_sq": qilin.zeros_like(param),
        }

    def _update(self, param, grad, state, group):
        beta1, beta2 = group["betas"]
        new_param, exp_avg, exp_avg_sq, mu_product, step = nadam_update(
            param,
            grad,
            state["exp_avg"],
            state["exp_avg_sq"],
            state["mu_product"],
            state["step"],
            lr=group["lr"],
            beta1=beta1,
            beta2=beta2,
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            momentum_decay=group["momentum_decay"],
            decoupled_weight_decay=group["decoupled_weight_decay"],
            maximize=group["maximize"],
        )
        new_state = {"step": step, "mu_product": mu_product}
        new_state.update(exp_avg=exp_avg, exp_avg_sq=exp_avg_sq)
        return new_param, new_state
