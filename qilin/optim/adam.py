"""Adam and AdamW: one update, weight decay either added to the gradient or decoupled."""

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

__all__ = ["Adam", "AdamW", "adam_update"]


def adam_update(
    param,
    grad,
    exp_avg,
    exp_avg_sq,
    max_exp_avg_sq,
    step,
    *,
    lr,
    beta1,
    beta2,
    eps,
    weight_decay,
    amsgrad,
    maximize,
    decoupled_weight_decay,
):
    """One Adam step; returns (param, exp_avg, exp_avg_sq, max_exp_avg_sq, step).

        t = step + 1
        param *= 1 - lr * weight_decay   (decoupled, AdamW)   or   g += weight_decay * param
        m = lerp(m, g, 1 - beta1);   v = beta2 * v + (1 - beta2) * g * g
        v_hat = max(v_max, v) if amsgrad else v
        param -= lr / (1 - beta1^t) * m / (sqrt(v_hat) / sqrt(1 - beta2^t) + eps)

    eps is added after the bias correction of sqrt(v), as torch does.
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
    step_size = lr / (1 - beta1**t)
    bias_correction2_sqrt = (1 - beta2**t).sqrt()
    second_moment = exp_avg_sq
    if amsgrad:
        max_exp_avg_sq = qilin.maximum(max_exp_avg_sq, exp_avg_sq)
        second_moment = max_exp_avg_sq
    denom = second_moment.sqrt() / bias_correction2_sqrt + eps
    param = param - step_size * (exp_avg / denom)
    return param, exp_avg, exp_avg_sq, max_exp_avg_sq, step


class Adam(Optimizer):
    """Adam (torch.optim.Adam); `decoupled_weight_decay=True` makes it AdamW."""

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
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
            "amsgrad": amsgrad,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
            "fused": fused,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def _init_state(self, param, group):
        state = {
            "step": zero_step(),
            "exp_avg": qilin.zeros_like(param),
            "exp_avg_sq": qilin.zeros_like(param),
        }
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = qilin.zeros_like(param)
        return state

    def _update(self, param, grad, state, group):
        beta1, beta2 = group["betas"]
        amsgrad = group["amsgrad"]
        if amsgrad and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = qilin.zeros_like(param)
        new_param, exp_avg, exp_avg_sq, max_exp_avg_sq, step = adam_update(
            param,
            grad,
            state["exp_avg"],
            state["exp_avg_sq"],
            state.get("max_exp_avg_sq"),
            state["step"],
            lr=group["lr"],
            beta1=beta1,
            beta2=beta2,
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            amsgrad=amsgrad,
            maximize=group["maximize"],
            decoupled_weight_decay=group["decoupled_weight_decay"],
        )
        new_state = {"step": step, "exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq}
        if amsgrad:
            new_state["max_exp_avg_sq"] = max_exp_avg_sq
        return new_param, new_state


class AdamW(Adam):
    """Adam with decoupled weight decay (torch.optim.AdamW); weight_decay defaults to 1e-2."""

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
        )

    def load_state_dict(self, state_dict) -> None:
        # A state_dict saved by Adam still loads as AdamW: the decay stays decoupled.
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
