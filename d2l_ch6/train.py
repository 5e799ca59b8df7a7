"""The shared training toolkit: one-hot, clipping, sgd, perplexity,
prediction and one train-and-predict loop for scratch and Gluon models.

The book's functions (``to_onehot``, ``grad_clipping``, ``sgd``,
``predict_rnn``, ``predict_rnn_gluon``, ``train_and_predict_rnn``,
``train_and_predict_rnn_gluon``) keep d2lzh's names, argument order and
printed lines, as thin fronts over :func:`fit`. Where the book is wrong or
slow this file says so next to the fix:

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
import sys
import time
from dataclasses import dataclass, field
from typing import Optional, Tuple

import numpy as np
from mxnet import autograd, gluon, init, nd
from mxnet.gluon import loss as gloss

from .data import data_iter_consecutive, data_iter_random
from .errors import BadInput, TrainingDiverged


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


def to_onehot(X, size):
    """(batch, num_steps) indices -> num_steps arrays of (batch, size)."""
    return [nd.one_hot(x, size) for x in X.T]


def _clip(grads, theta):
    """Scale ``grads`` in place by min(1, theta / ||grads||) on the device."""
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


def grad_clipping(params, theta, ctx=None):
    """Clip the gradient: if the global L2 norm ``g`` of all gradients
    exceeds ``theta``, scale every gradient by ``theta / g``.

    ``params`` are NDArrays with attached gradients (``theta=None``: no-op).
    Same numbers as the book's, computed on the device (``ctx`` is kept for
    the book's signature; the gradients' own context is used).
    """
    _clip([p.grad for p in params], theta)


clip_gradient = grad_clipping  # the project card's name


def sgd(params, lr, batch_size):
    """Mini-batch stochastic gradient descent: p -= lr * p.grad / batch."""
    for param in params:
        nd.sgd_update(param, param.grad, lr=lr,
                      rescale_grad=1.0 / batch_size, out=param)


def perplexity(mean_loss):
    """exp(mean cross-entropy); inf (not OverflowError) if it overflows."""
    try:
        return math.exp(mean_loss)
    except OverflowError:
        return math.inf


def check_prefix(prefix, char_to_idx):
    """Raise BadInput unless every character of ``prefix`` is known."""
    if not prefix:
        raise BadInput('the prefix is empty: give at least one character')
    unknown = [c for c in dict.fromkeys(prefix) if c not in char_to_idx]
    if unknown:
        raise BadInput(
            'prefix %r has character(s) not in the vocabulary: %s. Use '
            'characters of the training corpus.'
            % (prefix, ', '.join(repr(c) for c in unknown)))


def greedy(Y):
    """The book's choice: the index of the largest output."""
    return int(Y.argmax(axis=1).asscalar())


def sampler(temperature=1.0, top_k=None, seed=None):
    """A ``pick`` for :func:`generate` that samples from softmax(Y / T),
    among the ``top_k`` largest outputs if given, with its own seeded RNG
    (so a seed gives the same text in every process)."""
    if not temperature > 0:
        raise BadInput('the temperature must be positive, got %r'
                       % temperature)
    if top_k is not None and top_k < 1:
        raise BadInput('top_k must be >= 1, got %r' % top_k)
    rng = np.random.RandomState(seed)

    def pick(Y):
        logits = Y[0].asnumpy().astype(np.float64) / temperature
        if top_k is not None and top_k < logits.size:
            logits[logits < np.sort(logits)[-top_k]] = -np.inf
        p = np.exp(logits - logits.max())
        return int(rng.choice(logits.size, p=p / p.sum()))
    return pick


def generate(step, state, prefix, num_chars, idx_to_char, char_to_idx,
             pick=greedy):
    """Feed ``prefix`` one character at a time, then ``num_chars`` more
    chosen by ``pick`` from the outputs; return prefix + new characters.

    ``step(index, state) -> (Y, state)`` with ``Y`` of shape (1, vocab).
    """
    check_prefix(prefix, char_to_idx)
    output = [char_to_idx[prefix[0]]]
    for t in range(num_chars + len(prefix) - 1):
        Y, state = step(output[-1], state)
        if t < len(prefix) - 1:
            output.append(char_to_idx[prefix[t + 1]])
        else:
            output.append(pick(Y))
    return ''.join(idx_to_char[i] for i in output)


def new_params(shapes, ctx):
    """Fresh scratch parameters with gradients attached: a weight drawn from
    N(0, 0.01^2) for each 2-d shape, zeros for each 1-d (bias) shape, drawn
    in order (so a seed gives the book's get_params values)."""
    params = [nd.random.normal(scale=0.01, shape=shape, ctx=ctx)
              if len(shape) == 2 else nd.zeros(shape, ctx=ctx)
              for shape in shapes]
    for param in params:
        param.attach_grad()
    return params


def x_dot(X, W):
    """The input product ``X W`` of a scratch cell. X is one-hot (batch,
    vocab) as in the book, or the hidden states of the layer below (batch,
    h); or, on the fast path, the indices (batch,) of the one-hot rows: a
    one-hot row times W is the row of W at its index, so the product is a
    row gather, and its gradient adds each row's gradient into that row of
    W. ``ScratchModel(fast=True)`` feeds :class:`InputStep` items, whose
    products are computed for all steps of the batch at once."""
    if isinstance(X, InputStep):
        return X.product(W)
    if X.ndim == 1:
        return nd.take(W, X)
    return nd.dot(X, W)


class InputStep:
    """The X of step ``t`` on the fast path (see :class:`InputSteps`)."""

    def __init__(self, steps, t):
        self.steps, self.t = steps, t

    def product(self, W):
        """Step t's share (batch, h) of the product with W."""
        return self.steps.products(W)[self.t]


class InputSteps(list):
    """The fast path's inputs of one batch, all known before the recurrence
    runs: the indices X (batch, num_steps) of the characters, or the hidden
    states Hs (num_steps arrays of (batch, n)) of the layer below. One
    :class:`InputStep` per time step; the product of a weight W with the
    inputs of all steps is made at once (one gather or one matrix product,
    and one gradient op, instead of one per step and gate) and split into
    the steps' shares."""

    def __init__(self, X=None, Hs=None):
        # time-major: indices (num_steps, batch), or the states stacked
        # (num_steps * batch, n)
        self.X = None if X is None else X.T
        self.H = None if Hs is None else nd.concat(*Hs, dim=0)
        self.made = {}  # id(W) -> (W, [step t's share])
        num_steps = len(Hs) if X is None else X.shape[1]
        super().__init__(InputStep(self, t) for t in range(num_steps))

    def products(self, W):
        """[step t's (batch, h) share of the product with W]."""
        if id(W) not in self.made:
            if self.X is not None:
                XW = nd.take(W, self.X)  # (num_steps, batch, h)
            else:
                XW = nd.dot(self.H, W).reshape((len(self), -1, W.shape[1]))
            parts = nd.split(XW, num_outputs=len(self), axis=0,
                             squeeze_axis=True)
            self.made[id(W)] = (W, parts if len(self) > 1 else [parts])
        return self.made[id(W)][1]


def fed_indices(inputs):
    """True if ``inputs`` (one item per step) are those of the fast path
    rather than the book's one-hot (batch, vocab) arrays."""
    return isinstance(inputs[0], InputStep) or inputs[0].ndim == 1


def output_layer(Hs, W_hq, b_q, fast=False):
    """The outputs ``O_t = H_t W_hq + b_q`` of the hidden states ``Hs`` (one
    (batch, h) array per step): one (batch, q) array per step, as in the
    book; with ``fast`` the same numbers from one product over all steps, as
    a list holding one (num_steps * batch, q) array (time-major rows)."""
    if fast:
        H = nd.concat(*Hs, dim=0)  # (num_steps * batch, h)
        # FullyConnected (H W^T + b, hence W_hq.T): the same numbers, but
        # the bias gradient is its fast column sum, where broadcast_add's
        # backward is a slow reduction over the rows (10 ms a batch)
        return [nd.FullyConnected(H, W_hq.T, b_q, num_hidden=b_q.size)]
    return [nd.dot(H, W_hq) + b_q for H in Hs]


def unroll(cell, inputs, state, params):
    """Run a scratch ``cell`` over ``inputs`` (num_steps arrays of (batch,
    vocab), or the fast path's :class:`InputSteps`) with the output layer
    ``O_t = H_t W_hq + b_q`` (the last two of ``params``); return the
    outputs (see :func:`output_layer`) and the final state. ``cell(X,
    state, params) -> state`` reads its own parameters from the front of
    ``params``; ``state[0]`` is H."""
    Hs = []
    for X in inputs:
        state = cell(X, state, params)
        Hs.append(state[0])
    return output_layer(Hs, *params[-2:], fast=fed_indices(inputs)), state


class ScratchModel:
    """A from-scratch model: the book's ``rnn(inputs, state, params)``, its
    parameters and ``init_rnn_state`` bundled for :func:`fit`. ``spec``
    (a ModelSpec, set by ``models.build_model``) says how to rebuild it.

    ``fast=True`` feeds ``rnn`` the indices of the inputs (an
    :class:`InputSteps`) instead of their one-hot arrays: the cells' input
    products become row gathers made for all steps at once (:func:`x_dot`)
    and the output layer one product over all steps
    (:func:`output_layer`); the same numbers, less work.
    """

    spec = None

    def __init__(self, rnn, params, init_rnn_state, num_hiddens, vocab_size,
                 ctx, fast=False):
        self.rnn, self.params = rnn, params
        self.init_rnn_state = init_rnn_state
        self.num_hiddens, self.vocab_size, self.ctx = (
            num_hiddens, vocab_size, ctx)
        self.fast = fast
        for param in params:
            if param.grad is None:
                param.attach_grad()

    def begin_state(self, batch_size):
        return self.init_rnn_state(batch_size, self.num_hiddens, self.ctx)

    def __call__(self, X, state):
        """X: (batch, num_steps) -> outputs (num_steps * batch, vocab)."""
        inputs = InputSteps(X) if self.fast \
            else to_onehot(X, self.vocab_size)
        outputs, state = self.rnn(inputs, state, self.params)
        if len(outputs) == 1:  # one step, or the fast output layer
            return outputs[0], state
        return nd.concat(*outputs, dim=0), state

    def step(self, index, state):
        return self(nd.array([[index]], ctx=self.ctx), state)

    def grads(self):
        return [p.grad for p in self.params]

    def updater(self, lr):
        return lambda: sgd(self.params, lr, 1)

    def state_dict(self):
        """{name: array}: the parameters, named by their position."""
        return {str(i): p for i, p in enumerate(self.params)}

    def load_state_dict(self, arrays):
        """Copy the arrays of :meth:`state_dict` into the parameters."""
        for name, param in self.state_dict().items():
            _check_shape(name, param.shape, arrays)
            param[:] = arrays[name].as_in_context(self.ctx)


class GluonModel:
    """A Gluon block with ``begin_state`` (such as RNNModel) for :func:`fit`:
    its parameters are updated with plain sgd (what ``gluon.Trainer('sgd')``
    computes, without its per-step bookkeeping)."""

    spec = None

    def __init__(self, model, ctx):
        self.model, self.ctx = model, ctx
        self.params = model.collect_params()

    def prepare(self, initialize=True):
        """As the book: weights re-initialised from N(0, 0.01^2) (unless
        ``initialize=False``, e.g. loaded), and a HybridBlock hybridized
        into one cached graph."""
        if initialize:
            self.model.initialize(ctx=self.ctx, force_reinit=True,
                                  init=init.Normal(0.01))
        if isinstance(self.model, gluon.HybridBlock):
            self.model.hybridize(static_alloc=True, static_shape=True)
        return self

    def begin_state(self, batch_size):
        return self.model.begin_state(batch_size=batch_size, ctx=self.ctx)

    def __call__(self, X, state):
        return self.model(X, state)

    def step(self, index, state):
        return self(nd.array([[index]], ctx=self.ctx), state)

    def _trained(self):
        return [p for p in self.params.values() if p.grad_req != 'null']

    def grads(self):
        return [p.grad(self.ctx) for p in self._trained()]

    def updater(self, lr):
        # the arrays are looked up at every step: initialize() and loading
        # replace them
        return lambda: sgd([p.data(self.ctx) for p in self._trained()],
                           lr, 1)

    def _named(self):
        # structural names ('rnn.l0_i2h_weight', 'dense.weight'): the same
        # in every process, unlike the blocks' counter-based prefixes
        return self.model._collect_params_with_prefix()

    def state_dict(self):
        """{name: array} of the parameters, by their place in the block."""
        return {name: p.data(self.ctx) for name, p in self._named().items()}

    def load_state_dict(self, arrays):
        """Load the arrays of :meth:`state_dict` (initialises the block)."""
        for name, param in self._named().items():
            _check_shape(name, param.shape, arrays)
            param._load_init(arrays[name], self.ctx)  # as load_parameters


def _check_shape(name, shape, arrays):
    """BadInput unless ``arrays[name]`` fits ``shape`` (0: not yet known,
    a Gluon parameter waiting for its first input)."""
    if name not in arrays:
        raise BadInput('the saved parameters lack %r: they belong to '
                       'another model' % name)
    saved = tuple(arrays[name].shape)
    if len(saved) != len(shape) or any(
            d and d != s for d, s in zip(shape, saved)):
        raise BadInput('saved parameter %r has shape %s, the model needs %s:'
                       ' they belong to another model'
                       % (name, arrays[name].shape, shape))


def predict(model, prefix, num_chars, idx_to_char, char_to_idx,
            pick=greedy):
    """Text from a ScratchModel or GluonModel (greedy by default)."""
    return generate(model.step, model.begin_state(1), prefix, num_chars,
                    idx_to_char, char_to_idx, pick)


def predict_rnn(prefix, num_chars, rnn, params, init_rnn_state,
                num_hiddens, vocab_size, ctx, idx_to_char, char_to_idx):
    """Predict ``num_chars`` characters after ``prefix`` with a scratch
    model (the book's greedy argmax). Unknown characters: BadInput."""
    model = ScratchModel(rnn, params, init_rnn_state, num_hiddens,
                         vocab_size, ctx)
    return predict(model, prefix, num_chars, idx_to_char, char_to_idx)


def predict_rnn_gluon(prefix, num_chars, model, vocab_size, ctx, idx_to_char,
                      char_to_idx):
    """Predict ``num_chars`` characters after ``prefix`` with a Gluon
    model (the book's greedy argmax). Unknown characters: BadInput."""
    return predict(GluonModel(model, ctx), prefix, num_chars, idx_to_char,
                   char_to_idx)


def evaluate_perplexity(model, corpus_indices, num_steps, ctx):
    """Perplexity of ``model`` on a held-out text, read as one sequence
    (batch 1, the state carried over): tokens 1..n-1 are predicted."""
    loss = gloss.SoftmaxCrossEntropyLoss()
    data = nd.array(corpus_indices, ctx=ctx).reshape((1, -1))
    n = len(corpus_indices) - 1
    state, l_sum = model.begin_state(1), nd.zeros((1,), ctx=ctx)
    for i in range(0, n, num_steps):
        j = min(i + num_steps, n)
        outputs, state = model(data[:, i:j], state)
        l_sum += loss(outputs, data[0, i + 1:j + 1]).sum()
    return perplexity(float(l_sum.asscalar()) / n)


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
        log=print):
    """Train ``model`` (a ScratchModel or GluonModel) on ``corpus_indices``
    and print the book's lines every ``hp.pred_period`` epochs.

    Random sampling starts every batch from a fresh state; consecutive
    sampling starts each epoch from a fresh state and carries it over,
    detached (``detach=False`` is the book's exercise), from batch to batch.
    The loss is mean softmax cross-entropy; gradients are clipped to
    ``hp.clipping_theta`` and applied with plain sgd at ``hp.lr``.
    ``on_epoch_end(epoch, history)`` runs after every epoch (checkpoints).
    Returns the :class:`History`; raises TrainingDiverged if the loss
    becomes nan or inf.
    """
    data_iter_fn = data_iter_random if is_random_iter \
        else data_iter_consecutive
    loss = gloss.SoftmaxCrossEntropyLoss()
    update = model.updater(hp.lr)
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
                                     hp.num_steps, ctx):
                if is_random_iter:
                    state = model.begin_state(hp.batch_size)
                elif detach:
                    # the book's `for s in state: s.detach()` discarded
                    # detach()'s result
                    state = [s.detach() for s in state]
                with autograd.record():
                    outputs, state = model(X, state)  # (T*B, vocab)
                    y = Y.T.reshape((-1,))  # time-major, as outputs
                    l = loss(outputs, y).mean()
                l.backward()
                _clip(model.grads(), hp.clipping_theta)
                update()
                l_sum += l * y.size  # stays on the device
                n += y.size
            # the one host sync of the epoch
            ppl = perplexity(float(l_sum.asscalar()) / n)
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
            if (epoch + 1) % hp.pred_period == 0:
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
        history.net, history.params = model, model.params
        history.model = getattr(model, 'model', None)
    return history


def _book_hyper(num_hiddens, num_epochs, num_steps, lr, clipping_theta,
                batch_size, pred_period, pred_len, prefixes):
    return Hyper(num_hiddens, num_epochs, num_steps, batch_size, lr,
                 clipping_theta, pred_period, pred_len, tuple(prefixes))


def train_and_predict_rnn(rnn, get_params, init_rnn_state, num_hiddens,
                          vocab_size, ctx, corpus_indices, idx_to_char,
                          char_to_idx, is_random_iter, num_epochs, num_steps,
                          lr, clipping_theta, batch_size, pred_period,
                          pred_len, prefixes):
    """Train a from-scratch RNN and predict the next characters (the book's
    routine and printed lines). Returns the History; ``.params`` holds the
    trained parameters."""
    hp = _book_hyper(num_hiddens, num_epochs, num_steps, lr, clipping_theta,
                     batch_size, pred_period, pred_len, prefixes)
    model = ScratchModel(rnn, get_params(), init_rnn_state, num_hiddens,
                         vocab_size, ctx)
    return fit(model, corpus_indices, idx_to_char, char_to_idx, hp,
               ctx=ctx, is_random_iter=is_random_iter)


def fit_gluon(model, corpus_indices, idx_to_char, char_to_idx, hp=BOOK, *,
              ctx, initialize=True, **fit_kwargs):
    """Train a Gluon block with :func:`fit`, as the book does: weights
    re-initialised from N(0, 0.01^2) (unless ``initialize=False``), and a
    HybridBlock hybridized into one cached graph. Returns the History;
    ``.model`` is the trained block."""
    net = GluonModel(model, ctx).prepare(initialize)
    return fit(net, corpus_indices, idx_to_char, char_to_idx, hp, ctx=ctx,
               **fit_kwargs)


def train_and_predict_rnn_gluon(model, num_hiddens, vocab_size, ctx,
                                corpus_indices, idx_to_char, char_to_idx,
                                num_epochs, num_steps, lr, clipping_theta,
                                batch_size, pred_period, pred_len, prefixes):
    """Train a Gluon model (consecutive sampling, weights re-initialised
    from N(0, 0.01^2)) and predict: the book's routine and printed lines.
    Returns the History; ``.model`` is the trained model."""
    hp = _book_hyper(num_hiddens, num_epochs, num_steps, lr, clipping_theta,
                     batch_size, pred_period, pred_len, prefixes)
    return fit_gluon(model, corpus_indices, idx_to_char, char_to_idx, hp,
                     ctx=ctx)
