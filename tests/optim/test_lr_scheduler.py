"""lr schedulers vs torch's: the same schedule on the same two param groups, lr by lr."""

import io
import math

import numpy as np
import pytest
import torch

import qilin
import qilin.optim as optim
from qilin.optim import lr_scheduler as qsched

STEPS = 60


def _optimizers(kind="sgd"):
    """qilin and torch optimizers, each with two groups of one tiny parameter with different
    lrs: SGD with momentum, or Adam (whose beta1 is what momentum-cycling schedulers drive)."""
    q = [qilin.tensor([1.0], requires_grad=True) for _ in range(2)]
    t = [torch.tensor([1.0], requires_grad=True) for _ in range(2)]
    groups = [{"lr": 0.1}, {"lr": 0.03}]
    if kind == "sgd":
        q_class, t_class, extra = optim.SGD, torch.optim.SGD, {"momentum": 0.9}
    else:
        q_class, t_class, extra = optim.Adam, torch.optim.Adam, {"betas": (0.9, 0.99)}
    q_opt = q_class([dict(g, params=[p]) for g, p in zip(groups, q)], lr=0.1, **extra)
    t_opt = t_class([dict(g, params=[p]) for g, p in zip(groups, t)], lr=0.1, **extra)
    return (q, q_opt), (t, t_opt)


def _train_step(params, opt, grad_fn):
    opt.zero_grad()
    for p in params:
        p.grad = grad_fn(np.ones(1, dtype=np.float32))
    opt.step()


def _lrs(opt):
    return [g["lr"] for g in opt.param_groups]


# The param-group entries a scheduler sets besides "lr" (momentum cycling, OneCycleLR's bounds).
_GROUP_KEYS = ("initial_lr", "max_lr", "min_lr", "momentum", "betas", "max_momentum",
               "base_momentum")  # fmt: skip


def _check_same(q_opt, t_opt, q_s, t_s, step, q_params=None, t_params=None):
    np.testing.assert_allclose(_lrs(q_opt), _lrs(t_opt), rtol=1e-12, err_msg=f"step {step}")
    np.testing.assert_allclose(q_s.get_last_lr(), t_s.get_last_lr(), rtol=1e-12)
    for q_group, t_group in zip(q_opt.param_groups, t_opt.param_groups):
        for key in _GROUP_KEYS:
            assert (key in q_group) == (key in t_group), (key, step)
            if key in t_group:
                expected = t_group[key]
                np.testing.assert_allclose(
                    q_group[key], expected, rtol=1e-12, err_msg=f"{key} at step {step}"
                )
                assert type(q_group[key]) is type(expected), key
    if q_params is not None:  # the optimizer really used the scheduled lr (and momentum)
        for q_param, t_param in zip(q_params, t_params):
            np.testing.assert_allclose(
                q_param.detach().numpy(), t_param.detach().numpy(), rtol=1e-6, atol=1e-7
            )


def _build(name, kwargs, opt, lib):
    mod = qsched if lib == "q" else torch.optim.lr_scheduler
    if name == "SequentialLR":
        a = mod.LinearLR(opt, start_factor=0.2, total_iters=7)
        b = mod.CosineAnnealingLR(opt, T_max=20, eta_min=0.001)
        c = mod.StepLR(opt, step_size=4, gamma=0.7)
        return mod.SequentialLR(opt, [a, b, c], milestones=[7, 30])
    if name == "ChainedScheduler":
        a = mod.ConstantLR(opt, factor=0.5, total_iters=9)
        b = mod.ExponentialLR(opt, gamma=0.95)
        c = mod.MultiStepLR(opt, milestones=[10, 20, 20], gamma=0.5)
        return mod.ChainedScheduler([a, b, c])
    return getattr(mod, name)(opt, **kwargs)


class _HalvingScale:
    """A callable object as CyclicLR's scale_fn: its state is saved in the state_dict."""

    def __init__(self, rate):
        self.rate = rate

    def __call__(self, cycle):
        return self.rate ** (cycle - 1)


CASES = [
    ("LambdaLR", {"lr_lambda": lambda e: 1.0 / (1 + e)}),
    ("LambdaLR", {"lr_lambda": [lambda e: 0.9**e, lambda e: 1 + 0.1 * e]}),
    ("MultiplicativeLR", {"lr_lambda": lambda e: 0.97}),
    ("MultiplicativeLR", {"lr_lambda": [lambda e: 0.9, lambda e: 1.0 + 1 / (e + 3)]}),
    ("StepLR", {"step_size": 7}),
    ("StepLR", {"step_size": 3, "gamma": 0.8}),
    ("MultiStepLR", {"milestones": [5, 17, 17, 40]}),
    ("MultiStepLR", {"milestones": [30, 10], "gamma": 0.3}),
    ("ConstantLR", {}),
    ("ConstantLR", {"factor": 0.25, "total_iters": 13}),
    ("LinearLR", {}),
    ("LinearLR", {"start_factor": 0.9, "end_factor": 0.05, "total_iters": 37}),
    ("ExponentialLR", {"gamma": 0.93}),
    ("ExponentialLR", {"gamma": 1.01}),
    ("PolynomialLR", {}),
    ("PolynomialLR", {"total_iters": 45, "power": 2.5}),
    ("CosineAnnealingLR", {"T_max": 10}),
    ("CosineAnnealingLR", {"T_max": 23, "eta_min": 0.002}),
    ("SequentialLR", {}),
    ("ChainedScheduler", {}),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 7}),
    (
        "CyclicLR",
        {
            "base_lr": [0.01, 0.002],
            "max_lr": [0.1, 0.05],
            "step_size_up": 5,
            "step_size_down": 9,
            "mode": "triangular2",
            "base_momentum": [0.7, 0.8],
            "max_momentum": 0.95,
        },
    ),  # fmt: skip
    (
        "CyclicLR",
        {"base_lr": 0.001, "max_lr": 0.01, "step_size_up": 4, "mode": "exp_range", "gamma": 0.97},
        "adam",
    ),
    (
        "CyclicLR",
        {
            "base_lr": 0.001,
            "max_lr": 0.02,
            "step_size_up": 6,
            "scale_fn": lambda x: 0.5 * (1 + math.sin(x)),
            "scale_mode": "iterations",
        },
    ),  # fmt: skip
    (
        "CyclicLR",
        {"base_lr": 0.003, "max_lr": 0.03, "step_size_up": 11, "scale_fn": _HalvingScale(0.7)},
    ),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 3, "cycle_momentum": False}),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": STEPS}),
    (
        "OneCycleLR",
        {
            "max_lr": [0.3, 0.1],
            "epochs": 6,
            "steps_per_epoch": 10,
            "pct_start": 0.25,
            "anneal_strategy": "linear",
            "div_factor": 10.0,
            "final_div_factor": 100.0,
        },
        "adam",
    ),  # fmt: skip
    (
        "OneCycleLR",
        {
            "max_lr": 0.2,
            "total_steps": STEPS + 7,
            "three_phase": True,
            "base_momentum": [0.8, 0.85],
            "max_momentum": [0.9, 0.99],
        },
    ),  # fmt: skip
    ("OneCycleLR", {"max_lr": 0.2, "total_steps": STEPS, "three_phase": True}, "adam"),
    ("OneCycleLR", {"max_lr": 0.2, "total_steps": STEPS, "cycle_momentum": False}, "adam"),
    ("CosineAnnealingWarmRestarts", {"T_0": 10}),
    ("CosineAnnealingWarmRestarts", {"T_0": 3, "T_mult": 2, "eta_min": 0.001}),
    ("CosineAnnealingWarmRestarts", {"T_0": 7, "T_mult": 3}, "adam"),
]
CASE_IDS = [f"{case[0]}-{index}" for index, case in enumerate(CASES)]


def _case(case):
    name, kwargs, *rest = case
    return name, kwargs, (rest[0] if rest else "sgd")


def _run(qp, q_opt, tp, t_opt, q_s, t_s, steps):
    for step in steps:
        _train_step(qp, q_opt, qilin.tensor)
        _train_step(tp, t_opt, torch.tensor)
        q_s.step()
        t_s.step()
        _check_same(q_opt, t_opt, q_s, t_s, step, qp, tp)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_schedule_matches_torch(case):
    name, kwargs, kind = _case(case)
    (qp, q_opt), (tp, t_opt) = _optimizers(kind)
    q_s = _build(name, kwargs, q_opt, "q")
    t_s = _build(name, kwargs, t_opt, "t")
    _check_same(q_opt, t_opt, q_s, t_s, 0)
    _run(qp, q_opt, tp, t_opt, q_s, t_s, range(1, STEPS + 1))
    assert getattr(q_s, "last_epoch", None) == getattr(t_s, "last_epoch", None)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_state_dict_resumes(case):
    """Save after 25 steps (through qilin.save, as a checkpoint would), load into a fresh
    scheduler built on a restored optimizer and continue: the schedule goes on exactly as an
    uninterrupted one (torch's)."""
    name, kwargs, kind = _case(case)
    (qp, q_opt), (tp, t_opt) = _optimizers(kind)
    q_s = _build(name, kwargs, q_opt, "q")
    t_s = _build(name, kwargs, t_opt, "t")
    _run(qp, q_opt, tp, t_opt, q_s, t_s, range(1, 26))
    assert "optimizer" not in q_s.state_dict()
    buffer = io.BytesIO()
    qilin.save({"scheduler": q_s.state_dict(), "optimizer": q_opt.state_dict()}, buffer)
    buffer.seek(0)
    saved = qilin.load(buffer)
    (_, q_opt2), _ = _optimizers(kind)
    q_s2 = _build(name, kwargs, q_opt2, "q")
    qp2 = [group["params"][0] for group in q_opt2.param_groups]
    with qilin.no_grad():
        for new, old in zip(qp2, qp):
            new.copy_(old)
    q_opt2.load_state_dict(saved["optimizer"])
    q_s2.load_state_dict(saved["scheduler"])
    _run(qp2, q_opt2, tp, t_opt, q_s2, t_s, range(26, STEPS + 1))


def test_cyclic_scale_fn_object_state_is_saved():
    (_, q_opt), _ = _optimizers()
    scale = _HalvingScale(0.7)
    scheduler = qsched.CyclicLR(q_opt, 0.01, 0.1, step_size_up=3, scale_fn=scale)
    state = scheduler.state_dict()
    assert state["_scale_fn_custom"] == {"rate": 0.7}
    scale.rate = 0.2
    scheduler.load_state_dict(state)
    assert scale.rate == 0.7
    lambda_state = qsched.CyclicLR(q_opt, 0.01, 0.1, scale_fn=lambda x: 1.0).state_dict()
    assert lambda_state["_scale_fn_custom"] is None


def test_one_cycle_refuses_to_step_past_total_steps():
    (qp, q_opt), (tp, t_opt) = _optimizers()
    q_s = qsched.OneCycleLR(q_opt, max_lr=0.1, total_steps=5)
    t_s = torch.optim.lr_scheduler.OneCycleLR(t_opt, max_lr=0.1, total_steps=5)
    _run(qp, q_opt, tp, t_opt, q_s, t_s, range(1, 6))
    with pytest.raises(ValueError) as t_error:
        t_s.step()
    with pytest.raises(ValueError) as q_error:
        q_s.step()
    assert str(q_error.value) == str(t_error.value)
    assert "Tried to step 6 times" in str(q_error.value)


@pytest.mark.parametrize("T_0,T_mult", [(5, 1), (2, 2), (3, 3)])
def test_cosine_warm_restarts_with_explicit_fractional_epochs(T_0, T_mult):
    """step(epoch) with fractional epochs, forwards and jumping back, as torch documents."""
    (_, q_opt), (_, t_opt) = _optimizers()
    q_s = qsched.CosineAnnealingWarmRestarts(q_opt, T_0, T_mult, eta_min=0.005)
    t_s = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(t_opt, T_0, T_mult, eta_min=0.005)
    epochs = [k * 0.37 for k in range(70)] + [3, 0.5, 40.25, 12, 12.999, 13]
    for index, epoch in enumerate(epochs):
        q_s.step(epoch)
        t_s.step(epoch)
        _check_same(q_opt, t_opt, q_s, t_s, index)
        assert (q_s.T_cur, q_s.T_i, q_s.last_epoch) == (t_s.T_cur, t_s.T_i, t_s.last_epoch)
    # plain step() continues from the last explicit epoch
    for index in range(20):
        q_s.step()
        t_s.step()
        _check_same(q_opt, t_opt, q_s, t_s, index)


BAD_ARGUMENTS = [
    ("CyclicLR", {"base_lr": 0.1, "max_lr": 1.0, "mode": "square"}, "mode is invalid"),
    ("CyclicLR", {"base_lr": [0.1], "max_lr": 1.0}, "base_lr must have the same length"),
    ("CyclicLR", {"base_lr": 0.1, "max_lr": 1.0, "max_momentum": [0.9]}, "max_momentum must"),
    ("OneCycleLR", {"max_lr": 0.1}, "total_steps OR"),
    ("OneCycleLR", {"max_lr": 0.1, "total_steps": 0}, "positive integer total_steps"),
    ("OneCycleLR", {"max_lr": 0.1, "epochs": 2, "steps_per_epoch": 0}, "steps_per_epoch"),
    ("OneCycleLR", {"max_lr": 0.1, "epochs": -1, "steps_per_epoch": 3}, "epochs"),
    ("OneCycleLR", {"max_lr": 0.1, "total_steps": 9, "pct_start": 1.5}, "pct_start"),
    ("OneCycleLR", {"max_lr": 0.1, "total_steps": 9, "anneal_strategy": "exp"}, "anneal"),
    ("OneCycleLR", {"max_lr": [0.1, 0.2, 0.3], "total_steps": 9}, "max_lr must have"),
    ("CosineAnnealingWarmRestarts", {"T_0": 0}, "positive integer T_0"),
    ("CosineAnnealingWarmRestarts", {"T_0": 2.5}, "positive integer T_0"),
    ("CosineAnnealingWarmRestarts", {"T_0": 2, "T_mult": 0}, "T_mult >= 1"),
    ("CosineAnnealingWarmRestarts", {"T_0": 2, "eta_min": "0"}, "eta_min"),
]


@pytest.mark.parametrize("name,kwargs,message", BAD_ARGUMENTS)
def test_bad_arguments_raise_like_torch(name, kwargs, message):
    (_, q_opt), (_, t_opt) = _optimizers()
    with pytest.raises(ValueError, match=message):
        getattr(torch.optim.lr_scheduler, name)(t_opt, **kwargs)
    with pytest.raises(ValueError, match=message):
        getattr(qsched, name)(q_opt, **kwargs)


def test_momentum_cycling_needs_a_momentum_optimizer():
    parameter = qilin.zeros(1, requires_grad=True)
    adagrad = optim.Adagrad([parameter], lr=0.1)
    with pytest.raises(ValueError, match="momentum or beta1"):
        qsched.OneCycleLR(adagrad, max_lr=0.1, total_steps=10)
    with pytest.raises(ValueError, match="momentum or beta1"):
        qsched.CyclicLR(adagrad, 0.01, 0.1)
    qsched.CyclicLR(adagrad, 0.01, 0.1, cycle_momentum=False)  # fine without cycling


def test_no_warning_when_optimizer_steps_first(recwarn):
    (qp, q_opt), _ = _optimizers()
    s = qsched.StepLR(q_opt, step_size=2)
    _train_step(qp, q_opt, qilin.tensor)
    s.step()
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


def test_warns_when_scheduler_steps_first():
    (_, q_opt), _ = _optimizers()
    s = qsched.ExponentialLR(q_opt, gamma=0.5)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        s.step()


def test_resume_without_initial_lr_raises():
    (_, q_opt), _ = _optimizers()
    with pytest.raises(KeyError, match="initial_lr"):
        qsched.StepLR(q_opt, step_size=3, last_epoch=4)


def _metrics(n):
    # Improves, plateaus with noise, improves a little, then plateaus again.
    rng = np.random.default_rng(0)
    base = [1.0 / (1 + k) if k < 10 else 0.09 + 0.001 * math.sin(k) for k in range(n)]
    return [b + 1e-5 * rng.standard_normal() for b in base]


PLATEAU_CASES = [
    {},
    {"mode": "max", "factor": 0.5, "patience": 2},
    {"patience": 3, "threshold": 0.01, "threshold_mode": "abs", "cooldown": 2},
    {"patience": 1, "factor": 0.3, "min_lr": [0.01, 0.001], "cooldown": 1},
    {"patience": 0, "factor": 0.9, "min_lr": 0.0299, "eps": 1e-3},
    {"mode": "max", "threshold_mode": "abs", "threshold": 0.0, "patience": 4},
]


@pytest.mark.parametrize("kwargs", PLATEAU_CASES)
def test_reduce_on_plateau_matches_torch(kwargs):
    (qp, q_opt), (tp, t_opt) = _optimizers()
    q_s = qsched.ReduceLROnPlateau(q_opt, **kwargs)
    t_s = torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, **kwargs)
    metrics = _metrics(STEPS)
    for step, metric in enumerate(metrics[:30], 1):
        q_s.step(metric)
        t_s.step(metric)
        _check_same(q_opt, t_opt, q_s, t_s, step)
        assert (q_s.num_bad_epochs, q_s.cooldown_counter) == (
            t_s.num_bad_epochs,
            t_s.cooldown_counter,
        )
    (_, q_opt2), _ = _optimizers()
    q_s2 = qsched.ReduceLROnPlateau(q_opt2, **kwargs)
    q_opt2.load_state_dict(q_opt.state_dict())
    q_s2.load_state_dict(q_s.state_dict())
    for step, metric in enumerate(metrics[30:], 31):
        q_s2.step(metric)
        t_s.step(metric)
        _check_same(q_opt2, t_opt, q_s2, t_s, step)


def test_reduce_on_plateau_rejects_bad_arguments():
    (_, q_opt), _ = _optimizers()
    with pytest.raises(ValueError, match="Factor"):
        qsched.ReduceLROnPlateau(q_opt, factor=1.0)
    with pytest.raises(ValueError, match="min_lrs"):
        qsched.ReduceLROnPlateau(q_opt, min_lr=[0.1])
    with pytest.raises(ValueError, match="mode"):
        qsched.ReduceLROnPlateau(q_opt, mode="avg")


def test_multistep_milestones_survive_a_saved_state_dict():
    """qilin.save stores a Counter as a dict; the closed form (step(epoch)) still needs one."""
    (_, q_opt), (_, t_opt) = _optimizers()
    q_s = qsched.MultiStepLR(q_opt, milestones=[2, 5, 5])
    t_s = torch.optim.lr_scheduler.MultiStepLR(t_opt, milestones=[2, 5, 5])
    buffer = io.BytesIO()
    qilin.save(q_s.state_dict(), buffer)
    buffer.seek(0)
    q_s.load_state_dict(qilin.load(buffer))
    with pytest.warns(UserWarning, match="deprecated"):
        q_s.step(6)
    with pytest.warns(UserWarning, match="deprecated"):
        t_s.step(6)
    _check_same(q_opt, t_opt, q_s, t_s, 6)
