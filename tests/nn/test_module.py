"""nn.Module, Parameter, Buffer and the containers, side by side with torch.

Every model here is built twice from the same NumPy arrays — once with qilin, once with torch —
by the same factory (`_classes(lib)`), and the two are compared: names and order of what they
hold, state_dict keys and values, repr text, error messages, hook order, conversions.
"""

import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import qilin
import qilin.nn as qnn

torch = pytest.importorskip("torch")


def _nn(lib):
    return qnn if lib is qilin else torch.nn


def _text(value) -> str:
    """Text with torch's names replaced by qilin's, so the two can be compared."""
    return str(value).replace("torch", "qilin")


def _same_error(make_qilin, make_torch, kind=None):
    """Both raise the same exception type with the same message (torch -> qilin)."""
    with pytest.raises(Exception) as theirs:
        make_torch()
    with pytest.raises(Exception) as ours:
        make_qilin()
    assert type(ours.value) is type(theirs.value)
    if kind is not None:
        assert isinstance(ours.value, kind)
    assert _text(ours.value) == _text(theirs.value)


_RNG = np.random.default_rng(7)
_ARRAYS = {
    name: _RNG.standard_normal(shape).astype(np.float32)
    for name, shape in {
        "w1": (4, 3),
        "b1": (4,),
        "w2": (2, 4),
        "w3": (2, 2),
        "b3": (2,),
        "w4": (2, 2),
        "scale": (2,),
        "alpha": (3,),
        "beta": (1, 2),
    }.items()
}


def _classes(lib):
    """A Linear-like layer and a model nesting every container, written for `lib`."""
    nn = _nn(lib)

    class Affine(nn.Module):
        def __init__(self, weight, bias=None):
            super().__init__()
            self.weight = nn.Parameter(lib.tensor(weight))
            if bias is None:
                self.register_parameter("bias", None)
            else:
                self.bias = nn.Parameter(lib.tensor(bias))
            self.register_buffer("calls", lib.zeros((), dtype=lib.int64))
            self.register_buffer("scratch", lib.zeros(2), persistent=False)

        def forward(self, x):
            out = x @ self.weight.T
            return out if self.bias is None else out + self.bias

        def extra_repr(self):
            out_features, in_features = self.weight.shape
            return f"in={in_features}, out={out_features}, bias={self.bias is not None}"

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            a = _ARRAYS
            self.encoder = nn.Sequential(
                Affine(a["w1"], a["b1"]),
                nn.Sequential(OrderedDict(inner=Affine(a["w2"]))),
            )
            self.heads = nn.ModuleList([Affine(a["w3"], a["b3"]), Affine(a["w4"])])
            self.table = nn.ModuleDict({"second": Affine(a["w4"]), "first": Affine(a["w3"])})
            self.scales = nn.ParameterList([lib.tensor(a["scale"])])
            self.extra = nn.ParameterDict({"beta": lib.tensor(a["beta"])})
            self.extra["alpha"] = nn.Parameter(lib.tensor(a["alpha"]))
            self.shared = self.heads[0]  # the same module under two names
            self.tied = self.heads[1].weight  # the same Parameter under two names
            self.register_buffer("step", lib.tensor(3))

        def forward(self, x):
            h = self.encoder(x)
            return self.heads[0](h) * self.scales[0] + self.heads[1](h)

    return Affine, Net


_PicklableAffine, _PicklableNet = _classes(qilin)
_PicklableAffine.__qualname__, _PicklableNet.__qualname__ = "_PicklableAffine", "_PicklableNet"


def _pair():
    """The same Net built with qilin and with torch."""
    return _classes(qilin)[1](), _classes(torch)[1]()


def _names(pairs):
    return [name for name, _ in pairs]


# ----- structure and naming -------------------------------------------------------------------
@pytest.mark.parametrize("recurse", [True, False])
@pytest.mark.parametrize("remove_duplicate", [True, False])
def test_named_members_match_torch(recurse, remove_duplicate):
    ours, theirs = _pair()
    for method in ("named_parameters", "named_buffers"):
        got = getattr(ours, method)(prefix="m", recurse=recurse, remove_duplicate=remove_duplicate)
        want = getattr(theirs, method)(
            prefix="m", recurse=recurse, remove_duplicate=remove_duplicate
        )
        got, want = list(got), list(want)
        assert _names(got) == _names(want), method
        for (_, mine), (_, other) in zip(got, want):
            np.testing.assert_array_equal(mine.detach().numpy(), other.detach().numpy())
    assert _names(ours.named_modules(prefix="root", remove_duplicate=remove_duplicate)) == _names(
        theirs.named_modules(prefix="root", remove_duplicate=remove_duplicate)
    )


def test_iterators_match_torch():
    ours, theirs = _pair()
    assert _names(ours.named_children()) == _names(theirs.named_children())
    assert len(list(ours.children())) == len(list(theirs.children()))
    assert [type(m).__name__ for m in ours.modules()] == [
        type(m).__name__ for m in theirs.modules()
    ]
    assert len(list(ours.parameters())) == len(list(theirs.parameters()))
    assert len(list(ours.buffers())) == len(list(theirs.buffers()))
    assert all(isinstance(p, qnn.Parameter) for p in ours.parameters())
    assert ours.shared is ours.heads[0] and ours.tied is ours.heads[1].weight


def test_state_dict_matches_torch():
    ours, theirs = _pair()
    got, want = ours.state_dict(), theirs.state_dict()
    assert isinstance(got, OrderedDict)
    assert list(got) == list(want)  # non-persistent buffers are left out, shared ones repeated
    assert "encoder.0.scratch" not in got
    for key in want:
        np.testing.assert_array_equal(got[key].numpy(), want[key].numpy())
        assert type(got[key]) is qilin.Tensor and not got[key].requires_grad
    kept = ours.state_dict(keep_vars=True)
    assert kept["encoder.0.weight"] is ours.encoder[0].weight
    assert list(ours.state_dict(prefix="model.")) == list(theirs.state_dict(prefix="model."))
    assert dict(got._metadata) == dict(want._metadata)


def test_repr_matches_torch():
    ours, theirs = _pair()
    assert repr(ours) == _text(repr(theirs))
    affine_q, affine_t = _classes(qilin)[0], _classes(torch)[0]
    assert repr(affine_q(_ARRAYS["w3"])) == repr(affine_t(_ARRAYS["w3"]))
    assert repr(qnn.Module()) == repr(torch.nn.Module())


def test_module_list_repr_groups_repeats_like_torch():
    def build(lib):
        affine = _classes(lib)[0]
        nn = _nn(lib)
        w = _ARRAYS["w3"]
        inner = nn.ModuleList([affine(w), affine(w), affine(_ARRAYS["w1"]), affine(w)])
        return nn.ModuleList([inner, affine(w), affine(w)]), nn.ModuleList()

    for mine, other in zip(build(qilin), build(torch)):
        assert repr(mine) == _text(repr(other))


def test_parameter_matches_torch():
    data = _ARRAYS["w3"]
    source = qilin.tensor(data)
    param = qnn.Parameter(source)
    reference = torch.nn.Parameter(torch.tensor(data))
    assert repr(param) == repr(reference).replace("torch", "qilin")
    assert str(param) == str(reference).replace("torch", "qilin")
    assert isinstance(param, qilin.Tensor) and param.requires_grad and param.is_leaf
    with qilin.no_grad():
        source.add_(1.0)  # the Parameter shares the tensor's storage
    np.testing.assert_array_equal(param.detach().numpy(), data + 1)
    assert type(param * 2) is qilin.Tensor  # math makes plain tensors
    with qilin.no_grad():
        assert qnn.Parameter(qilin.zeros(2)).requires_grad  # grad mode does not matter
    assert not qnn.Parameter(qilin.zeros(2), requires_grad=False).requires_grad
    assert qnn.Parameter().shape == torch.nn.Parameter().shape
    for lib, nn in ((qilin, qnn), (torch, torch.nn)):
        with pytest.raises(RuntimeError, match="floating point"):
            nn.Parameter(lib.tensor([1, 2]))


def test_parameter_deepcopy_and_pickle_stay_parameters():
    param = qnn.Parameter(qilin.tensor(_ARRAYS["w3"]))
    param.grad = qilin.ones(2, 2)
    for clone in (copy.deepcopy(param), pickle.loads(pickle.dumps(param))):
        assert type(clone) is qnn.Parameter and clone.requires_grad
        np.testing.assert_array_equal(clone.detach().numpy(), _ARRAYS["w3"])
        assert clone.untyped_storage_id() != param.untyped_storage_id()
    assert copy.deepcopy(param).grad is None  # as torch: a Parameter's copy has no grad
    frozen = pickle.loads(pickle.dumps(qnn.Parameter(qilin.zeros(2), requires_grad=False)))
    assert type(frozen) is qnn.Parameter and not frozen.requires_grad


def test_buffer_marker_matches_torch():
    for lib in (qilin, torch):
        nn = _nn(lib)
        module = nn.Module()
        module.kept = nn.Buffer(lib.ones(2))
        module.dropped = nn.Buffer(lib.zeros(1), persistent=False)
        module.kept = lib.full((2,), 5.0)  # a plain tensor assigned to a buffer name replaces it
        assert _names(module.named_buffers()) == ["kept", "dropped"]
        assert list(module.state_dict()) == ["kept"]
        assert module.kept.tolist() == [5.0, 5.0]
        assert isinstance(nn.Buffer(lib.ones(1)), nn.Buffer)
        assert not isinstance(lib.ones(1), nn.Buffer)


# ----- registration rules ---------------------------------------------------------------------
def _registration_cases(lib):
    nn = _nn(lib)
    affine = _classes(lib)[0]

    def fresh():
        return affine(_ARRAYS["w3"], _ARRAYS["b3"])

    def set_attr(name, value):
        return lambda: setattr(fresh(), name, value)

    class Early(nn.Module):
        def __init__(self, what):
            self.x = what  # before super().__init__()

    return {
        "tensor as parameter": set_attr("weight", lib.zeros(2, 2)),
        "int as parameter": set_attr("bias", 3),
        "int as child": lambda: setattr(nn.Sequential(fresh()), "0", 3),
        "int as buffer": set_attr("calls", 3),
        "non-leaf parameter": lambda: fresh().register_parameter(
            "p", nn.Parameter(lib.ones(1)) * 2
        ),
        "dotted buffer": lambda: fresh().register_buffer("a.b", lib.ones(1)),
        "empty buffer name": lambda: fresh().register_buffer("", lib.ones(1)),
        "buffer over attribute": lambda: fresh().register_buffer("forward", lib.ones(1)),
        "int buffer name": lambda: fresh().register_buffer(3, lib.ones(1)),
        "list as buffer": lambda: fresh().register_buffer("b", [1.0]),
        "dotted parameter": lambda: fresh().register_parameter("a.b", None),
        "dotted module": lambda: fresh().add_module("a.b", fresh()),
        "module over attribute": lambda: fresh().add_module("training", fresh()),
        "int as module": lambda: fresh().add_module("m", 3),
        "parameter before init": lambda: Early(nn.Parameter(lib.ones(1))),
        "module before init": lambda: Early(nn.Module()),
        "missing attribute": lambda: fresh().nothing,
        "missing forward": lambda: nn.Module()(lib.ones(1)),
        "unexpected init keyword": lambda: nn.Module(bad=1),
        "unexpected init argument": lambda: nn.Module(1),
        "bad train mode": lambda: fresh().train("yes"),
        "to integer dtype": lambda: fresh().to(lib.int64),
    }


@pytest.mark.parametrize("case", sorted(_registration_cases(qilin)))
def test_registration_errors_match_torch(case):
    _same_error(_registration_cases(qilin)[case], _registration_cases(torch)[case])


def test_assignment_moves_members_like_torch():
    for lib in (qilin, torch):
        nn = _nn(lib)
        module = _classes(lib)[0](_ARRAYS["w3"], _ARRAYS["b3"])
        module.bias = None  # None keeps the slot: skipped by parameters(), kept by name
        assert "bias" in module._parameters and module.bias is None
        module.calls = None
        assert module.calls is None and "calls" in module._buffers
        module.plain = 5
        module.plain = nn.Parameter(lib.ones(1))  # an attribute becomes a parameter
        assert "plain" in module._parameters and "plain" not in module.__dict__
        del module.plain
        module.register_buffer("state", lib.ones(1))
        module.state = nn.Module()  # a buffer becomes a child module
        assert "state" not in module._buffers and "state" in module._modules
        del module.state
        del module.weight
        del module.scratch
        assert _names(module.named_parameters()) == [] and not hasattr(module, "plain")
        assert _names(module.named_buffers()) == []
        module.register_module("child", nn.Module())
        assert isinstance(module.get_submodule("child"), nn.Module)


def test_dir_lists_members():
    ours, theirs = _pair()
    got, want = dir(ours), dir(theirs)
    for name in ("encoder", "heads", "step", "tied", "shared", "forward", "state_dict"):
        assert name in got and name in want
    assert got == sorted(got)
    assert "0" not in dir(ours.encoder) and "0" not in dir(theirs.encoder)


def test_lookup_by_path_matches_torch():
    ours, theirs = _pair()
    assert ours.get_submodule("encoder.1.inner") is ours.encoder[1].inner
    assert ours.get_parameter("encoder.0.bias") is ours.encoder[0].bias
    assert ours.get_buffer("encoder.0.calls") is ours.encoder[0].calls
    assert ours.get_submodule("") is ours
    for path in ("encoder.9", "encoder.0.weight.x", "heads.0.missing"):
        _same_error(lambda p=path: ours.get_submodule(p), lambda p=path: theirs.get_submodule(p))
    for path in ("encoder.0.calls", "encoder.0.nope", "encoder.0.training"):
        _same_error(lambda p=path: ours.get_parameter(p), lambda p=path: theirs.get_parameter(p))
    for path in ("encoder.0.weight", "encoder.0.nope"):
        _same_error(lambda p=path: ours.get_buffer(p), lambda p=path: theirs.get_buffer(p))


# ----- load_state_dict ------------------------------------------------------------------------
def _to_qilin(state):
    return OrderedDict((key, qilin.tensor(value.detach().numpy())) for key, value in state.items())


def test_load_state_dict_from_torch_copies_in_place():
    ours, theirs = _pair()
    with torch.no_grad():
        for param in theirs.parameters():
            param.mul_(-3.0)
        theirs.step.fill_(11)
    weight = ours.encoder[0].weight
    version = weight._version
    result = ours.load_state_dict(_to_qilin(theirs.state_dict()))
    assert repr(result) == repr(theirs.load_state_dict(theirs.state_dict()))
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert ours.encoder[0].weight is weight and weight._version > version  # in place
    assert weight.requires_grad and weight.grad_fn is None
    for key, value in theirs.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[key].numpy(), value.numpy())


def _broken_state(lib, state):
    state = OrderedDict(state)
    del state["encoder.0.bias"]
    del state["extra.alpha"]
    state["encoder.0.weight"] = lib.zeros(3, 4)  # transposed shape
    state["heads.0.bias"] = lib.zeros(5)
    state["heads.7.weight"] = lib.zeros(1)
    state["surprise"] = lib.zeros(1)
    state["encoder.1.inner.extra"] = lib.zeros(1)
    return state


def test_load_state_dict_errors_match_torch():
    ours, theirs = _pair()
    mine = _broken_state(qilin, ours.state_dict())
    other = _broken_state(torch, theirs.state_dict())
    _same_error(lambda: ours.load_state_dict(mine), lambda: theirs.load_state_dict(other))
    # Not strict: size mismatches still raise, missing and unexpected keys are only reported.
    _same_error(
        lambda: ours.load_state_dict(mine, strict=False),
        lambda: theirs.load_state_dict(other, strict=False),
    )
    for state in (mine, other):
        state.pop("encoder.0.weight")
        state.pop("heads.0.bias")
    got = ours.load_state_dict(mine, strict=False)
    want = theirs.load_state_dict(other, strict=False)
    assert got.missing_keys == want.missing_keys and got.unexpected_keys == want.unexpected_keys
    assert repr(got) == repr(want)
    _same_error(lambda: ours.load_state_dict([1]), lambda: theirs.load_state_dict([1]), TypeError)
    _same_error(
        lambda: ours.load_state_dict({**ours.state_dict(), "step": 3}),
        lambda: theirs.load_state_dict({**theirs.state_dict(), "step": 3}),
    )


def test_load_state_dict_message_names_the_layer():
    affine = _classes(qilin)[0](_ARRAYS["w1"])
    with pytest.raises(RuntimeError) as error:
        affine.load_state_dict({"weight": qilin.zeros(3, 4), "calls": qilin.tensor(0)})
    assert str(error.value) == (
        "Error(s) in loading state_dict for Affine:\n\tsize mismatch for weight: copying a param "
        "with shape qilin.Size([3, 4]) from checkpoint, the shape in current model is "
        "qilin.Size([4, 3])."
    )


def test_load_state_dict_assign_replaces_tensors():
    for lib in (qilin, torch):
        nn = _nn(lib)
        module = _classes(lib)[0](_ARRAYS["w3"], _ARRAYS["b3"])
        new_weight = lib.ones(2, 2)
        module.load_state_dict(
            {"weight": new_weight, "bias": lib.zeros(2), "calls": lib.tensor(4)}, assign=True
        )
        assert type(module.weight) is nn.Parameter and module.weight.requires_grad
        assert module.weight.data_ptr() == new_weight.data_ptr()
        assert module.calls.item() == 4


def test_state_dict_and_load_hooks():
    calls = []
    module = _classes(qilin)[0](_ARRAYS["w3"])
    module.register_state_dict_pre_hook(lambda m, prefix, keep: calls.append(("pre", prefix)))
    module.register_state_dict_post_hook(lambda m, state, prefix, meta: calls.append("post"))
    module.register_load_state_dict_pre_hook(lambda m, state, prefix, *rest: calls.append("lpre"))
    module.register_load_state_dict_post_hook(lambda m, keys: calls.append(("lpost", keys)))
    module.load_state_dict(module.state_dict(prefix=""))
    assert calls[:3] == [("pre", ""), "post", "lpre"]
    assert calls[3][0] == "lpost" and calls[3][1].missing_keys == []


# ----- modes, gradients, conversion -----------------------------------------------------------
def test_train_eval_propagate_like_torch():
    ours, theirs = _pair()
    assert ours.eval() is ours
    theirs.eval()
    assert [m.training for m in ours.modules()] == [m.training for m in theirs.modules()]
    assert not any(m.training for m in ours.modules())
    ours.heads.train()
    theirs.heads.train()
    assert [m.training for m in ours.modules()] == [m.training for m in theirs.modules()]
    assert ours.train() is ours and all(m.training for m in ours.modules())


def test_forward_backward_zero_grad_and_requires_grad_like_torch():
    ours, theirs = _pair()
    x = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    ours(qilin.tensor(x)).sum().backward()
    theirs(torch.tensor(x)).sum().backward()
    for (name, mine), (_, other) in zip(ours.named_parameters(), theirs.named_parameters()):
        if other.grad is None:
            assert mine.grad is None, name
        else:
            np.testing.assert_allclose(mine.grad.numpy(), other.grad.numpy(), rtol=1e-5)
    ours.zero_grad(set_to_none=False)
    grads = [p.grad for p in ours.parameters() if p.grad is not None]
    assert grads and all(not g.any().item() for g in grads)
    ours.zero_grad()
    assert all(p.grad is None for p in ours.parameters())
    assert ours.requires_grad_(False) is ours
    assert not any(p.requires_grad for p in ours.parameters())


def test_to_float64_keeps_parameter_identity_like_torch():
    ours, theirs = _pair()
    ours(qilin.ones(2, 3)).sum().backward()
    params = list(ours.parameters())
    assert ours.to(qilin.float64) is ours
    theirs.to(torch.float64)
    assert [p is q for p, q in zip(params, ours.parameters())] == [True] * len(params)
    for (name, mine), (_, other) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        assert _text(mine.dtype) == _text(other.dtype), name
    assert ours.step.dtype is qilin.int64  # integer buffers keep their dtype
    assert all(p.grad.dtype is qilin.float64 for p in params if p.grad is not None)
    assert ours(qilin.ones(2, 3, dtype=qilin.float64)).dtype is qilin.float64
    assert ours.float().heads[0].weight.dtype is qilin.float32
    assert ours.half().heads[0].weight.dtype is qilin.float16
    assert ours.double().heads[0].weight.dtype is qilin.float64
    assert ours.to("cpu", dtype=qilin.float32).heads[0].bias.dtype is qilin.float32
    assert ours.cpu() is ours and ours.to(qilin.zeros(1, dtype=qilin.float64)) is ours
    assert ours.heads[0].weight.dtype is qilin.float64


def test_apply_visits_children_first_like_torch():
    ours, theirs = _pair()
    got, want = [], []
    ours.apply(lambda m: got.append(type(m).__name__))
    theirs.apply(lambda m: want.append(type(m).__name__))
    assert got == want


def test_deepcopy_and_pickle_of_a_module():
    ours = _PicklableNet()
    x = qilin.tensor(np.random.default_rng(2).standard_normal((4, 3)).astype(np.float32))
    expected = ours(x).detach().numpy()
    for clone in (copy.deepcopy(ours), pickle.loads(pickle.dumps(ours))):
        np.testing.assert_array_equal(clone(x).detach().numpy(), expected)
        assert list(clone.state_dict()) == list(ours.state_dict())
        assert all(type(p) is qnn.Parameter for p in clone.parameters())
        assert clone.shared is clone.heads[0] and clone.tied is clone.heads[1].weight
        assert clone.encoder[0].weight is not ours.encoder[0].weight
        with qilin.no_grad():
            clone.encoder[0].weight.zero_()
        np.testing.assert_array_equal(ours(x).detach().numpy(), expected)  # independent


# ----- hooks ----------------------------------------------------------------------------------
def _hooked(lib, log):
    """A layer with pre- and post-hooks of every kind, logging order and changing values."""
    module = _classes(lib)[0](_ARRAYS["w3"], _ARRAYS["b3"])

    def pre(tag, result=None):
        return lambda m, args: log.append(tag) or result

    module.register_forward_pre_hook(pre("pre1"))
    module.register_forward_pre_hook(lambda m, args: log.append("pre2") or (args[0] * 2,))
    module.register_forward_pre_hook(pre("pre0"), prepend=True)
    module.register_forward_pre_hook(
        lambda m, args, kwargs: log.append(("kw", sorted(kwargs))) or (args, kwargs),
        with_kwargs=True,
    )
    module.register_forward_hook(lambda m, args, out: log.append("post1") or out + 1)
    module.register_forward_hook(
        lambda m, args, kwargs, out: log.append("kw-post"), with_kwargs=True
    )
    removed = module.register_forward_hook(lambda m, args, out: log.append("removed"))
    removed.remove()
    module.register_forward_hook(lambda m, args, out: log.append("post0"), prepend=True)
    return module


def test_forward_hooks_order_and_effects_match_torch():
    x = _ARRAYS["w4"]
    logs, outputs = [], []
    for lib in (qilin, torch):
        log = []
        outputs.append(_hooked(lib, log)(lib.tensor(x)).detach().numpy())
        logs.append(log)
    assert logs[0] == logs[1]
    np.testing.assert_allclose(outputs[0], outputs[1], rtol=1e-6)
    plain = _classes(qilin)[0](_ARRAYS["w3"], _ARRAYS["b3"])
    np.testing.assert_allclose(outputs[0], plain(qilin.tensor(x * 2)).detach().numpy() + 1)


def _always_call_log(lib):
    nn = _nn(lib)
    log = []
    module = nn.Module()  # no forward: calling it raises
    with module.register_forward_pre_hook(lambda m, args: log.append("pre")):
        module.register_forward_hook(
            lambda m, args, out: log.append(("always", out)), always_call=True
        )
        module.register_forward_hook(lambda m, args, out: log.append("never"))
        with pytest.raises(NotImplementedError):
            module(lib.ones(1))
    with pytest.raises(NotImplementedError):
        module(lib.ones(1))
    return log


def test_hook_handles_and_always_call():
    assert (
        _always_call_log(qilin)
        == _always_call_log(torch)
        == [
            "pre",
            ("always", None),
            ("always", None),
        ]
    )
    for lib in (qilin, torch):
        bad = _nn(lib).Module()
        bad.register_forward_pre_hook(lambda m, a, k: 3, with_kwargs=True)
        with pytest.raises(RuntimeError, match="forward pre-hook must return None or a tuple"):
            bad(lib.ones(1))


def _backward_hook_run(lib):
    module = _classes(lib)[0](_ARRAYS["w3"], _ARRAYS["b3"])
    seen = []

    def record(m, grad_input, grad_output):
        seen.append([None if g is None else g.numpy().copy() for g in (*grad_input, *grad_output)])
        return (grad_input[0] * 3,)

    module.register_full_backward_pre_hook(lambda m, grad_output: (grad_output[0] * 2,))
    module.register_full_backward_hook(record)
    x = lib.tensor(_ARRAYS["w4"], requires_grad=True)
    (module(x) ** 2).sum().backward()
    return seen, x.grad.numpy(), module.weight.grad.numpy()


def test_full_backward_hooks_match_torch():
    ours, theirs = _backward_hook_run(qilin), _backward_hook_run(torch)
    assert len(ours[0]) == len(theirs[0]) == 1
    for mine, other in zip(ours[0][0], theirs[0][0]):
        np.testing.assert_allclose(mine, other, rtol=1e-5)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-5)
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-5)


# ----- containers -----------------------------------------------------------------------------
def _sequential_ops(lib):
    nn = _nn(lib)
    affine = _classes(lib)[0]
    layers = [affine(_ARRAYS[n]) for n in ("w1", "w2", "w3", "w4")]
    seq = nn.Sequential(*layers[:2])
    results = [len(seq), seq[-1] is layers[1], type(seq[0:1]).__name__, len(seq[::-1])]
    seq.append(layers[2]).insert(0, layers[3]).extend([nn.Sequential()])
    results.append(_names(seq.named_children()))
    results.append(seq.pop(1) is layers[0])
    del seq[0:2]
    seq[0] = layers[0]
    results.append(_names(seq.named_modules()))
    results.append(len(seq + nn.Sequential(layers[1])))
    results.append(len(seq * 2))
    named = nn.Sequential(OrderedDict([("a", layers[0]), ("b", layers[1]), ("c", layers[2])]))
    del named[1]
    results.append(_names(named.named_children()))  # torch renumbers after a deletion
    results.append(list(named[-1:]._modules))
    results.append(_names(nn.Sequential(OrderedDict(x=layers[0]))[0:1].named_children()))
    return results


def test_sequential_matches_torch():
    assert _sequential_ops(qilin) == _sequential_ops(torch)
    x = qilin.tensor(_ARRAYS["w1"][:, :3])
    affine = _classes(qilin)[0]
    first, second = affine(_ARRAYS["w1"], _ARRAYS["b1"]), affine(_ARRAYS["w2"])
    np.testing.assert_array_equal(
        qnn.Sequential(first, second)(x).detach().numpy(), second(first(x)).detach().numpy()
    )
    for index in (5, -6):
        _same_error(
            lambda i=index: qnn.Sequential(qnn.Module())[i],
            lambda i=index: torch.nn.Sequential(torch.nn.Module())[i],
        )
    _same_error(lambda: qnn.Sequential() + 1, lambda: torch.nn.Sequential() + 1)


def _module_list_ops(lib):
    nn = _nn(lib)
    mods = [nn.Module() for _ in range(5)]
    items = nn.ModuleList(mods[:2])
    items.append(mods[2])
    items.extend([mods[3]])
    items.insert(1, mods[4])
    results = [len(items), [m is n for m, n in zip(items, [mods[0], mods[4], *mods[1:4]])]]
    results.append(type(items[1:3]).__name__)
    results.append(items[-1] is mods[3])
    items[0] = mods[1]
    del items[1]
    results.append(_names(items.named_children()))
    results.append(items.pop(0) is mods[1])
    results.append(len(items + nn.ModuleList([nn.Module()])))
    items += [nn.Module()]
    del items[::2]
    results.append(_names(items.named_children()))
    return results


def test_module_list_matches_torch():
    assert _module_list_ops(qilin) == _module_list_ops(torch)
    _same_error(lambda: qnn.ModuleList()[0], lambda: torch.nn.ModuleList()[0], IndexError)
    _same_error(lambda: qnn.ModuleList().extend(3), lambda: torch.nn.ModuleList().extend(3))
    _same_error(lambda: qnn.ModuleList([3]), lambda: torch.nn.ModuleList([3]))


def _module_dict_ops(lib):
    nn = _nn(lib)
    a, b, c = nn.Module(), nn.Module(), nn.Module()
    table = nn.ModuleDict([("z", a), ("y", b)])
    table["x"] = c
    table.update({"w": nn.Module()})
    results = [list(table), list(table.keys()), "y" in table, len(table), table["z"] is a]
    results.append(table.pop("y") is b)
    del table["z"]
    results.append([k for k, _ in table.items()])
    results.append(len(list(table.values())))
    table.clear()
    results.append(len(table))
    return results


def test_module_dict_matches_torch():
    assert _module_dict_ops(qilin) == _module_dict_ops(torch)
    _same_error(lambda: qnn.ModuleDict(3), lambda: torch.nn.ModuleDict(3))
    _same_error(lambda: qnn.ModuleDict([(1, 2, 3)]), lambda: torch.nn.ModuleDict([(1, 2, 3)]))


def _parameter_containers(lib):
    nn = _nn(lib)
    values = nn.ParameterList([lib.zeros(2), nn.Parameter(lib.ones(1, 3)), "text"])
    values.append(lib.ones(2, dtype=lib.float64))
    values.extend([lib.zeros(1)])
    table = nn.ParameterDict({"b": lib.zeros(2), "a": lib.ones(3)})  # a plain dict is sorted
    table.update(OrderedDict(d=lib.zeros(1), c=lib.zeros(1)))
    table["e"] = 4
    results = [
        repr(values),
        repr(table),
        len(values),
        _names(values.named_parameters()),
        type(values[0]).__name__,
        type(values[1:3]).__name__,
        list(table),
        _names(table.named_parameters()),
        type(table["b"]).__name__,
        table.get("missing", 7),
        table.pop("c").shape == (1,),
        table.popitem()[0],
        "a" in table,
        list((table | nn.ParameterDict({"f": lib.zeros(1)})).keys()),
        table.setdefault("g", lib.zeros(1)).shape == (1,),
    ]
    del table["a"]
    results.append(list(table.keys()))
    return results


def test_parameter_containers_match_torch():
    ours, theirs = _parameter_containers(qilin), _parameter_containers(torch)
    assert [_text(v) for v in ours] == [_text(v) for v in theirs]
    for lib, nn in ((qilin, qnn), (torch, torch.nn)):
        with pytest.raises(RuntimeError, match="should not be called"):
            nn.ParameterList()(lib.ones(1))
    _same_error(lambda: qnn.ParameterDict()[1], lambda: torch.nn.ParameterDict()[1], TypeError)
    _same_error(
        lambda: qnn.ParameterList().extend(qilin.ones(2)),
        lambda: torch.nn.ParameterList().extend(torch.ones(2)),
        TypeError,
    )


def test_containers_state_dict_round_trip():
    ours, theirs = _pair()
    ours.load_state_dict(_to_qilin(theirs.state_dict()))
    assert list(ours.scales.state_dict()) == ["0"]
    assert list(ours.extra.state_dict()) == ["beta", "alpha"]
    assert isinstance(ours.scales[0], qnn.Parameter)
