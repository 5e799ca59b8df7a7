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
import os
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Optional, Tuple

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon, nd
from mxnet.gluon import loss as gloss

from .data import data_iter_consecutive, data_iter_random
from .errors import BadInput, TrainingDiverged, raise_pending_stop
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
    # beyond the book, for held-out text (see fit): the update, its weight
    # decay, early stopping after `patience` epochs without a better
    # held-out perplexity, and the factor that cuts lr after each of them
    optimizer: str = 'sgd'  # the book's; or 'adam'
    wd: float = 0.0
    patience: Optional[int] = None
    lr_decay: Optional[float] = None

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
        if self.optimizer not in OPTIMIZERS:
            raise BadInput('the optimizer is one of %s, not %r'
                           % (', '.join(OPTIMIZERS), self.optimizer))
        if not self.wd >= 0:
            raise BadInput('weight decay must be >= 0, got %r' % self.wd)
        if self.patience is not None and self.patience < 1:
            raise BadInput('patience must be at least 1 epoch, got %r'
                           % self.patience)
        if self.lr_decay is not None and not 0 < self.lr_decay < 1:
            raise BadInput('the learning-rate cut must be in (0, 1), got %r'
                           % self.lr_decay)

    @property
    def needs_valid(self):
        """True if it stops early or cuts lr: both read a held-out text."""
        return self.patience is not None or self.lr_decay is not None


OPTIMIZERS = ('sgd', 'adam')


BOOK = Hyper()  # 6.4 and 6.5
BOOK_GATED = Hyper(num_epochs=160, pred_period=40)  # 6.7 and 6.8


def memory_needed(num_hiddens, vocab_size, batch_size, num_steps,
                  num_layers=1, embed_size=None, num_directions=2, gates=4):
    """Bytes a model of these sizes needs to train, at most: float32
    weights with their gradients and Adam's two moments, and a batch's
    activations with their gradients (by default the largest cell, an
    LSTM's four gates, in two directions)."""
    h, D, g, V = num_hiddens, num_directions, gates, vocab_size
    first = embed_size or V  # what the first layer reads
    params = D * g * h * (first + h + 2) \
        + (num_layers - 1) * D * g * h * (D * h + h + 2) \
        + V * (D * h + 1) + V * (embed_size or 0)
    activations = batch_size * num_steps * (
        3 * num_layers * D * (g + 2) * h + 3 * V)
    return 4 * (4 * params + activations)


def check_memory(*args, **kwargs):
    """BadInput if :func:`memory_needed` is over half of this machine's
    memory: an absurd size (``--num-hiddens 10000000``) is refused before
    mxnet tries to allocate it."""
    try:
        total = os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')
    except (AttributeError, ValueError, OSError):
        return  # not POSIX: mxnet will say it
    needed = memory_needed(*args, **kwargs)
    if needed > total / 2:
        raise BadInput(
            'a model of these sizes needs up to %.3g GB of memory to train, '
            'and this machine has %.3g GB: lower --num-hiddens (or '
            '--batch-size, --num-steps, --embed-size, --num-layers)'
            % (needed / 1e9, total / 1e9))


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


def sgd_update(weights, grads, lr, batch_size=1, wd=0.0):
    """w -= lr * (g / batch_size + wd * w) for each weight and its
    gradient (the book's ``sgd`` has no weight decay)."""
    for w, g in zip(weights, grads):
        nd.sgd_update(w, g, lr=lr, wd=wd, rescale_grad=1.0 / batch_size,
                      out=w)


class Updater:
    """The update ``fit`` applies after each batch, ``update()``, at the
    learning rate ``lr`` (which ``fit`` may cut).

    'sgd' is the book's: w -= lr * (g + wd * w) (its ``sgd`` divides by
    batch size 1: the loss is already a mean; ``wd`` is 0 in the book).
    'adam' (Kingma & Ba; beyond the book): a Gluon model is updated by
    ``gluon.Trainer(params, 'adam')``, a scratch or fast model by the same
    update written out: per weight, moments m and v,

        g += wd * w;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
        w -= lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)

    at step t (mxnet's ``adam_update`` does the last three lines; the
    bias correction is the factor of lr, as the Trainer applies it).
    A model's arrays are looked up at every step: initialising or loading
    it replaces them.
    """
    beta1, beta2, epsilon = 0.9, 0.999, 1e-8  # Gluon's defaults

    def __init__(self, model, lr, optimizer='sgd', wd=0.0):
        if optimizer not in OPTIMIZERS:
            raise BadInput('the optimizer is one of %s, not %r'
                           % (', '.join(OPTIMIZERS), optimizer))
        self.model, self.lr, self.optimizer, self.wd = (
            model, lr, optimizer, wd)
        self.t, self.moments, self.trainer = 0, None, None

    def __call__(self):
        if self.optimizer == 'sgd':
            sgd_update(self.model.weights(), self.model.grads(), self.lr,
                       wd=self.wd)
        elif getattr(self.model, 'model', None) is not None:  # Gluon
            if self.trainer is None:
                self.trainer = gluon.Trainer(
                    self.model.params, 'adam', dict(
                        learning_rate=self.lr, wd=self.wd, beta1=self.beta1,
                        beta2=self.beta2, epsilon=self.epsilon),
                    kvstore=None)
            self.trainer.set_learning_rate(self.lr)
            self.trainer.step(1)  # the loss is already a mean
        else:
            self._adam()

    def _adam(self):
        weights = self.model.weights()
        if self.moments is None:
            self.moments = [(nd.zeros_like(w), nd.zeros_like(w))
                            for w in weights]
        self.t += 1
        lr = self.lr * math.sqrt(1 - self.beta2 ** self.t) \
            / (1 - self.beta1 ** self.t)
        for w, g, (m, v) in zip(weights, self.model.grads(), self.moments):
            nd.adam_update(w, g, m, v, lr=lr, wd=self.wd, beta1=self.beta1,
                           beta2=self.beta2, epsilon=self.epsilon, out=w)


def updater(model, lr, optimizer='sgd', wd=0.0):
    """The :class:`Updater` of ``model``: plain sgd at ``lr`` unless told."""
    return Updater(model, lr, optimizer, wd)


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
    lr: list = field(default_factory=list)  # after each epoch (cuts)
    predictions: dict = field(default_factory=dict)  # prefix -> text
    params: object = None
    model: object = None
    net: object = None

    @property
    def best_epoch(self):
        """The epoch of the lowest held-out perplexity (None without a
        held-out text)."""
        if not self.valid_perplexity:
            return None
        v = self.valid_perplexity
        return self.epochs[min(range(len(v)), key=v.__getitem__)]

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
    ``hp.clipping_theta`` and applied by ``hp.optimizer`` (the book's plain
    sgd) at ``hp.lr``, with weight decay ``hp.wd``.

    Given a held-out text ``valid_indices`` (beyond the book), its
    perplexity is computed after every epoch; each epoch that does not
    beat the best so far cuts the learning rate by ``hp.lr_decay`` (if
    set), and ``hp.patience`` such epochs in a row stop the run (early
    stopping), whose parameters are then put back to the best epoch's.
    ``on_epoch_end(epoch, history)`` runs after every epoch (checkpoints;
    ``history.best_epoch`` says whether this one is the best).
    Returns the :class:`History`; raises TrainingDiverged if the loss
    becomes nan or inf.
    """
    if hp.needs_valid and valid_indices is None:
        raise BadInput('early stopping and the learning-rate cut read a '
                       'held-out text: give a validation split (e.g. '
                       '--valid-frac 0.1)')
    data_iter_fn = data_iter_random if is_random_iter \
        else data_iter_consecutive
    history = history if history is not None else History()
    update = updater(model, history.lr[-1] if history.lr else hp.lr,
                     hp.optimizer, hp.wd)
    best = _Best(model, history)
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
                raise_pending_stop()
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
            stop = False
            if valid_indices is not None:
                history.valid_perplexity.append(evaluate_perplexity(
                    model, valid_indices, hp.num_steps, ctx))
                line += ', valid perplexity %f' % (
                    history.valid_perplexity[-1])
                stop = best.after_epoch(hp, update, write)
            history.lr.append(update.lr)  # after a cut: what comes next
            if bar is not None:
                bar.update(1)
                bar.set_postfix(perplexity='%.2f' % ppl)
            last = report_last and (epoch + 1 == hp.num_epochs or stop)
            if (epoch + 1) % hp.pred_period == 0 or last:
                write(line)
                for prefix in hp.prefixes:
                    text = predict(model, prefix, hp.pred_len, idx_to_char,
                                   char_to_idx)
                    history.predictions[prefix] = text
                    write(' - ' + text)
            if on_epoch_end is not None:
                on_epoch_end(epoch + 1, history)
            if stop:
                break
        best.restore(hp, write)
    finally:
        if bar is not None:
            bar.close()
        history.net = model
        history.params = getattr(model, 'params', None)
        history.model = getattr(model, 'model', None)
    return history


class _Best:
    """The best epoch of a run on held-out perplexity, its parameters (a
    copy) and the epochs since it: what early stopping and the
    learning-rate cut read."""

    def __init__(self, model, history):
        self.model, self.history = model, history
        self.arrays = None  # a resumed run starts its count again
        v = history.valid_perplexity
        self.stalls = len(v) - 1 - v.index(min(v)) if v else 0

    def after_epoch(self, hp, update, write):
        """Note the epoch just evaluated; True if the run should stop."""
        h = self.history
        if h.best_epoch == h.epochs[-1]:
            self.stalls = 0
            if hp.patience is not None:  # what restore() puts back
                self.arrays = {k: a.copy() for k, a in
                               self.model.state_dict().items()}
            return False
        self.stalls += 1
        if hp.lr_decay is not None:
            # float32 (what the update reads) has no smaller normal value
            update.lr = max(update.lr * hp.lr_decay, 1.1754943508222875e-38)
        if hp.patience is not None and self.stalls >= hp.patience:
            write('early stop after epoch %d: no better held-out perplexity '
                  'for %d epochs' % (h.epochs[-1], self.stalls))
            return True
        return False

    def restore(self, hp, write):
        """Early stopping: put the best epoch's parameters back."""
        h = self.history
        if self.arrays is None or h.best_epoch == h.epochs[-1]:
            return
        self.model.load_state_dict(self.arrays)
        write('restored the parameters of epoch %d (held-out perplexity '
              '%f)' % (h.best_epoch, min(h.valid_perplexity)))
