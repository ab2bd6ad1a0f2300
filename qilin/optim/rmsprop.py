"""RMSprop: gradients divided by a running root mean square (centered and momentum variants)."""

from __future__ import annotations

import qilin

from .optimizer import Optimizer, check_flags, check_nonnegative, zero_step

__all__ = ["RMSprop", "rmsprop_update"]


def rmsprop_update(
    param,
    grad,
    square_avg,
    grad_avg,
    momentum_buffer,
    step,
    *,
    lr,
    alpha,
    eps,
    weight_decay,
    momentum,
    centered,
    maximize,
):
    """One RMSprop step; returns (param, square_avg, grad_avg, momentum_buffer, step).

    v = alpha * v + (1 - alpha) * g * g
    avg = sqrt(v - mean_g^2) + eps  (centered, mean_g = lerp(mean_g, g, 1 - alpha))
          sqrt(v) + eps             (otherwise)
    b = momentum * b + g / avg;  param -= lr * b     (momentum > 0)
    param -= lr * g / avg                            (otherwise)
    """
    if maximize:
        grad = -grad
    step = step + 1
    if weight_decay != 0:
        grad = grad + weight_decay * param
    square_avg = qilin.addcmul(square_avg * alpha, grad, grad, value=1 - alpha)
    if centered:
        grad_avg = qilin.lerp(grad_avg, grad, 1 - alpha)
        avg = qilin.addcmul(square_avg, grad_avg, grad_avg, value=-1).sqrt() + eps
    else:
        avg = square_avg.sqrt() + eps
    if momentum > 0:
        momentum_buffer = qilin.addcdiv(momentum_buffer * momentum, grad, avg)
        param = param - lr * momentum_buffer
    else:
        param = param - lr * (grad / avg)
    return param, square_avg, grad_avg, momentum_buffer, step


class RMSprop(Optimizer):
    """RMSprop (torch.optim.RMSprop)."""

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_nonnegative(lr, "learning rate")
        check_nonnegative(eps, "epsilon value")
        check_nonnegative(momentum, "momentum value")
        check_nonnegative(weight_decay, "weight_decay value")
        check_nonnegative(alpha, "alpha value")
        check_flags(differentiable)
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
            "capturable": capturable,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _init_state(self, param, group):
        state = {"step": zero_step(), "square_avg": qilin.zeros_like(param)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = qilin.zeros_like(param)
        if group["centered"]:
            state["grad_avg"] = qilin.zeros_like(param)
        return state

    def _update(self, param, grad, state, group):
        new_param, square_avg, grad_avg, buffer, step = rmsprop_update(
            param,
            grad,
            state["square_avg"],
            state.get("grad_avg"),
            state.get("momentum_buffer"),
            state["step"],
            lr=group["lr"],
            alpha=group["alpha"],
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            momentum=group["momentum"],
            centered=group["centered"],
            maximize=group["maximize"],
        )
        new_state = {"step": step, "square_avg": square_avg}
        if group["momentum"] > 0:
            new_state["momentum_buffer"] = buffer
        if group["centered"]:
            new_state["grad_avg"] = grad_avg
        return new_param, new_state
