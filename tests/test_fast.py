"""The fast engine's hand-written passes against autograd through ``MLP.forward``:
equation (1) full batch and linear (``passes``), one SGD step (``sgd``), batch norm
(``batchnorm``), for one model and for a stack."""

import copy

import pytest
import torch
import torch.nn.functional as F

from wtmlib.training.fast.batchnorm import bn_eval_logits, bn_mlp_logits
from wtmlib.training.fast.passes import mlp_logits
from wtmlib.training.fast.sgd import sgd_step_
from wtmlib.model import MLP


def _x(n=9, d=7, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("activation", ["relu", "linear"])
@pytest.mark.parametrize("h", [30, 10])  # more neurons than inputs (scales x), fewer (the mask)
def test_mlp_logits_gives_the_autograd_logits_and_gradients(activation, h):
    """The hand-written gradient of eq. (1) (``mlp_logits``) against autograd through
    ``MLP.forward``, in float64: one model, and a stack of three."""
    torch.manual_seed(0)
    models = [MLP(20, h, activation).double() for _ in range(3)]
    x = torch.randn(3, 50, 20, dtype=torch.float64)
    y = (torch.rand(3, 50) > 0.5).double()
    for m, xm, ym in zip(models, x, y):
        F.binary_cross_entropy_with_logits(m(xm), ym).backward()
    want = [[p.grad.clone() for p in m.parameters()] for m in models]
    want_logits = torch.stack([m(xm) for m, xm in zip(models, x)]).detach()

    single = models[0]
    single.zero_grad()
    logits = mlp_logits(x[0], single.hidden.weight, single.w2, single.out.bias[0],
                        activation == "relu", torch.empty(50, h, dtype=torch.float64))
    torch.testing.assert_close(logits.detach(), want_logits[0])
    F.binary_cross_entropy_with_logits(logits, y[0]).backward()
    for p, g in zip(single.parameters(), want[0]):
        torch.testing.assert_close(p.grad, g)

    w1, w2, b2 = (torch.stack([get(m) for m in models]).detach().requires_grad_()
                  for get in (lambda m: m.hidden.weight, lambda m: m.w2, lambda m: m.out.bias[0]))
    logits = mlp_logits(x, w1, w2, b2, activation == "relu",
                        torch.empty(3, 50, h, dtype=torch.float64))
    torch.testing.assert_close(logits.detach(), want_logits)
    sum(F.binary_cross_entropy_with_logits(lg, yk) for lg, yk in zip(logits, y)).backward()
    for k in range(3):
        torch.testing.assert_close(w1.grad[k], want[k][0])
        torch.testing.assert_close(w2.grad[k], want[k][1][0])
        torch.testing.assert_close(b2.grad[k], want[k][2][0])


@pytest.mark.parametrize("activation", ["relu", "linear"])
def test_sgd_step_is_autograd_and_torch_sgd(activation):
    """The written-out SGD step (``sgd_step_``) against autograd through ``MLP.forward``
    and ``torch.optim.SGD``, in float64: one model, and a stack of three; ``on_grad``
    sees dL/dlogit before the weights move."""
    torch.manual_seed(0)
    lr = 0.7
    models = [MLP(20, 30, activation).double() for _ in range(3)]
    start = [copy.deepcopy(m.state_dict()) for m in models]
    x = torch.randn(3, 50, 20, dtype=torch.float64)
    y = (torch.rand(3, 50) > 0.5).double()
    want_g = []
    for m, xm, ym in zip(models, x, y):
        logits = m(xm)
        logits.register_hook(lambda g: want_g.append(g.clone()))
        F.binary_cross_entropy_with_logits(logits, ym).backward()
        torch.optim.SGD(m.parameters(), lr=lr).step()
    want = [m.state_dict() for m in models]

    single = MLP(20, 30, activation).double()
    single.load_state_dict(start[0])
    seen = []
    w1, w2, b2 = (single.hidden.weight.detach(), single.w2.detach(), single.out.bias.detach())
    sgd_step_(x[0].clone(), y[0], w1, w2, b2, lr, activation == "relu",
              torch.empty(30, 50, dtype=torch.float64), seen.append)
    torch.testing.assert_close(seen[0], want_g[0])
    for k, v in single.state_dict().items():
        torch.testing.assert_close(v, want[0][k])

    w1, w2, b2 = (torch.stack([s[k] for s in start]) for k in ("hidden.weight", "out.weight",
                                                                "out.bias"))
    w2, b2 = w2[:, 0].contiguous(), b2[:, 0].contiguous()
    seen = []
    sgd_step_(x.clone(), y, w1, w2, b2, lr, activation == "relu",
              torch.empty(3, 30, 50, dtype=torch.float64), seen.append)
    torch.testing.assert_close(seen[0], torch.stack(want_g))
    for k in range(3):
        torch.testing.assert_close(w1[k], want[k]["hidden.weight"])
        torch.testing.assert_close(w2[k], want[k]["out.weight"][0])
        torch.testing.assert_close(b2[k], want[k]["out.bias"][0])


def test_mlp_logits_refuses_a_buffer_overwritten_before_backward():
    m = MLP(5, 4)
    buf = torch.empty(8, 4)
    x = torch.randn(8, 5)
    first = mlp_logits(x, m.hidden.weight, m.w2, m.out.bias[0], True, buf)
    mlp_logits(x, m.hidden.weight, m.w2, m.out.bias[0], True, buf)  # reuses buf
    with pytest.raises(RuntimeError, match="overwritten"):
        first.sum().backward()


def _bn_model(activation, n_in=20, h=30, seed=0):
    """A batch-norm MLP in float64 with scale, shift and running statistics away from
    their initial values (so a formula that assumed gamma = 1, beta = 0 would fail)."""
    torch.manual_seed(seed)
    m = MLP(n_in, h, activation, batchnorm=True).double()
    with torch.no_grad():
        m.norm.weight.uniform_(0.5, 1.5)
        m.norm.bias.uniform_(-0.5, 0.5)
        m.norm.running_mean.uniform_(-1, 1)
        m.norm.running_var.uniform_(0.5, 2)
    return m


@pytest.mark.parametrize("activation", ["relu", "linear"])
def test_bn_mlp_logits_gives_the_autograd_logits_gradients_and_statistics(activation):
    """Batch norm written out (``bn_mlp_logits``, training mode) against autograd through
    ``MLP.forward`` in float64: logits, the gradient of every parameter (W1, gamma,
    beta, W2, b2), the running statistics and the batch counter. And
    ``bn_eval_logits`` against ``MLP.forward`` in evaluation mode."""
    want = _bn_model(activation)
    got = copy.deepcopy(want)
    x = torch.rand(50, 20, dtype=torch.float64) + 0.5 * torch.randn(50, 20, dtype=torch.float64)
    y = (torch.rand(50) > 0.5).double()
    logits = want(x)
    F.binary_cross_entropy_with_logits(logits, y).backward()

    bufs = [torch.empty(50, 30, dtype=torch.float64) for _ in range(3)]
    mine = bn_mlp_logits(x, got.hidden.weight, got.norm, got.out.weight, got.out.bias,
                         activation == "relu", bufs)
    torch.testing.assert_close(mine.detach(), logits.detach())
    F.binary_cross_entropy_with_logits(mine, y).backward()
    for (name, p), q in zip(want.named_parameters(), got.parameters()):
        assert q.grad is not None, name
        torch.testing.assert_close(q.grad, p.grad, msg=name)
    for name, t in want.state_dict().items():
        torch.testing.assert_close(got.state_dict()[name], t, msg=name)
    assert got.norm.num_batches_tracked.item() == 1

    want.eval()
    torch.testing.assert_close(
        bn_eval_logits(x, got.hidden.weight, got.norm, got.out.weight, got.out.bias,
                       activation == "relu", torch.empty(50, 30, dtype=torch.float64)),
        want(x).detach())


def test_bn_mlp_logits_refuses_a_buffer_overwritten_before_backward():
    m = MLP(5, 4, batchnorm=True)
    bufs = [torch.empty(8, 4) for _ in range(3)]
    x = torch.randn(8, 5)
    first = bn_mlp_logits(x, m.hidden.weight, m.norm, m.out.weight, m.out.bias, True, bufs)
    bn_mlp_logits(x, m.hidden.weight, m.norm, m.out.weight, m.out.bias, True, bufs)
    with pytest.raises(RuntimeError, match="overwritten"):
        first.sum().backward()
