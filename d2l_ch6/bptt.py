"""6.6 通过时间反向传播 — BPTT by hand, and why gradients vanish or explode.

Backpropagation through time computed by hand, checked against autograd,
then measured for a W_hh of spectral radius below, at and above 1.

The book's model is linear and has no bias. A batch of ``n`` sequences is
carried as the columns of each step's matrices, so every equation reads as
the book's column-vector ones (``d`` inputs, ``h`` hiddens, ``q`` outputs)::

    h_t = W_hx x_t + W_hh h_{t-1}      x_t (d, n), h_t (h, n), h_0 given
    o_t = W_qh h_t                     o_t (q, n)
    L   = (1/T) sum_t l(o_t, y_t)      y_t (n,) class indices

The loss ``l`` is the chapter's: softmax cross-entropy against the index of
the next character, averaged over the ``n`` columns, so that
``dL/do_t = (softmax(o_t) - onehot(y_t)) / (T n)`` (softmax down a column).
Backward through time, t = T, ..., 1::

    dL/dh_T  = W_qh^T dL/do_T
    dL/dh_t  = W_hh^T dL/dh_{t+1} + W_qh^T dL/do_t
    dL/dW_qh = sum_t dL/do_t h_t^T
    dL/dW_hx = sum_t dL/dh_t x_t^T
    dL/dW_hh = sum_t dL/dh_t h_{t-1}^T

Unrolled, ``dL/dh_t = sum_{i=t..T} (W_hh^T)^(i-t) W_qh^T dL/do_i``: what the
output at step i tells h_t passes through the (i-t)-th power of W_hh^T. With
``W_hh = rho Q`` (Q orthogonal, so the spectral radius is rho) that factor
has norm exactly rho^(i-t): it vanishes for rho < 1, stays for rho = 1 and
explodes for rho > 1. ``main`` measures it on a line of the lyrics, in two
columns per rho: the gradient of the last step's loss alone (the signal
from distance T-t, exactly rho^(T-t) times its value at T) and of the book's
L (a loss at every step). In the second, rho < 1 does NOT make dL/dh_t
small: each step adds its own fresh term, so the norm levels off — what
vanishes is the part coming from far away, which is why a plain RNN learns
short dependencies only. For a random (non-normal) W_hh the powers follow
rho^k only asymptotically.

Clipping (6.4's ``grad_clipping``, ``min(theta/||g||, 1) g``) bounds the
exploding case's step while keeping its direction (cosine 1); it does not
bring back the vanished long-range part. Other remedies (the section's
exercise): truncating BPTT (the detach of consecutive sampling), keeping
W_hh near orthogonal, and the gated cells of 6.7 and 6.8.

The concise counterpart is ``mxnet.autograd``: the same forward under
``autograd.record`` with Gluon's ``SoftmaxCrossEntropyLoss``, then
``backward``.
"""
import argparse

import numpy as np
from mxnet import autograd, nd
from mxnet.gluon import loss as gloss

from .core import cli, flags
from .core.errors import BadInput
from .core.book import grad_clipping
from .core.plots import new_figure, save_figure

NAMES = ('W_hx', 'W_hh', 'W_qh')


def init_params(num_inputs, num_hiddens, num_outputs, ctx, rho=None,
                dtype='float64'):
    """[W_hx (h, d), W_hh (h, h), W_qh (q, h)] drawn with numpy's RNG.

    W_hx ~ N(0, 1) (a one-hot x_t picks a column), W_qh ~ N(0, 1/h);
    W_hh ~ N(0, 1/h) (spectral radius near 1) or, given ``rho``,
    ``rho * Q`` with Q a random orthogonal matrix: spectral radius ``rho``
    and ``||(W_hh^T)^k v|| = rho^k ||v||`` exactly.
    """
    h = num_hiddens
    W_hx = np.random.normal(size=(h, num_inputs))
    if rho is None:
        W_hh = np.random.normal(scale=h ** -0.5, size=(h, h))
    else:
        Q, R = np.linalg.qr(np.random.normal(size=(h, h)))
        W_hh = rho * Q * np.sign(np.diag(R))  # sign fix: Q uniform (Haar)
    W_qh = np.random.normal(scale=h ** -0.5, size=(num_outputs, h))
    return [nd.array(W, ctx=ctx, dtype=dtype) for W in (W_hx, W_hh, W_qh)]


def forward(params, inputs, H0=None):
    """The linear RNN: (states [h_0, ..., h_T], outputs [o_1, ..., o_T]).

    ``inputs``: T arrays (d, n); ``H0``: (h, n), zeros if None.
    """
    W_hx, W_hh, W_qh = params
    X = inputs[0]
    H = H0 if H0 is not None else nd.zeros(
        (W_hh.shape[0], X.shape[1]), ctx=X.context, dtype=X.dtype)
    states, outputs = [H], []
    for X in inputs:
        H = nd.dot(W_hx, X) + nd.dot(W_hh, H)
        states.append(H)
        outputs.append(nd.dot(W_qh, H))
    return states, outputs


def output_grads(outputs, labels, weights=None):
    """(loss, [dL/do_1, ..., dL/do_T]) for ``L = sum_t w_t l(o_t, y_t)``.

    ``l`` is the softmax cross-entropy averaged over the batch columns;
    ``weights`` default to the book's ``w_t = 1/T``. ``labels``: T arrays
    (n,) of class indices.
    """
    T = len(outputs)
    weights = [1 / T] * T if weights is None else weights
    losses, dO = [], []
    for O, Y, w in zip(outputs, labels, weights):
        q, n = O.shape
        onehot = nd.one_hot(Y, q, dtype=O.dtype).T  # (q, n)
        log_p = nd.log_softmax(O, axis=0)
        losses.append(-(log_p * onehot).sum() * (w / n))
        dO.append((nd.softmax(O, axis=0) - onehot) * (w / n))
    return float(nd.add_n(*losses).asscalar()), dO  # one host sync


def bptt(params, inputs, states, dO):
    """Backpropagation through time, by hand from the recursion.

    ``states`` = [h_0, ..., h_T] of :func:`forward`, ``dO`` = [dL/do_t].
    Returns ([dL/dh_1, ..., dL/dh_T], [dL/dW_hx, dL/dW_hh, dL/dW_qh]).
    """
    W_hx, W_hh, W_qh = params
    T = len(inputs)
    dH = [None] * T  # dH[t - 1] is dL/dh_t
    for t in reversed(range(T)):
        dH[t] = nd.dot(W_qh, dO[t], transpose_a=True)  # (h, n)
        if t < T - 1:  # h_t also feeds h_{t+1}
            dH[t] = dH[t] + nd.dot(W_hh, dH[t + 1], transpose_a=True)
    # states[t] is h_t, so h_{t-1} of step t is states[t - 1]
    dW_hx = nd.add_n(*[nd.dot(dH[t], inputs[t], transpose_b=True)
                       for t in range(T)])
    dW_hh = nd.add_n(*[nd.dot(dH[t], states[t], transpose_b=True)
                       for t in range(T)])
    dW_qh = nd.add_n(*[nd.dot(dO[t], states[t + 1], transpose_b=True)
                       for t in range(T)])
    return dH, [dW_hx, dW_hh, dW_qh]


def hand_grads(params, inputs, labels, H0=None, weights=None):
    """(loss, [dL/dh_t], [weight gradients]) by hand: forward, dL/do_t,
    then :func:`bptt`."""
    states, outputs = forward(params, inputs, H0)
    loss, dO = output_grads(outputs, labels, weights)
    dH, dW = bptt(params, inputs, states, dO)
    return loss, dH, dW


def autograd_grads(params, inputs, labels, H0=None):
    """The concise counterpart: (loss, [dL/dh_t], [weight gradients]) from
    the same forward recorded by autograd, with Gluon's loss.

    mxnet differentiates only with respect to leaves, so a zero leaf E_t is
    added to each h_t: dL/dE_t is dL/dh_t and the values are unchanged.
    """
    params = [W.copy() for W in params]
    W_hx, W_hh, W_qh = params
    X = inputs[0]
    shape = (W_hh.shape[0], X.shape[1])
    H = H0 if H0 is not None else nd.zeros(shape, X.context, dtype=X.dtype)
    E = [nd.zeros(shape, X.context, dtype=X.dtype) for _ in inputs]
    for a in params + E:
        a.attach_grad()
    ce = gloss.SoftmaxCrossEntropyLoss()  # rows are examples: o_t^T
    with autograd.record():
        ls = []
        for X, Y, E_t in zip(inputs, labels, E):
            H = nd.dot(W_hx, X) + nd.dot(W_hh, H) + E_t
            ls.append(ce(nd.dot(W_qh, H).T, Y).mean())
        L = nd.add_n(*ls) / len(inputs)
    L.backward()
    return (float(L.asscalar()), [E_t.grad for E_t in E],
            [W.grad for W in params])


def rel_diff(a, b):
    """max|a - b| / max|b| over the arrays of ``a`` and ``b`` (lists of
    NDArrays or scalars): the error relative to the gradient's scale."""
    a = np.concatenate([np.ravel(np.asarray(_host(x))) for x in a])
    b = np.concatenate([np.ravel(np.asarray(_host(x))) for x in b])
    scale = np.abs(b).max()
    return float(np.abs(a - b).max() / scale) if scale else \
        float(np.abs(a).max())


def _host(x):
    return x.asnumpy() if isinstance(x, nd.NDArray) else x


def compare(params, inputs, labels, H0=None):
    """Hand BPTT vs autograd: {'loss', 'dL/dh', 'W_hx', 'W_hh', 'W_qh'} ->
    relative difference (:func:`rel_diff`)."""
    hand = hand_grads(params, inputs, labels, H0)
    auto = autograd_grads(params, inputs, labels, H0)
    diffs = {'loss': rel_diff([hand[0]], [auto[0]]),
             'dL/dh': rel_diff(hand[1], auto[1])}
    for name, g, G in zip(NAMES, hand[2], auto[2]):
        diffs[name] = rel_diff([g], [G])
    return diffs


def norms(arrays):
    """The L2 (Frobenius) norm of each array, as a numpy vector."""
    return np.array([float(nd.norm(a).asscalar()) for a in arrays])


def last_step(T):
    """Loss weights that keep only the last step's loss l(o_T, y_T)."""
    return [0.0] * (T - 1) + [1.0]


def clip_effect(params, grads, theta):
    """Clip ``grads`` with the chapter's ``grad_clipping`` (placed in the
    params' ``.grad``, as training does); return (global norm before,
    after, cosine of the two directions)."""
    before = np.concatenate([g.asnumpy().ravel() for g in grads])
    params = [W.copy() for W in params]
    for W, g in zip(params, grads):
        W.attach_grad()
        W.grad[:] = g
    grad_clipping(params, theta)
    after = np.concatenate([W.grad.asnumpy().ravel() for W in params])
    cosine = before @ after / (np.linalg.norm(before) *
                               np.linalg.norm(after))
    return (float(np.linalg.norm(before)), float(np.linalg.norm(after)),
            float(cosine))


def plot_norms(path, radii, last, every):
    """Draw ||dl_T/dh_t|| (solid) and ||dL/dh_t|| (dashed) against t on a
    log scale, one colour per spectral radius; write a PNG to ``path``."""
    fig, ax = new_figure((8, 4.2))
    for i, rho in enumerate(radii):
        t = np.arange(1, len(last[rho]) + 1)
        ax.semilogy(t, last[rho], '-', color='C%d' % i,
                    label=r'$\rho=%g$, last step' % rho)
        ax.semilogy(t, every[rho], '--', color='C%d' % i,
                    label=r'$\rho=%g$, every step' % rho)
    ax.set_xlabel('time step t')
    ax.set_ylabel(r'$\|\partial L / \partial h_t\|$')
    ax.set_title(r'BPTT: $W_{hh} = \rho Q$, loss at the last / every step')
    ax.legend(fontsize='small', loc='center left',
              bbox_to_anchor=(1, 0.5))
    save_figure(fig, path)


def _radii(text):
    try:
        radii = tuple(float(r) for r in text.split(','))
    except ValueError:
        raise argparse.ArgumentTypeError(
            'give numbers: 0.8,1.0,1.2') from None
    if not radii or min(radii) <= 0:
        raise argparse.ArgumentTypeError('radii must be positive')
    return radii


def _print_table(radii, last, every, T):
    width = 11 * len(radii)
    print('%4s  %-*s%s' % ('', width, 'dl_T/dh_t (last step only)',
                           'dL/dh_t (L = mean of every step)'))
    head = ''.join('%11s' % ('rho=%g' % rho) for rho in radii)
    print('%4s  %s%s' % ('t', head, head))
    for t in sorted(set(range(T, 0, -max(1, T // 10))) | {1},
                    reverse=True):
        row = [last[rho][t - 1] for rho in radii] + \
            [every[rho][t - 1] for rho in radii]
        print('%4d  %s' % (t, ''.join('%11.3e' % v for v in row)))


def main(argv=None):
    """Run 6.6 on a line of the corpus; print and return the measurements.

    Returns a dict: ``max_rel_diff`` (hand vs autograd per gradient),
    ``last`` and ``every`` ({rho: numpy vector, entry t-1 the norm of
    dl_T/dh_t resp. dL/dh_t}), ``ratio`` ({rho: ||dl_T/dh_1|| /
    ||dl_T/dh_T||}), ``clip`` ({rho: (norm before, after, cosine)}),
    ``theta``, ``plot`` (the PNG's path or None).
    """
    p = cli.parser('bptt', __doc__, hp=None, train=False, command='6.6')
    for name in ('--num-steps', '--num-hiddens', '--clip', '--plot'):
        flags.add(p, name, '6.6')
    p.add_argument('--radii', type=_radii, default='0.8,1.0,1.2',
                   help='spectral radii of W_hh, comma-separated')
    p.add_argument('--dtype', choices=['float64', 'float32'],
                   default='float64', help='float64 for the 1e-5 parity')
    args = p.parse_args(argv)
    args.clipping_theta = args.clipping_theta or None  # 0: no clipping
    ctx = cli.setup(args)
    corpus_indices, _, _, vocab_size = cli.load(args)
    T, h, dtype = args.num_steps, args.num_hiddens, args.dtype
    if len(corpus_indices) <= T:
        raise BadInput('--num-steps %d needs at least %d characters; the '
                       'corpus has %d' % (T, T + 1, len(corpus_indices)))
    # one sequence (n = 1): x_t the one-hot of character t, y_t the next
    line = nd.array(corpus_indices[:T + 1], ctx=ctx, dtype=dtype)
    inputs = [nd.one_hot(line[t:t + 1], vocab_size, dtype=dtype).T
              for t in range(T)]  # T of (vocab, 1)
    labels = [line[t + 1:t + 2] for t in range(T)]  # T of (1,)

    params = init_params(vocab_size, h, vocab_size, ctx, dtype=dtype)
    H0 = nd.array(np.random.normal(size=(h, 1)), ctx=ctx, dtype=dtype)
    diffs = compare(params, inputs, labels, H0)
    print('hand BPTT vs autograd (%s, T=%d, h=%d, q=d=%d): max relative '
          'difference' % (dtype, T, h, vocab_size))
    for name, v in diffs.items():
        print('  %-6s %.2e' % (name, v))

    last, every, clipped = {}, {}, {}
    for rho in args.radii:
        params = init_params(vocab_size, h, vocab_size, ctx, rho, dtype)
        last[rho] = norms(hand_grads(params, inputs, labels,
                                     weights=last_step(T))[1])
        _, dH, dW = hand_grads(params, inputs, labels)
        every[rho] = norms(dH)
        clipped[rho] = clip_effect(params, dW, args.clipping_theta)
    print('\nnorms of the gradient with respect to h_t, W_hh = rho Q '
          '(Q orthogonal)')
    _print_table(args.radii, last, every, T)
    ratio = {rho: last[rho][0] / last[rho][-1] for rho in args.radii}
    for rho in args.radii:
        print('rho=%g: ||dl_T/dh_1|| / ||dl_T/dh_T|| = %.3e, rho^(T-1) = '
              '%.3e' % (rho, ratio[rho], rho ** (T - 1)))

    print('\nclipping at theta=%s: global norm of (dL/dW_hx, dL/dW_hh, '
          'dL/dW_qh)' % (args.clipping_theta or 'none (--clip 0)'))
    for rho, (before, after, cosine) in clipped.items():
        print('  rho=%g: %.4e -> %.4e, cosine(before, after) = %.6f'
              % (rho, before, after, cosine))
    if args.plot:
        plot_norms(args.plot, args.radii, last, every)
        print('\nplot written to %s' % args.plot)
    return dict(max_rel_diff=diffs, last=last, every=every, ratio=ratio,
                clip=clipped, theta=args.clipping_theta, plot=args.plot)


if __name__ == '__main__':
    cli.run(main)
