"""lr schedulers vs torch's: the same schedule on the same two param groups, lr by lr."""

import math

import numpy as np
import pytest
import torch

import qilin
import qilin.optim as optim
from qilin.optim import lr_scheduler as qsched

STEPS = 60


def _optimizers():
    """qilin and torch SGD, each with two groups of one tiny parameter with different lrs."""
    q = [qilin.tensor([1.0], requires_grad=True) for _ in range(2)]
    t = [torch.tensor([1.0], requires_grad=True) for _ in range(2)]
    groups = [{"lr": 0.1}, {"lr": 0.03}]
    q_opt = optim.SGD([dict(g, params=[p]) for g, p in zip(groups, q)], lr=0.1, momentum=0.9)
    t_opt = torch.optim.SGD([dict(g, params=[p]) for g, p in zip(groups, t)], lr=0.1, momentum=0.9)
    return (q, q_opt), (t, t_opt)


def _train_step(params, opt, grad_fn):
    opt.zero_grad()
    for p in params:
        p.grad = grad_fn(np.ones(1, dtype=np.float32))
    opt.step()


def _lrs(opt):
    return [g["lr"] for g in opt.param_groups]


def _check_same(q_opt, t_opt, q_s, t_s, step):
    np.testing.assert_allclose(_lrs(q_opt), _lrs(t_opt), rtol=1e-12, err_msg=f"step {step}")
    np.testing.assert_allclose(q_s.get_last_lr(), t_s.get_last_lr(), rtol=1e-12)


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
]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_schedule_matches_torch(name, kwargs):
    (qp, q_opt), (tp, t_opt) = _optimizers()
    q_s = _build(name, kwargs, q_opt, "q")
    t_s = _build(name, kwargs, t_opt, "t")
    _check_same(q_opt, t_opt, q_s, t_s, 0)
    assert [g["initial_lr"] for g in q_opt.param_groups] == [0.1, 0.03]
    for step in range(1, STEPS + 1):
        _train_step(qp, q_opt, qilin.tensor)
        _train_step(tp, t_opt, torch.tensor)
        q_s.step()
        t_s.step()
        _check_same(q_opt, t_opt, q_s, t_s, step)
    assert getattr(q_s, "last_epoch", None) == getattr(t_s, "last_epoch", None)


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_state_dict_resumes(name, kwargs):
    """Save after 25 steps, load into a fresh scheduler (built on the restored optimizer) and
    continue: the schedule goes on exactly as an uninterrupted one."""
    (qp, q_opt), (tp, t_opt) = _optimizers()
    q_s = _build(name, kwargs, q_opt, "q")
    t_s = _build(name, kwargs, t_opt, "t")
    for _ in range(25):
        _train_step(qp, q_opt, qilin.tensor)
        _train_step(tp, t_opt, torch.tensor)
        q_s.step()
        t_s.step()
    state = q_s.state_dict()
    assert "optimizer" not in state
    opt_state = q_opt.state_dict()
    (qp2, q_opt2), _ = _optimizers()
    q_s2 = _build(name, kwargs, q_opt2, "q")
    q_opt2.load_state_dict(opt_state)
    q_s2.load_state_dict(state)
    for step in range(26, STEPS + 1):
        _train_step(qp2, q_opt2, qilin.tensor)
        _train_step(tp, t_opt, torch.tensor)
        q_s2.step()
        t_s.step()
        _check_same(q_opt2, t_opt, q_s2, t_s, step)


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
