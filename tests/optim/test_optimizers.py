"""qilin.optim against torch.optim: the same problem, the same starting point, 50 steps.

Each library computes its own gradients with its own autograd; parameters start from the same
NumPy arrays (float64). Cases are data: (optimizer name, hyperparameters, maximize the negated
loss?). The loss is a small tanh regression plus a logistic term over four parameters of
different shapes (matrix, vector, column, scalar).
"""

from __future__ import annotations

import copy
import re
import warnings

import numpy as np
import pytest

import qilin
import qilin.optim as optim

torch = pytest.importorskip("torch")

STEPS = 50
# The issue asks for 1e-6; float64 runs agree to ~1e-15, and a misplaced eps or a bias
# correction in the wrong precision hides under 1e-6, so hold a tighter bar.
TOLERANCE = 1e-10

CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.5, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.5, "maximize": True}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-3, "maximize": True}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.5, "amsgrad": True, "maximize": True}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.9, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.005, "alpha": 0.9, "eps": 1e-4, "momentum": 0.5, "maximize": True}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("Adagrad", {"lr": 0.1}),
    (
        "Adagrad",
        {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1, "weight_decay": 0.05},
    ),
    ("Adagrad", {"lr": 0.05, "eps": 1e-3, "maximize": True}),
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-4, "weight_decay": 0.1, "maximize": True}),
    ("Adamax", {}),
    ("Adamax", {"lr": 0.01, "betas": (0.8, 0.95), "weight_decay": 0.1, "maximize": True}),
    ("NAdam", {}),
    ("NAdam", {"lr": 0.01, "momentum_decay": 0.01, "weight_decay": 0.1}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True}),
    ("RAdam", {}),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.1}),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True}),
]
FAMILIES = list(dict.fromkeys(name for name, _ in CASES))
FIRST_CASE = {name: kwargs for name, kwargs in reversed(CASES)}


def case_id(case):
    name, kwargs = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in kwargs.items())


# ------------------------------------------------------------------------------------ problem
def initial_arrays():
    rng = np.random.default_rng(0)
    return [
        rng.standard_normal((5, 4)) * 0.5,  # hidden weight
        rng.standard_normal(4) * 0.1,  # hidden bias
        rng.standard_normal((4, 1)) * 0.5,  # output weight
        np.array(0.3),  # scalar offset
    ]


def data_arrays():
    rng = np.random.default_rng(1)
    inputs = rng.standard_normal((16, 5))
    targets = np.sin(inputs[:, :1]) + 0.1 * rng.standard_normal((16, 1))
    labels = (rng.random((16, 1)) > 0.5).astype(np.float64) * 2 - 1
    return inputs, targets, labels


def make_tensors(lib, arrays, requires_grad=True, dtype="float64"):
    dtype = getattr(lib, dtype)
    return [lib.tensor(np.array(a), dtype=dtype, requires_grad=requires_grad) for a in arrays]


def loss_fn(lib, params, data, maximize):
    """Written once for both libraries: qilin and torch share the surface it uses."""
    weight1, bias1, weight2, offset = params
    inputs, targets, labels = data
    output = (inputs @ weight1 + bias1).tanh() @ weight2 + offset
    loss = ((output - targets) ** 2).mean() + (1 + (-labels * output).exp()).log().mean()
    return -loss if maximize else loss


def train(lib, name, kwargs, steps, params=None, optimizer=None, groups=None, dtype="float64"):
    """Run `steps` steps; returns (params, optimizer). Makes both when not given."""
    kwargs = dict(kwargs)
    data = make_tensors(lib, data_arrays(), requires_grad=False, dtype=dtype)
    if params is None:
        params = make_tensors(lib, initial_arrays(), dtype=dtype)
    if optimizer is None:
        target = groups(params) if groups else params
        optimizer = getattr(lib.optim, name)(target, **kwargs)
    maximize = kwargs.get("maximize", False)
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(lib, params, data, maximize).backward()
        optimizer.step()
    return params, optimizer


def assert_params_close(qilin_params, torch_params, tolerance=TOLERANCE):
    for ours, theirs in zip(qilin_params, torch_params):
        np.testing.assert_allclose(
            ours.detach().numpy(), theirs.detach().numpy(), rtol=tolerance, atol=tolerance
        )


def to_qilin(value):
    """A torch state_dict with its tensors turned into qilin tensors."""
    if isinstance(value, torch.Tensor):
        return qilin.tensor(
            value.detach().numpy().copy(), dtype=getattr(qilin, str(value.dtype)[6:])
        )
    if isinstance(value, dict):
        return {k: to_qilin(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_qilin(v) for v in value]
    return value


def state_arrays(state_dict):
    return {
        (index, key): np.asarray(value.detach().numpy(), dtype=np.float64)
        for index, entry in state_dict["state"].items()
        for key, value in entry.items()
    }


# ------------------------------------------------------------------------------------ parity
@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_matches_torch(case):
    name, kwargs = case
    ours, our_optimizer = train(qilin, name, kwargs, STEPS)
    theirs, their_optimizer = train(torch, name, kwargs, STEPS)
    assert_params_close(ours, theirs)
    # The state has torch's keys, dtypes and values; the groups are torch's, key for key.
    our_dict, their_dict = our_optimizer.state_dict(), their_optimizer.state_dict()
    assert our_dict["param_groups"] == their_dict["param_groups"]
    our_state, their_state = state_arrays(our_dict), state_arrays(their_dict)
    assert our_state.keys() == their_state.keys()
    for key in their_state:
        np.testing.assert_allclose(our_state[key], their_state[key], rtol=1e-6, atol=1e-9)
    for index, entry in their_dict["state"].items():
        for key, value in entry.items():
            assert str(our_dict["state"][index][key].dtype)[6:] == str(value.dtype)[6:]
    assert repr(our_optimizer) == repr(their_optimizer)


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_matches_torch_in_float32(case):
    """float32 parameters keep float32 state and follow torch up to float32 rounding (RMSprop's
    first steps divide by sqrt of tiny averages, which magnifies rounding to ~1e-5)."""
    name, kwargs = case
    ours, our_optimizer = train(qilin, name, kwargs, STEPS, dtype="float32")
    theirs, _ = train(torch, name, kwargs, STEPS, dtype="float32")
    assert_params_close(ours, theirs, tolerance=1e-4)
    for param in ours:
        assert param.dtype == qilin.float32
        for key, value in our_optimizer.state[param].items():
            assert value.dtype == qilin.float32, key


def two_groups(name):
    other_lr = 0.5 * FIRST_CASE[name].get("lr", 1e-3) + 1e-3

    def groups(params):
        return [{"params": params[:2]}, {"params": params[2:], "lr": other_lr}]

    return groups


@pytest.mark.parametrize("name", FAMILIES)
def test_param_groups_with_different_lrs(name):
    kwargs = FIRST_CASE[name]
    ours, our_optimizer = train(qilin, name, kwargs, STEPS, groups=two_groups(name))
    theirs, _ = train(torch, name, kwargs, STEPS, groups=two_groups(name))
    assert_params_close(ours, theirs)
    assert our_optimizer.param_groups[1]["lr"] != our_optimizer.param_groups[0]["lr"]
    # A different lr for the second group really changes the result.
    single, _ = train(qilin, name, kwargs, STEPS)
    assert not np.allclose(single[2].detach().numpy(), ours[2].detach().numpy())


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_state_dict_round_trip_continues_identically(case):
    name, kwargs = case
    straight, _ = train(qilin, name, kwargs, STEPS)
    params, optimizer = train(qilin, name, kwargs, 10)
    saved = copy.deepcopy(optimizer.state_dict())
    fresh_params = make_tensors(qilin, [p.detach().numpy() for p in params])
    fresh = getattr(optim, name)(fresh_params, **kwargs)
    fresh.load_state_dict(saved)
    resumed, _ = train(qilin, name, kwargs, STEPS - 10, params=fresh_params, optimizer=fresh)
    for a, b in zip(straight, resumed):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_loads_torch_state_dict(case):
    name, kwargs = case
    theirs, their_optimizer = train(torch, name, kwargs, 10)
    params = make_tensors(qilin, [p.detach().numpy() for p in theirs])
    ours = getattr(optim, name)(params, **kwargs)
    ours.load_state_dict(to_qilin(their_optimizer.state_dict()))
    train(torch, name, kwargs, STEPS - 10, params=theirs, optimizer=their_optimizer)
    train(qilin, name, kwargs, STEPS - 10, params=params, optimizer=ours)
    assert_params_close(params, theirs)


def test_load_state_dict_casts_state_to_param_dtype():
    params = make_tensors(qilin, initial_arrays())
    optimizer = optim.Adam(params, lr=0.01)
    train(qilin, "Adam", {"lr": 0.01}, 3, params=params, optimizer=optimizer)
    saved = optimizer.state_dict()
    saved["state"][0]["exp_avg"] = saved["state"][0]["exp_avg"].to(qilin.float32)
    fresh = optim.Adam(make_tensors(qilin, initial_arrays()), lr=0.01)
    fresh.load_state_dict(saved)
    first = fresh.param_groups[0]["params"][0]
    assert fresh.state[first]["exp_avg"].dtype == qilin.float64
    assert fresh.state[first]["step"].dtype == saved["state"][0]["step"].dtype


def test_load_state_dict_validates_groups():
    params = make_tensors(qilin, initial_arrays())
    saved = optim.SGD(params, lr=0.1).state_dict()
    two = optim.SGD([{"params": params[:2]}, {"params": params[2:]}], lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        two.load_state_dict(saved)
    smaller = optim.SGD(params[:3], lr=0.1)
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        smaller.load_state_dict(saved)


def test_load_state_dict_restores_group_hyperparameters():
    params = make_tensors(qilin, initial_arrays())
    saved = optim.SGD(params, lr=0.3, momentum=0.7).state_dict()
    other = optim.SGD(params, lr=0.1)
    other.load_state_dict(saved)
    assert other.param_groups[0]["lr"] == 0.3 and other.param_groups[0]["momentum"] == 0.7
    assert other.param_groups[0]["params"][0] is params[0]


# ------------------------------------------------------------------------------------ closure
@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_closure_step_matches_torch_and_returns_loss(name):
    kwargs = FIRST_CASE[name]
    results = {}
    for lib in (qilin, torch):
        params = make_tensors(lib, initial_arrays())
        data = make_tensors(lib, data_arrays(), requires_grad=False)
        optimizer = getattr(lib.optim, name)(params, **kwargs)

        def closure(lib=lib, params=params, data=data, optimizer=optimizer):
            optimizer.zero_grad()
            loss = loss_fn(lib, params, data, False)
            loss.backward()
            return loss

        # Called inside no_grad, the closure still records its graph (step enables grad).
        with lib.no_grad():
            losses = [float(optimizer.step(closure)) for _ in range(20)]
        results[lib.__name__] = (params, losses)
    assert_params_close(results["qilin"][0], results["torch"][0])
    np.testing.assert_allclose(results["qilin"][1], results["torch"][1], rtol=1e-9)


def test_step_without_closure_returns_none():
    params = make_tensors(qilin, initial_arrays())
    assert optim.SGD(params, lr=0.1).step() is None


# ------------------------------------------------------------------------------------ zero_grad
def test_zero_grad_sets_to_none_by_default():
    params, optimizer = train(qilin, "SGD", {"lr": 0.1}, 1)
    loss_fn(qilin, params, make_tensors(qilin, data_arrays(), False), False).backward()
    optimizer.zero_grad()
    assert all(p.grad is None for p in params)


def test_zero_grad_set_to_none_false_zeroes_in_place():
    params = make_tensors(qilin, initial_arrays())
    optimizer = optim.SGD(params, lr=0.1)
    loss_fn(qilin, params, make_tensors(qilin, data_arrays(), False), False).backward()
    grads = [p.grad for p in params]
    optimizer.zero_grad(set_to_none=False)
    for param, grad in zip(params, grads):
        assert param.grad is grad
        assert not param.grad.requires_grad
        np.testing.assert_array_equal(param.grad.numpy(), np.zeros(param.shape))


def test_parameters_without_grad_are_skipped():
    params = make_tensors(qilin, initial_arrays())
    optimizer = optim.Adam(params, lr=0.1)
    (params[0] ** 2).sum().backward()
    before = [p.detach().numpy().copy() for p in params]
    optimizer.step()
    assert not np.array_equal(params[0].detach().numpy(), before[0])
    for param, original in zip(params[1:], before[1:]):
        np.testing.assert_array_equal(param.detach().numpy(), original)
        assert param not in optimizer.state
    assert params[0].grad_fn is None and params[0].requires_grad


def test_step_updates_parameters_in_place():
    params = make_tensors(qilin, initial_arrays())
    optimizer = optim.SGD(params, lr=0.1, momentum=0.9)
    identities = [id(p) for p in params]
    train(qilin, "SGD", {}, 2, params=params, optimizer=optimizer)
    assert [id(p) for p in optimizer.param_groups[0]["params"]] == identities
    buffer = optimizer.state[params[0]]["momentum_buffer"]
    train(qilin, "SGD", {}, 1, params=params, optimizer=optimizer)
    assert optimizer.state[params[0]]["momentum_buffer"] is buffer


# ------------------------------------------------------------------------------------ errors
BAD_HYPERPARAMETERS = [
    ("SGD", {"lr": -0.1}),
    ("SGD", {"lr": 0.1, "momentum": -0.5}),
    ("SGD", {"lr": 0.1, "weight_decay": -1}),
    ("SGD", {"lr": 0.1, "nesterov": True}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True}),
    ("Adam", {"lr": -1e-3}),
    ("Adam", {"eps": -1.0}),
    ("Adam", {"betas": (1.0, 0.999)}),
    ("Adam", {"betas": (0.9, -0.1)}),
    ("AdamW", {"weight_decay": -0.01}),
    ("RMSprop", {"alpha": -0.5}),
    ("RMSprop", {"momentum": -0.5}),
    ("Adagrad", {"lr_decay": -1}),
    ("Adagrad", {"initial_accumulator_value": -1}),
    ("Adadelta", {"rho": 1.5}),
    ("Adamax", {"betas": (0.9, 1.0)}),
    ("NAdam", {"momentum_decay": -1}),
    ("RAdam", {"eps": -1e-8}),
]


@pytest.mark.parametrize("case", BAD_HYPERPARAMETERS, ids=[case_id(c) for c in BAD_HYPERPARAMETERS])
def test_invalid_hyperparameters_raise_like_torch(case):
    name, kwargs = case
    with pytest.raises(ValueError) as their_error:
        getattr(torch.optim, name)(make_tensors(torch, initial_arrays()), **kwargs)
    with pytest.raises(ValueError, match=re.escape(str(their_error.value))):
        getattr(optim, name)(make_tensors(qilin, initial_arrays()), **kwargs)


def test_parameter_collection_errors():
    params = make_tensors(qilin, initial_arrays())
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        optim.SGD(params[0], lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="Please use a list instead"):
        optim.SGD([{"params": set(params)}], lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors, but one of the params is int"):
        optim.SGD([params[0], 3], lr=0.1)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        optim.SGD([params[0] * 2], lr=0.1)


def test_add_param_group():
    params = make_tensors(qilin, initial_arrays())
    optimizer = optim.SGD(params[:2], lr=0.1, momentum=0.9)
    optimizer.add_param_group({"params": params[2], "lr": 0.01})
    group = optimizer.param_groups[1]
    assert len(group["params"]) == 1 and group["params"][0] is params[2]  # a tensor -> a list
    assert group["lr"] == 0.01 and group["momentum"] == 0.9  # the rest from defaults
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        optimizer.add_param_group({"params": [params[3], params[0]]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        optimizer.add_param_group({"params": [params[3], params[3]]})
    assert any("duplicate parameters" in str(w.message) for w in caught)


def test_required_hyperparameter_must_be_given():
    class Plain(optim.Optimizer):
        def __init__(self, params):
            super().__init__(params, {"lr": optim.optimizer.required})

    params = make_tensors(qilin, initial_arrays())
    with pytest.raises(ValueError, match="didn't specify a value of required optimization"):
        Plain(params)
    assert Plain([{"params": params, "lr": 0.1}]).param_groups[0]["lr"] == 0.1


def test_named_parameters_are_accepted():
    params = make_tensors(qilin, initial_arrays())
    named = [(f"p{i}", p) for i, p in enumerate(params)]
    optimizer = optim.SGD(named, lr=0.1)
    assert optimizer.param_groups[0]["param_names"] == ["p0", "p1", "p2", "p3"]
    assert optimizer.state_dict()["param_groups"][0]["param_names"] == ["p0", "p1", "p2", "p3"]


def test_custom_optimizer_subclass_with_own_step():
    """The torch pattern of a hand-written optimizer: override step, keep state in self.state."""

    class SignSGD(optim.Optimizer):
        def __init__(self, params, lr=0.01):
            super().__init__(params, {"lr": lr})

        @qilin.no_grad()
        def step(self, closure=None):
            for group in self.param_groups:
                for param in group["params"]:
                    self.state[param]["count"] = self.state[param].get("count", 0) + 1
                    param.sub_(group["lr"] * param.grad.sign())

    params = make_tensors(qilin, initial_arrays())
    expected = [p.detach().numpy().copy() for p in params]
    optimizer = SignSGD(params, lr=0.1)
    loss_fn(qilin, params, make_tensors(qilin, data_arrays(), False), False).backward()
    grads = [p.grad.numpy().copy() for p in params]
    optimizer.step()
    for param, start, grad in zip(params, expected, grads):
        np.testing.assert_allclose(param.detach().numpy(), start - 0.1 * np.sign(grad))
    assert optimizer.state_dict()["state"][0]["count"] == 1
