"""no_grad, enable_grad, set_grad_enabled, inference_mode: context managers, decorators,
nesting, exceptions and threads, compared with torch."""

import threading

import pytest

import qilin

from .oracle import parity, random, torch


def _state(lib):
    return lib.is_grad_enabled(), lib.is_inference_mode_enabled()


def test_context_managers_and_nesting():
    def run(lib):
        x = random(lib, (2,))
        log = [_state(lib)]
        with lib.no_grad():
            log.append((_state(lib), (x * 2).requires_grad))
            with lib.enable_grad():
                log.append((_state(lib), (x * 2).requires_grad))
                with lib.set_grad_enabled(False):
                    log.append((_state(lib), (x * 2).requires_grad))
                log.append(_state(lib))
            with lib.inference_mode():
                log.append((_state(lib), (x * 2).requires_grad))
                with lib.inference_mode(False):
                    log.append(_state(lib))
                with lib.enable_grad():
                    log.append(_state(lib))
            log.append(_state(lib))
        log.append((_state(lib), (x * 2).requires_grad))
        with lib.inference_mode(mode=False):
            log.append(_state(lib))
        return log

    parity(run)


def test_same_instance_entered_twice():
    def run(lib):
        switch = lib.no_grad()
        log = []
        with switch:
            with lib.enable_grad():
                with switch:
                    log.append(_state(lib))
                log.append(_state(lib))
            log.append(_state(lib))
        log.append(_state(lib))
        return log

    parity(run)


def test_state_restored_after_exception():
    def run(lib):
        log = []
        for manager in (lib.no_grad(), lib.inference_mode(), lib.set_grad_enabled(False)):
            try:
                with manager:
                    raise KeyError("boom")
            except KeyError:
                pass
            log.append(_state(lib))
        return log

    parity(run)


def test_decorators_with_and_without_parentheses():
    def run(lib):
        x = random(lib, (2,))

        @lib.no_grad()
        def called():
            return (x * 2).requires_grad, _state(lib)

        @lib.no_grad
        def bare():
            return (x * 2).requires_grad, _state(lib)

        @lib.enable_grad()
        def enabled():
            return (x * 2).requires_grad

        @lib.inference_mode()
        def inference():
            return _state(lib)

        @lib.inference_mode
        def inference_bare():
            return _state(lib)

        @lib.set_grad_enabled(False)
        def disabled():
            return _state(lib)

        log = [called(), bare(), inference(), inference_bare(), disabled(), _state(lib)]
        with lib.no_grad():
            log.append(enabled())
        return log, called.__name__, bare.__name__

    parity(run)


def test_decorated_method_and_generator():
    def run(lib):
        x = random(lib, (2,))

        class Model:
            @lib.no_grad()
            def predict(self, value):
                return (value * 2).requires_grad

        @lib.no_grad()
        def generate():
            for _ in range(2):
                yield _state(lib)

        log = [Model().predict(x)]
        for state in generate():
            log.append((state, _state(lib)))  # the caller's state between yields
        return log

    parity(run)


def test_set_grad_enabled_as_a_plain_call():
    def run(lib):
        log = [_state(lib)]
        lib.set_grad_enabled(False)
        log.append(_state(lib))
        lib.set_grad_enabled(True)
        log.append(_state(lib))
        train = False
        with lib.set_grad_enabled(train):
            log.append(_state(lib))
        log.append(_state(lib))
        return log

    parity(run)


def test_autograd_namespace_aliases():
    def run(lib):
        with lib.autograd.no_grad():
            inner = lib.autograd.grad_mode.no_grad is lib.no_grad, lib.is_grad_enabled()
        with lib.autograd.set_grad_enabled(False):
            state = lib.is_grad_enabled()
        with lib.autograd.inference_mode():
            inference = lib.is_inference_mode_enabled()
        return inner, state, inference

    parity(run)


@pytest.mark.parametrize("lib", [torch, qilin], ids=["torch", "qilin"])
def test_grad_mode_is_per_thread(lib):
    seen = {}
    barrier = threading.Barrier(2)

    def worker():
        seen["start"] = lib.is_grad_enabled()
        barrier.wait()
        with lib.no_grad():
            barrier.wait()
            seen["inside"] = lib.is_grad_enabled()
            barrier.wait()

    thread = threading.Thread(target=worker)
    thread.start()
    with lib.no_grad():
        barrier.wait()  # the worker starts while we are in no_grad
        barrier.wait()  # the worker is in no_grad: our state is ours
        assert not lib.is_grad_enabled()
        barrier.wait()
    thread.join()
    assert lib.is_grad_enabled()
    assert seen == {"start": True, "inside": False}


def test_results_have_no_graph_under_no_grad_even_from_graph_inputs():
    def run(lib):
        x = random(lib, (2,))
        y = x * 2
        with lib.no_grad():
            z = y * 3
            w = x.detach() * 2
        return (z.requires_grad, z.grad_fn is None, z.is_leaf, w.requires_grad, y.requires_grad)

    parity(run)


def test_backward_inside_no_grad_still_computes_grads():
    def run(lib):
        x = random(lib, (2,))
        y = (x**2).sum()
        with lib.no_grad():
            y.backward()
        return x.grad

    parity(run)


def test_requires_grad_factory_argument_under_no_grad():
    def run(lib):
        with lib.no_grad():
            t = lib.ones(2, requires_grad=True)
        return t.requires_grad, t.is_leaf, (t * 2).requires_grad

    parity(run)
