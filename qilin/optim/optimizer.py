"""Optimizer: param groups, state, state_dict, zero_grad; subclasses give a pure update.

A subclass says two things: the initial state of one parameter (`_init_state`) and how one
parameter moves (`_update`, which calls the family's pure function written in qilin ops). The
base class owns everything else: walking the groups under no_grad, skipping parameters without a
gradient, and writing the pure function's results back in place, so that a compiler can trace the
same pure function into a compiled training step.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable
from copy import deepcopy
from itertools import chain
from typing import Any

import qilin

from ..autograd import enable_grad, no_grad
from ..tensor import Tensor

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Marks a hyperparameter that every param group must give (torch.optim's `required`)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


def _typename(obj) -> str:
    if isinstance(obj, Tensor):
        return "qilin.Tensor"
    return type(obj).__name__


def scalar_dtype():
    """The dtype of per-parameter scalar state such as `step` (torch: float64 only when the
    default dtype is float64), so state_dicts interchange with torch's."""
    return qilin.float64 if qilin.get_default_dtype() == qilin.float64 else qilin.float32


def zero_step() -> Tensor:
    return qilin.tensor(0.0, dtype=scalar_dtype())


def as_float64(step: Tensor) -> Tensor:
    """Bias corrections are computed in float64 from the step tensor, as torch computes them in
    Python floats; the result multiplies float32 tensors as a 0-dim tensor, keeping their dtype."""
    return step.to(qilin.float64)


class Optimizer:
    """Base class of all optimizers (torch.optim.Optimizer's surface).

    `params` is an iterable of tensors, of (name, tensor) pairs, or of dicts (param groups);
    `defaults` holds the hyperparameters a group takes when it does not give its own.
    """

    def __init__(self, params, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or "
                f"dicts, but got {_typename(params)}"
            )
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    def __getstate__(self) -> dict[str, Any]:
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        text = self.__class__.__name__ + " ("
        for index, group in enumerate(self.param_groups):
            text += f"\nParameter Group {index}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"

    # ----------------------------------------------------------------------------- groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyperparameters (the rest from defaults)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs. Please use a list instead."
            )
        else:
            params = list(params)
        names = [item[0] for item in params if isinstance(item, tuple)]
        tensors = [item[1] if isinstance(item, tuple) else item for item in params]
        if names:
            if len(names) != len(tensors):
                raise ValueError(
                    "all optimizer params should be with/without names. Some param names are "
                    "missing"
                )
            param_group["param_names"] = names
        param_group["params"] = tensors
        for param in tensors:
            if not isinstance(param, Tensor):
                raise TypeError(
                    "optimizer can only optimize Tensors, but one of the params is "
                    + _typename(param)
                )
            if not (param.is_leaf or param.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(
                    "parameter group didn't specify a value of required optimization "
                    f"parameter {name}"
                )
            param_group.setdefault(name, default)
        if len(tensors) != len({id(p) for p in tensors}):
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; in future, "
                "this will cause an error",
                stacklevel=3,
            )
        existing = {id(p) for group in self.param_groups for p in group["params"]}
        if any(id(p) in existing for p in tensors):
            raise ValueError("some parameters appear in more than one parameter group")
        for group in self.param_groups:
            if ("param_names" in group) != ("param_names" in param_group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError(
                    f"all optimizer param groups should be with/without names. cannot add "
                    f"param group {which} to the optimizer"
                )
        self.param_groups.append(param_group)

    # ----------------------------------------------------------------------------- gradients
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients: to None (default), or to zeros in place."""
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                if set_to_none:
                    param.grad = None
                else:
                    grad = param.grad
                    if grad.grad_fn is not None:
                        grad.detach_()
                    else:
                        grad.requires_grad_(False)
                    with no_grad():
                        grad.zero_()

    # ----------------------------------------------------------------------------- stepping
    def step(self, closure: Callable[[], Any] | None = None):
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for param in group["params"]:
                    if param.grad is not None:
                        self._step_param(param, group)
        return loss

    def _step_param(self, param: Tensor, group: dict[str, Any]) -> None:
        state = self.state[param]
        if not state:
            state.update(self._init_state(param, group))
        new_param, new_state = self._update(param, param.grad, state, group)
        param.copy_(new_param)
        for key, value in new_state.items():
            old = state.get(key)
            # Write state back into its own buffer (a compiled step updates it in place);
            # a buffer that does not exist yet (SGD's first momentum) is stored as given.
            if isinstance(old, Tensor) and old.shape == value.shape and old.dtype == value.dtype:
                old.copy_(value)
            else:
                state[key] = value

    def _init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def _update(self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]):
        """Returns (new_param, {state key: new value}) from the family's pure update."""
        raise NotImplementedError

    # ----------------------------------------------------------------------------- state_dict
    def state_dict(self) -> dict[str, Any]:
        """torch's format: groups list their params as ints; 'state' is keyed by those ints."""
        index_of: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {key: value for key, value in group.items() if key != "params"}
            for param in group["params"]:
                index_of.setdefault(id(param), len(index_of))
            packed["params"] = [index_of[id(param)] for param in group["params"]]
            groups.append(packed)
        state = {
            (index_of[id(key)] if isinstance(key, Tensor) else key): value
            for key, value in self.state.items()
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state_dict from `state_dict()` (qilin's or torch's, tensors as qilin tensors).

        Group sizes must match; state tensors are copied and cast to their parameter's dtype,
        except the scalar counters (`step`, NAdam's `mu_product`), which keep their own dtype so
        that a resumed run continues bit for bit (torch casts `mu_product` too)."""
        saved_groups = deepcopy(state_dict["param_groups"])
        groups = self.param_groups
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        for group, saved in zip(groups, saved_groups):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(
                    "loaded state dict contains a parameter group that doesn't match the size "
                    f"of optimizer's group (saved {len(saved['params'])} params, optimizer has "
                    f"{len(group['params'])})"
                )
        id_map = dict(
            zip(
                chain.from_iterable(g["params"] for g in saved_groups),
                chain.from_iterable(g["params"] for g in groups),
            )
        )
        state: defaultdict[Any, dict[str, Any]] = defaultdict(dict)
        for key, value in state_dict["state"].items():
            if key in id_map:
                param = id_map[key]
                state[param] = _cast_state(param, value)
            else:
                state[key] = value
        new_groups = []
        for group, saved in zip(groups, saved_groups):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
            new_groups.append(saved)
        self.state = state
        self.param_groups = new_groups


_SCALAR_STATE = ("step", "mu_product")


def _cast_state(param: Tensor, value, key: str | None = None):
    """A copy of `value` with its tensors cast to the parameter's dtype (floating params only)."""
    if isinstance(value, Tensor):
        if key not in _SCALAR_STATE and param.is_floating_point():
            return value.detach().to(param.dtype).clone()
        return value.detach().clone()
    if isinstance(value, dict):
        return {k: _cast_state(param, v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_state(param, v) for v in value)
    return value


def check_nonnegative(value: float, what: str) -> None:
    """torch's message for a bad hyperparameter, e.g. 'Invalid learning rate: -0.1'."""
    if not value >= 0.0:
        raise ValueError(f"Invalid {what}: {value}")


def check_betas(betas: Iterable[float]) -> None:
    for index, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {index}: {beta}")


def check_flags(differentiable: bool) -> None:
    """foreach / fused / capturable are accepted and ignored (one implementation serves all);
    differentiable=True would need the update recorded by autograd, which step() does not do."""
    if differentiable:
        raise NotImplementedError("qilin optimizers do not support differentiable=True yet")
