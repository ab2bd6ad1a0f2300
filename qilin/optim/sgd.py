"""SGD with momentum, dampening, Nesterov momentum, weight decay and maximize."""

from __future__ import annotations

from .optimizer import Optimizer, check_flags, check_nonnegative

__all__ = ["SGD", "sgd_update"]


def sgd_update(
    param, grad, momentum_buffer, *, lr, momentum, dampening, nesterov, weight_decay, maximize
):
    """One SGD step; returns (new_param, new_momentum_buffer).

        g = -grad if maximize else grad;   g += weight_decay * param
        b = g (first step)  or  momentum * b + (1 - dampening) * g
        d = g + momentum * b if nesterov else b
        param = param - lr * d

    With momentum == 0 there is no buffer and None is returned for it.
    """
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad + weight_decay * param
    if momentum != 0:
        if momentum_buffer is None:
            momentum_buffer = grad.clone()
        else:
            damped = grad if dampening == 0 else (1 - dampening) * grad  # one pass fewer
            momentum_buffer = momentum_buffer * momentum + damped
        grad = grad + momentum * momentum_buffer if nesterov else momentum_buffer
    return param - lr * grad, momentum_buffer


class SGD(Optimizer):
    """Stochastic gradient descent (torch.optim.SGD)."""

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        check_nonnegative(lr, "learning rate")
        check_nonnegative(momentum, "momentum value")
        check_nonnegative(weight_decay, "weight_decay value")
        check_flags(differentiable)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
            "foreach": foreach,
            "differentiable": differentiable,
            "fused": fused,
        }
        super().__init__(params, defaults)

    def _init_state(self, param, group):
        return {}

    def _update(self, param, grad, state, group):
        new_param, buffer = sgd_update(
            param,
            grad,
            state.get("momentum_buffer"),
            lr=group["lr"],
            momentum=group["momentum"],
            dampening=group["dampening"],
            nesterov=group["nesterov"],
            weight_decay=group["weight_decay"],
            maximize=group["maximize"],
        )
        return new_param, ({} if buffer is None else {"momentum_buffer": buffer})
