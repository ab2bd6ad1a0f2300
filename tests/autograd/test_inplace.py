"""In-place operations under autograd and version counters, compared with torch."""

import pytest

import qilin

from .oracle import parity, raises_both, random, torch, values

STALE = "one of the variables needed for gradient computation has been modified by an inplace"


def test_modifying_a_saved_output_in_place_raises_at_backward():
    def run(lib):
        a = random(lib, (3,))
        b = a.exp()  # exp saves its output
        b.add_(1)
        b.sum().backward()

    raises_both(run, RuntimeError, STALE)


def test_modifying_a_saved_input_in_place_raises_at_backward():
    def run(lib):
        a = random(lib, (3,))
        b = a * 2
        c = b * b  # mul saves b
        b.add_(1)
        c.sum().backward()

    raises_both(run, RuntimeError, STALE)


def test_modifying_a_saved_leaf_under_no_grad_raises_at_backward():
    def run(lib):
        w = random(lib, (3,))
        loss = (w * w).sum()
        with lib.no_grad():
            w.mul_(2)
        loss.backward()

    raises_both(run, RuntimeError, STALE)


def test_stale_error_names_version_numbers():
    for lib in (torch, qilin):
        a = random(lib, (3,))
        b = a.sigmoid()
        c = b * 2
        b.mul_(2)
        b.mul_(2)
        with pytest.raises(RuntimeError, match="is at version 2; expected version 0 instead"):
            (b + c).sum().backward()


def test_in_place_on_leaf_requiring_grad_raises():
    def run(lib):
        random(lib, (3,)).add_(1)

    raises_both(
        run,
        RuntimeError,
        "a leaf Variable that requires grad is being used in an in-place operation",
    )


@pytest.mark.parametrize("form", ["add_", "iadd", "setitem", "zero_", "fill_", "copy_"])
def test_every_in_place_form_on_a_leaf_raises(form):
    def run(lib):
        x = random(lib, (3,))
        if form == "add_":
            x.add_(1)
        elif form == "iadd":
            x += 1
        elif form == "setitem":
            x[0] = 1.0
        elif form == "zero_":
            x.zero_()
        elif form == "fill_":
            x.fill_(2.0)
        else:
            x.copy_(values(lib, [1.0, 2.0, 3.0]))

    raises_both(run, RuntimeError, "a leaf Variable that requires grad")


def test_sgd_update_under_no_grad_works():
    def run(lib):
        w = random(lib, (3,))
        x = random(lib, (3,), 1, requires_grad=False)
        history = []
        for _ in range(3):
            loss = ((w * x).sum() - 1) ** 2
            loss.backward()
            with lib.no_grad():
                w -= 0.1 * w.grad
                w.grad.zero_()
            history.append((w.clone(), w.is_leaf, w.requires_grad, w.grad_fn is None))
        return history, w._version

    parity(run)


def test_in_place_chain_on_non_leaf_gives_torch_grads():
    def run(lib):
        a, b = random(lib, (3,), 0), random(lib, (3,), 1)
        x = a * 2
        x.add_(1)
        x.mul_(b)
        x.sin_()
        x.sum().backward()
        return x, a.grad, b.grad, x._version, x.is_leaf

    parity(run)


def test_augmented_assignment_on_non_leaf():
    def run(lib):
        a, b = random(lib, (2, 3), 0), random(lib, (3,), 1)
        x = a.exp()
        x = x * 1
        x += b
        x *= a
        x /= 2
        x -= b * b
        x **= 2
        x.sum().backward()
        return x, a.grad, b.grad

    parity(run)


def test_in_place_with_operand_requiring_grad_into_plain_tensor():
    def run(lib):
        a = random(lib, (3,))
        x = lib.zeros(3, dtype=lib.float64)
        x.add_(a * 3)
        x.mul_(a)
        flags = (x.requires_grad, x.is_leaf)
        x.sum().backward()
        return flags, a.grad

    parity(run)


def test_setitem_on_non_leaf():
    def run(lib):
        a, b = random(lib, (3, 4), 0), random(lib, (4,), 1)
        x = a * 2
        x[0] = b * 3
        x[1, 1:3] = b[:2].exp()
        x[:, 3] = 0.5
        (x * x).sum().backward()
        return x, a.grad, b.grad

    parity(run)


def test_setitem_with_grad_into_plain_tensor():
    def run(lib):
        b = random(lib, (2,))
        x = lib.zeros(4, dtype=lib.float64)
        x[1:3] = b
        x[lib.tensor([0])] = b[1:] * 5
        (x * x).sum().backward()
        return x, b.grad

    parity(run)


def test_augmented_assignment_through_indexing():
    def run(lib):
        a = random(lib, (3, 4))
        x = a * 1
        x[:, 0] += 1
        x[1] *= 3
        x[lib.tensor([0, 2])] -= a[0]
        (x * x).sum().backward()
        return x, a.grad

    parity(run)


def test_in_place_on_a_view_of_a_non_leaf():
    def run(lib):
        a = random(lib, (3, 4))
        x = a * 2
        row = x[1]
        row.mul_(3)
        column = x[:, 2]
        column.add_(a[:, 0])
        x.transpose(0, 1)[0].exp_()
        (x * x).sum().backward()
        return x, a.grad, x._version, row._version

    parity(run)


def test_in_place_on_view_modifies_base_then_base_grad():
    def run(lib):
        a = random(lib, (4,))
        x = a.clone()
        view = x.view(2, 2)
        view[0, 1] = 7.0
        view.mul_(a.view(2, 2))
        x.sum().backward()
        return x, a.grad

    parity(run)


def test_in_place_on_view_of_leaf_raises():
    def run(lib):
        a = random(lib, (3,))
        a[1:].mul_(2)

    raises_both(run, RuntimeError, "leaf Variable that requires grad")


def test_version_counter_sequence():
    def run(lib):
        x = lib.zeros(3)
        versions = [x._version]
        x.add_(1)
        versions.append(x._version)
        x[0] = 5
        versions.append(x._version)
        view = x[1:]
        view.mul_(2)
        versions.append((x._version, view._version))
        y = x + 1
        versions.append(y._version)
        x.zero_()
        x.copy_(y)
        x += 1
        versions.append(x._version)
        x.data.add_(1)  # .data has its own counter
        versions.append(x._version)
        detached = x.detach()
        detached.add_(1)  # detach shares it
        versions.append((x._version, detached._version))
        x.fill_(2)
        x.clamp_(0, 1)
        versions.append(x._version)
        return versions

    parity(run)


def test_no_grad_update_bumps_version_of_parameter():
    def run(lib):
        w = random(lib, (2,))
        (w * 3).sum().backward()
        with lib.no_grad():
            w.sub_(0.5 * w.grad)
            w.add_(1)
        return w._version, w.grad._version if lib is torch else w.grad._version

    parity(run)


def test_in_place_on_output_of_op_that_does_not_save_it():
    def run(lib):
        a = random(lib, (3,))
        b = a + 1  # add saves nothing: modifying b is fine
        c = -b + 1  # neither do neg and add
        d = b[1:]  # index keeps only the shape of its input
        e = b[lib.tensor([0, 2])]
        b.mul_(4)
        (b.sum() + c.sum() + d.sum() + e.sum()).backward()
        return a.grad

    parity(run)


def test_in_place_on_input_of_mul_by_constant():
    def run(lib):
        a = random(lib, (3,))
        b = a + 1
        c = b * 2  # torch saves only the constant
        b.mul_(4)
        (b.sum() + c.sum()).backward()
        return a.grad

    parity(run)


def test_in_place_result_is_the_same_object():
    for lib in (torch, qilin):
        a = random(lib, (3,))
        x = a * 2
        assert x.add_(1) is x
        assert x.mul_(a) is x
        with lib.no_grad():
            assert a.sub_(1) is a


def test_older_view_sees_a_write_made_through_the_base():
    def run(lib):
        a, b = random(lib, (2, 3), 0), random(lib, (), 1)
        x = a * 1
        row = x[0]
        x[0, 1] = b * 2  # row was made before this write; its history must include it
        y = (row * 3).sum()
        y.backward()
        return y, a.grad, b.grad

    parity(run)


def test_older_view_sees_a_write_made_through_another_view():
    def run(lib):
        a = random(lib, (3, 3))
        x = a * 2
        column = x[:, 1]
        x[1].mul_(5)
        column.add_(1)
        (x * column.unsqueeze(0)).sum().backward()
        return x, a.grad

    parity(run)


def test_in_place_on_view_of_plain_tensor_with_grad_operand():
    def run(lib):
        a = random(lib, (2,))
        x = lib.zeros(4, dtype=lib.float64)
        x[1:3].add_(a * a)
        flags = (x.requires_grad, x.grad_fn is not None)
        (x * lib.arange(4, dtype=lib.float64)).sum().backward()
        return x, flags, a.grad

    parity(run)


def test_diagonal_add_and_nested_views():
    def run(lib):
        a = random(lib, (3, 3))
        m = a @ a.t()
        m.diagonal().add_(0.5)
        m.t()[0, 1:].mul_(2)
        m.unsqueeze(0)[0, 2].sub_(a[0])
        (m**2).sum().backward()
        return m, a.grad

    parity(run)


def test_in_place_on_unbind_output_acts_like_on_select():
    # torch refuses in-place writes into outputs of multi-view ops (unbind, split); qilin's
    # unbind is made of select views, so the write is allowed and acts like one through select.
    def run(lib):
        a = random(lib, (3, 3))
        m = a * 1
        second = m.unbind(1)[1] if lib is not torch else m.select(1, 1)
        second.add_(-m[:, 0])
        (m * m).sum().backward()
        return m, a.grad

    parity(run)


def test_in_place_on_output_of_multi_view_op_without_grad_works():
    def run(lib):
        m = random(lib, (3, 3), requires_grad=False)
        first, second, _ = m.unbind(1)
        second.mul_(first)
        return m

    parity(run)


def test_view_through_reshape_that_copies_is_not_linked():
    def run(lib):
        a = random(lib, (2, 3))
        x = a * 1
        flat = x.t().reshape(6)  # not viewable: reshape copies
        flat.mul_(3)
        (x.sum() + (flat * flat).sum()).backward()
        return x, flat, a.grad

    parity(run)


def test_in_place_on_view_of_leaf_under_no_grad():
    def run(lib):
        w = random(lib, (3, 2))
        with lib.no_grad():
            w[0].zero_()
            w[:, 1].mul_(2)
        (w * w).sum().backward()
        return w, w.grad, w.is_leaf

    parity(run)


def test_view_written_in_place_then_base_used_twice():
    def run(lib):
        a = random(lib, (4,))
        x = a.sin()
        y = x * x  # uses x before the write: saves the old x
        x[:2].mul_(3)
        with pytest.raises(RuntimeError, match="modified by an inplace"):
            y.sum().backward(retain_graph=True)
        x.sum().backward()
        return a.grad

    parity(run)


def test_writing_into_a_detached_view_leaves_history_alone():
    def run(lib):
        w = random(lib, (2, 3))
        h = w + 2  # add saves nothing, so the writes below make nothing stale
        h[0].detach().zero_()  # values change, the graph does not
        w[1].detach().mul_(0.5)
        (h + 3).sum().backward()
        return h, w, w.grad, w._version

    parity(run)


def test_retain_grad_follows_in_place_but_hooks_stay():
    def run(lib):
        x = lib.ones(3, dtype=lib.float64, requires_grad=True)
        y = x * 2
        y.retain_grad()
        seen = []
        y.register_hook(lambda g: seen.append(g.clone()))
        y.mul_(3)
        (y * y).sum().backward()
        return y.grad, x.grad, seen

    parity(run)


@pytest.mark.parametrize("form", ["copy_", "fill_", "zero_", "masked_fill_", "setitem"])
def test_overwriting_with_constants_cuts_the_history(form):
    def run(lib):
        a = random(lib, (2, 3))
        x = a * 2
        y = a + 1  # saves nothing (exp would save its output, which torch then refuses)
        for tensor in (x, y[1]):  # a whole tensor, and a view
            if form == "copy_":
                tensor.copy_(lib.ones(tuple(tensor.shape), dtype=lib.float64))
            elif form == "fill_":
                tensor.fill_(3.0)
            elif form == "zero_":
                tensor.zero_()
            elif form == "masked_fill_":
                tensor.masked_fill_(tensor.detach() > 0, 0.5)
            else:
                tensor[...] = 2.0
        (x * 3 + y * y).sum().backward()
        return x, y, a.grad

    parity(run)


@pytest.mark.parametrize("form", ["zero_", "fill_", "copy_", "setitem"])
def test_non_leaf_overwritten_by_constant_stays_in_the_graph(form):
    def run(lib):
        x = random(lib, (3,))
        y = x * 2
        if form == "zero_":
            y.zero_()
        elif form == "fill_":
            y.fill_(5.0)
        elif form == "copy_":
            y.copy_(lib.ones(3, dtype=lib.float64))
        else:
            y[...] = 5.0
        flags = (y.requires_grad, y.is_leaf)
        (y * 3).sum().backward()
        return flags, y, x.grad

    parity(run)
