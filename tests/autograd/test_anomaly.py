"""detect_anomaly: NaN produced in backward names the backward function and the user's
forward line; other modes and switches behave like torch's."""

import warnings

import numpy as np
import pytest

import qilin

from .oracle import parity, torch

LIBS = (torch, qilin)


def _sqrt_at_zero(lib):
    x = lib.tensor(np.array([0.0, 1.0]), requires_grad=True)
    y = (x.sqrt() * 0).sum()  # FORWARD-LINE: d sqrt / dx at 0 is inf, times 0 is nan
    return x, y


@pytest.mark.parametrize("lib", LIBS, ids=["torch", "qilin"])
def test_nan_in_backward_raises_naming_the_function_and_forward_line(lib):
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        manager = lib.autograd.detect_anomaly()
    with manager:
        x, y = _sqrt_at_zero(lib)
        with (
            pytest.raises(
                RuntimeError, match="Function 'SqrtBackward0' returned nan values in its 0th output"
            ) as caught,
            warnings.catch_warnings(record=True) as warned,
        ):
            warnings.simplefilter("always")
            y.backward()
    if lib is qilin:  # torch prints the forward trace as a warning; qilin puts it in the error
        text = str(caught.value)
        assert "FORWARD-LINE" in text and "test_anomaly.py" in text
    else:
        assert any(
            "FORWARD-LINE" in str(w.message) or "Error detected in SqrtBackward0" in str(w.message)
            for w in warned
        )


def test_without_anomaly_mode_nan_just_flows_into_grad():
    def run(lib):
        x, y = _sqrt_at_zero(lib)
        y.backward()
        return np.isnan(x.grad.detach().numpy()).tolist(), lib.is_anomaly_enabled()

    parity(run)


def test_check_nan_false_does_not_raise():
    def run(lib):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with lib.autograd.detect_anomaly(check_nan=False):
                x, y = _sqrt_at_zero(lib)
                y.backward()
                return lib.is_anomaly_enabled(), lib.is_anomaly_check_nan_enabled()

    parity(run)


@pytest.mark.parametrize("lib", LIBS, ids=["torch", "qilin"])
def test_custom_function_returning_nan(lib):
    class Bad(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad * float("nan")

    x = lib.tensor([1.0, 2.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with lib.autograd.detect_anomaly():
            y = Bad.apply(x).sum()  # BAD-FUNCTION-LINE
            with pytest.raises(
                RuntimeError, match="Function 'BadBackward' returned nan values"
            ) as caught:
                y.backward()
    if lib is qilin:
        assert "BAD-FUNCTION-LINE" in str(caught.value)


def test_set_detect_anomaly_switches_and_restores():
    def run(lib):
        log = [lib.is_anomaly_enabled()]
        lib.autograd.set_detect_anomaly(True)
        log.append(lib.is_anomaly_enabled())
        lib.autograd.set_detect_anomaly(False)
        log.append(lib.is_anomaly_enabled())
        with lib.autograd.set_detect_anomaly(True):
            log.append(lib.is_anomaly_enabled())
        log.append(lib.is_anomaly_enabled())
        return log

    parity(run)


def test_error_inside_backward_shows_forward_line_under_anomaly_mode():
    class Broken(qilin.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            raise ValueError("broken backward")

    x = qilin.tensor([1.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with qilin.autograd.detect_anomaly():
            y = Broken.apply(x).sum()  # BROKEN-LINE
            with pytest.raises(ValueError, match="broken backward") as caught:
                y.backward()
    notes = "\n".join(getattr(caught.value, "__notes__", []))
    assert "BROKEN-LINE" in notes and "BrokenBackward" in notes


def test_stale_saved_tensor_error_shows_forward_line_under_anomaly_mode():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with qilin.autograd.detect_anomaly():
            a = qilin.tensor([1.0, 2.0], requires_grad=True) * 1
            b = a * a  # SAVING-LINE
            a.add_(1)
            with pytest.raises(RuntimeError, match="modified by an inplace") as caught:
                b.sum().backward()
    assert "SAVING-LINE" in str(caught.value)


def test_decorator_form():
    # qilin's detect_anomaly also decorates (torch's does not); the mode holds only inside.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")

        @qilin.autograd.detect_anomaly()
        def inside():
            return qilin.is_anomaly_enabled()

    assert inside() is True
    assert qilin.is_anomaly_enabled() is False
