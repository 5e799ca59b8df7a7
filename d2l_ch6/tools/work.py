"""The work of an epoch and the limits the machine puts on it: what the
benchmark divides by.

The work is counted from the shapes, matrix products only: a product of
(m, k) by (k, n) is 2mkn floating-point operations forward; the backward
computes the gradient of the weight (2mkn) and of the left factor (2mkn)
unless that factor is a one-hot input, which needs none. Elementwise work
(activations, gates, softmax, clipping, the update) is not counted.

Two limits, both measured in the same process:

* the square limit: the best throughput of a large square product (what
  the machine reaches at its best), and ``limit_fraction`` = achieved
  GFLOP/s over it;
* the shape limit: the time an epoch's products would take, each at the
  best throughput the machine reaches for its own shape (forward, and the
  backward's two products), plus the row gathers of the fast path, each
  timed: ``shape_fraction`` = that time over the epoch's. The small
  recurrent products of a batch of 32 run far below the square limit
  whatever the framework; this limit says how close a model is to what
  its shapes allow.
"""
import time
from functools import partial

from mxnet import autograd, nd

from ..core.models import GATES


def products(spec, vocab_size, batch_size, num_steps, fast=False):
    """The matrix products of one batch as the model makes them: (what, m,
    k, n, times, left_grad) -- ``times`` products of (m, k) by (k, n), and
    whether the backward needs the gradient of the left factor. Gluon's
    layers and the fast forms make the input product of all steps at once
    (the fast forms gather the first layer's rows instead: see
    :func:`gathers`); the fast scratch GRU makes its step's product in two
    parts, the candidate's reading R * H (Gluon's reads H for all three
    gates). The sections' cells make one product per gate (k by h each:
    the same work as k by g*h)."""
    B, T, h = batch_size, num_steps, spec.num_hiddens
    D = spec.num_directions
    g = len(GATES[spec.cell])
    merged = fast or spec.impl == 'gluon'
    split = fast and spec.impl == 'scratch' and spec.cell == 'gru'
    result = []
    for layer in range(spec.num_layers):
        num_inputs = vocab_size if layer == 0 else D * h
        for _ in range(D):
            if layer > 0 or not fast:
                result.append(('input', T * B, num_inputs, g * h, 1,
                               layer > 0) if merged else
                              ('input', B, num_inputs, g * h, T, layer > 0))
            if split:
                result += [('recurrent', B, h, 2 * h, T, True),
                           ('recurrent', B, h, h, T, True)]
            else:
                result.append(('recurrent', B, h, g * h, T, True))
    result.append(('output', T * B, D * h, vocab_size, 1, True))
    return result


def gathers(spec, vocab_size, batch_size, num_steps, fast=False):
    """The row gathers of one batch: (rows, table rows, width) -- the fast
    forms' first layer reads the rows of its input weights at the
    characters (per direction)."""
    if not fast:
        return []
    width = len(GATES[spec.cell]) * spec.num_hiddens
    return [(batch_size * num_steps, vocab_size, width)] \
        * spec.num_directions


def flops(prods):
    """Floating-point operations of ``prods`` forward and backward: 2mkn
    forward, 2mkn for the weight's gradient, 2mkn for the left factor's
    where needed."""
    return sum(2 * m * k * n * times * (3 if left_grad else 2)
               for _, m, k, n, times, left_grad in prods)


def backward_shapes(m, k, n, left_grad):
    """The products of a product's backward, as (m, k, n): the weight's
    gradient (k, n) = X^T dY, and the left factor's (m, k) = dY W^T."""
    return [(k, m, n)] + ([(m, n, k)] if left_grad else [])


# -- measuring ----------------------------------------------------------------

def best_seconds(fn, seconds=0.05, rounds=3):
    """Seconds of one call of ``fn()`` (which returns an NDArray): the
    best of ``rounds`` timed loops of about ``seconds`` each."""
    fn().wait_to_read()
    start = time.perf_counter()
    fn().wait_to_read()
    n = max(1, int(seconds / max(time.perf_counter() - start, 1e-6)))
    best = float('inf')
    for _ in range(rounds):
        nd.waitall()
        start = time.perf_counter()
        for _ in range(n):
            out = fn()
        out.wait_to_read()
        best = min(best, (time.perf_counter() - start) / n)
    return best


def gemm_gflops(fn, flop, seconds=0.05, rounds=3):
    """GFLOP/s of ``fn()`` (``flop`` operations a call)."""
    return flop / best_seconds(fn, seconds, rounds) / 1e9


def shape_gflops(m, k, n, ctx):
    """{probe: GFLOP/s} of a product (m, k) by (k, n): as ``nd.dot`` and
    as ``nd.FullyConnected`` (oneDNN; its weight is (n, k))."""
    A = nd.random.normal(shape=(m, k), ctx=ctx)
    W = nd.random.normal(shape=(k, n), ctx=ctx)
    W_t = W.T.copy()
    shape = '%dx%dx%d' % (m, k, n)
    return {'dot ' + shape: gemm_gflops(partial(nd.dot, A, W),
                                        2 * m * k * n),
            'FullyConnected ' + shape: gemm_gflops(
                partial(nd.FullyConnected, A, W_t, no_bias=True,
                        num_hidden=n), 2 * m * k * n)}


def gather_seconds(rows, table_rows, width, ctx):
    """Seconds of one row gather and its backward (the gradient rows added
    into the table's)."""
    X = nd.array([i % table_rows for i in range(rows)], ctx=ctx)
    W = nd.random.normal(shape=(table_rows, width), ctx=ctx)
    W.attach_grad()
    G = nd.ones((rows, width), ctx=ctx)

    def gather():
        with autograd.record():
            Y = nd.Embedding(X, W, input_dim=table_rows, output_dim=width)
        Y.backward(G)
        return W.grad
    return best_seconds(gather)


class Limits:
    """The machine's limits on ``ctx``, measured once per shape: the square
    limit and the best GFLOP/s of every product shape asked for."""

    def __init__(self, ctx, square=2048):
        self.ctx = ctx
        self.probes = shape_gflops(square, square, square, ctx)
        self.square = max(self.probes.values())
        self.square_probe = max(self.probes, key=self.probes.get)
        self._best, self._gathers = {}, {}

    def best(self, m, k, n):
        """The best GFLOP/s measured for a product (m, k) by (k, n)."""
        if (m, k, n) not in self._best:
            probes = shape_gflops(m, k, n, self.ctx)
            self.probes.update(probes)
            self._best[m, k, n] = max(probes.values())
        return self._best[m, k, n]

    def gather(self, rows, table_rows, width):
        key = (rows, table_rows, width)
        if key not in self._gathers:
            self._gathers[key] = gather_seconds(*key, self.ctx)
        return self._gathers[key]

    def batch_seconds(self, prods, gathered=()):
        """The shape limit of one batch: every product forward and
        backward at the best throughput of its shape, and the gathers."""
        total = 0.0
        for _, m, k, n, times, left_grad in prods:
            for shape in [(m, k, n)] + backward_shapes(m, k, n, left_grad):
                a, b, c = shape
                total += times * 2 * a * b * c / (self.best(*shape) * 1e9)
        return total + sum(self.gather(*g) for g in gathered)
