"""The one training routine of the chapter, for scratch and Gluon models:
hyper-parameters, gradient clipping, the sgd update, perplexity, the one
training step and ``fit``, which prints the book's lines.

Defined in section 6.4 (``train_and_predict_rnn``; its d2lzh front is in
:mod:`d2l_ch6.book`). Where the book is wrong or slow this file says so
next to the fix:

* the book's ``for s in state: s.detach()`` throws the detached copies away;
  here the state really is replaced by its detached copy;
* the book reads the loss (``asscalar``) and the gradient norm back to the
  host twice per batch, which serialises MXNet's asynchronous engine; here
  the loss is summed and the gradients are clipped on the device, and the
  host waits once per epoch;
* ``math.exp`` of a diverged loss raises ``OverflowError``; here a diverged
  run stops with :class:`TrainingDiverged`, naming the epoch.
"""
import math
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Optional, Tuple

import mxnet as mx
import numpy as np
from mxnet import autograd, nd
from mxnet.gluon import loss as gloss

from .data import data_iter_consecutive, data_iter_random
from .errors import BadInput, TrainingDiverged
from .predict import predict


@dataclass(frozen=True)
class Hyper:
    """Hyper-parameters of a training run; the defaults are 6.4's."""
    num_hiddens: int = 256
    num_epochs: int = 250
    num_steps: int = 35
    batch_size: int = 32
    lr: float = 1e2
    clipping_theta: Optional[float] = 1e-2  # None: no clipping
    pred_period: int = 50
    pred_len: int = 50
    prefixes: Tuple[str, ...] = ('分开', '不分开')

    def __post_init__(self):
        for name in ('num_hiddens', 'num_epochs', 'num_steps', 'batch_size',
                     'pred_period'):
            if getattr(self, name) <= 0:
                raise BadInput('%s must be positive, got %r'
                               % (name, getattr(self, name)))
        if not self.lr > 0:
            raise BadInput('the learning rate must be positive, got %r'
                           % self.lr)
        if self.pred_len < 0:
            raise BadInput('pred_len must be >= 0, got %r' % self.pred_len)
        if self.clipping_theta is not None and not self.clipping_theta > 0:
            raise BadInput('the clipping threshold must be positive (or 0 on '
                           'the command line: no clipping), got %r'
                           % self.clipping_theta)


BOOK = Hyper()  # 6.4 and 6.5
BOOK_GATED = Hyper(num_epochs=160, pred_period=40)  # 6.7 and 6.8


def seed_all(seed):
    """Seed python's random, numpy and mxnet (all devices)."""
    random.seed(seed)
    np.random.seed(seed)
    mx.random.seed(seed)


def clip(grads, theta):
    """Scale ``grads`` in place by min(1, theta / ||grads||), on the device
    (``theta=None``: no-op). The book's ``grad_clipping``, without reading
    the norm back to the host."""
    if theta is None:
        return
    if all(g.dtype == np.float32 for g in grads):
        # one op for all the squared sums: per gradient, (g * g).sum() is a
        # slow reduction (8 ms a batch for a Gluon GRU, against 1 ms)
        squares = nd.multi_sum_sq(*grads, num_arrays=len(grads)).sum()
    else:  # multi_sum_sq answers in float32
        squares = nd.add_n(*[(g * g).sum() for g in grads])
    norm = nd.sqrt(squares)  # (1,)
    # theta / max(norm, theta) is theta / norm when norm > theta, else 1:
    # the book's branch without reading the norm back to the host
    scale = theta / nd.maximum(norm, theta)
    for g in grads:
        nd.broadcast_mul(g, scale, out=g)


def sgd(params, lr, batch_size):
    """Mini-batch stochastic gradient descent: p -= lr * p.grad / batch."""
    sgd_update(params, [p.grad for p in params], lr, batch_size)


def sgd_update(weights, grads, lr, batch_size=1):
    """w -= lr * g / batch_size for each weight and its gradient."""
    for w, g in zip(weights, grads):
        nd.sgd_update(w, g, lr=lr, rescale_grad=1.0 / batch_size, out=w)


def updater(model, lr):
    """The update of ``model`` fit applies after each batch: plain sgd at
    ``lr`` (the book divides by batch size 1: the loss is already a mean).
    A Gluon model's arrays are looked up at every step: initialising or
    loading it replaces them."""
    return lambda: sgd_update(model.weights(), model.grads(), lr)


def perplexity(mean_loss):
    """exp(mean cross-entropy); inf (not OverflowError) if it overflows."""
    try:
        return math.exp(mean_loss)
    except OverflowError:
        return math.inf


def mean(l_sum, n):
    """A device sum of losses over ``n`` tokens, as a float64 mean: under
    numpy 2 a float32 divided by an int stays float32."""
    return float(l_sum.asscalar()) / n


LOSS = gloss.SoftmaxCrossEntropyLoss()


def train_step(model, X, Y, state, theta=None, update=None,
               retain_graph=False, inspect=None):
    """One training step: the outputs of batch ``X`` from ``state`` under
    ``autograd.record``, the mean softmax cross-entropy against ``Y``
    (time-major, as the outputs), backward, clipping to ``theta`` and
    ``update()`` (None: no update). ``inspect(model)`` sees the gradients
    before they are clipped. Returns (the mean loss (1,) on the device, the
    new state, the number of tokens)."""
    with autograd.record():
        outputs, state = model(X, state)  # (T*B, vocab)
        y = Y.T.reshape((-1,))  # time-major, as outputs
        l = LOSS(outputs, y).mean()
    l.backward(retain_graph=retain_graph)
    if inspect is not None:
        inspect(model)
    clip(model.grads(), theta)
    if update is not None:
        update()
    return l, state, y.size


def evaluate_perplexity(model, corpus_indices, num_steps, ctx):
    """Perplexity of ``model`` on a held-out text, read as one sequence
    (batch 1, the state carried over) in chunks of ``num_steps``: tokens
    1..n-1 are predicted. ``num_steps=1`` feeds one character at a time,
    as generation does."""
    data = nd.array(corpus_indices, ctx=ctx).reshape((1, -1))
    n = len(corpus_indices) - 1
    state, l_sum = model.begin_state(1), nd.zeros((1,), ctx=ctx)
    for i in range(0, n, num_steps):
        j = min(i + num_steps, n)
        outputs, state = model(data[:, i:j], state)
        l_sum += LOSS(outputs, data[0, i + 1:j + 1]).sum()
    return perplexity(mean(l_sum, n))


@dataclass
class History:
    """What a training run learned: per-epoch perplexity and seconds (and
    validation perplexity when a held-out text was given), the last
    predictions, and the trained model: ``net`` (the ScratchModel or
    GluonModel), ``params`` (its parameters) and, for Gluon, ``model`` (the
    block).
    """
    epochs: list = field(default_factory=list)
    perplexity: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    valid_perplexity: list = field(default_factory=list)
    predictions: dict = field(default_factory=dict)  # prefix -> text
    params: object = None
    model: object = None
    net: object = None

    def __repr__(self):
        if not self.epochs:
            return 'History(no epoch)'
        return 'History(%d epochs, perplexity %.3f -> %.3f, %.1f s)' % (
            len(self.epochs), self.perplexity[0], self.perplexity[-1],
            sum(self.seconds))


def _progress_bar(enabled, start, total):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, initial=start, unit='epoch', leave=False,
                file=sys.stderr, dynamic_ncols=True)


def fit(model, corpus_indices, idx_to_char, char_to_idx, hp=BOOK, *, ctx,
        is_random_iter=False, detach=True, valid_indices=None,
        history=None, start_epoch=0, on_epoch_end=None, progress=False,
        log=print, report_last=True, random_offset=False):
    """Train ``model`` (a ScratchModel, GluonModel or fast model) on
    ``corpus_indices`` and print the book's lines every ``hp.pred_period``
    epochs, and after the last epoch whatever ``pred_period`` is (the book
    prints nothing after a run shorter than its period;
    ``report_last=False`` for a run continued by another call).

    Random sampling starts every batch from a fresh state; consecutive
    sampling starts each epoch from a fresh state and carries it over,
    detached (``detach=False`` is the book's exercise), from batch to batch;
    ``random_offset`` starts each epoch's examples at a random offset (see
    :func:`data.data_iter_random`).
    The loss is mean softmax cross-entropy; gradients are clipped to
    ``hp.clipping_theta`` and applied with plain sgd at ``hp.lr``.
    ``on_epoch_end(epoch, history)`` runs after every epoch (checkpoints).
    Returns the :class:`History`; raises TrainingDiverged if the loss
    becomes nan or inf.
    """
    data_iter_fn = data_iter_random if is_random_iter \
        else data_iter_consecutive
    update = updater(model, hp.lr)
    history = history if history is not None else History()
    bar = _progress_bar(progress, start_epoch, hp.num_epochs)
    write = bar.write if bar is not None else log
    try:
        for epoch in range(start_epoch, hp.num_epochs):
            start = time.time()
            if not is_random_iter:
                state = model.begin_state(hp.batch_size)
            l_sum, n = nd.zeros((1,), ctx=ctx), 0
            for X, Y in data_iter_fn(corpus_indices, hp.batch_size,
                                     hp.num_steps, ctx, random_offset):
                if is_random_iter:
                    state = model.begin_state(hp.batch_size)
                elif detach:
                    # the book's `for s in state: s.detach()` discarded
                    # detach()'s result
                    state = [s.detach() for s in state]
                l, state, tokens = train_step(model, X, Y, state,
                                              hp.clipping_theta, update)
                l_sum += l * tokens  # stays on the device
                n += tokens
            ppl = perplexity(mean(l_sum, n))  # the epoch's one host sync
            seconds = time.time() - start
            if not math.isfinite(ppl):
                last = history.perplexity[-1] if history.perplexity else None
                raise TrainingDiverged(
                    epoch + 1, last,
                    history.epochs[-1] if history.epochs else None)
            history.epochs.append(epoch + 1)
            history.perplexity.append(ppl)
            history.seconds.append(seconds)
            line = 'epoch %d, perplexity %f, time %.2f sec' % (
                epoch + 1, ppl, seconds)
            if valid_indices is not None:
                history.valid_perplexity.append(evaluate_perplexity(
                    model, valid_indices, hp.num_steps, ctx))
                line += ', valid perplexity %f' % (
                    history.valid_perplexity[-1])
            if bar is not None:
                bar.update(1)
                bar.set_postfix(perplexity='%.2f' % ppl)
            last = report_last and epoch + 1 == hp.num_epochs
            if (epoch + 1) % hp.pred_period == 0 or last:
                write(line)
                for prefix in hp.prefixes:
                    text = predict(model, prefix, hp.pred_len, idx_to_char,
                                   char_to_idx)
                    history.predictions[prefix] = text
                    write(' - ' + text)
            if on_epoch_end is not None:
                on_epoch_end(epoch + 1, history)
    finally:
        if bar is not None:
            bar.close()
        history.net = model
        history.params = getattr(model, 'params', None)
        history.model = getattr(model, 'model', None)
    return history
