"""Gradient clipping and the updates, for every kind of model: the book's
sgd and, beyond the book, Adam, with the state a checkpoint carries.

Defined in section 6.4 (``grad_clipping``, ``sgd``; their d2lzh fronts
are in :mod:`d2l_ch6.core.book`). The book reads the gradient norm back
to the host every batch (``asscalar``), which makes Python wait for the
device; here the norm and the scale stay on the device.
"""
import math

import numpy as np
from mxnet import nd

from .env import engine
from .errors import BadInput

OPTIMIZERS = ('sgd', 'adam')
# float32 (what the update operators read) has no smaller normal number
FLOAT32_TINY = 1.1754943508222875e-38


def clip_gradients(grads, theta):
    """Scale ``grads`` in place by min(1, theta / ||grads||), the global
    L2 norm over all of them, on the device (``theta=None``: no-op). The
    book's ``grad_clipping``, without reading the norm back to the
    host."""
    scale = clip_scale(grads, theta)
    if scale is not None:
        scale_gradients(grads, scale)


def scale_gradients(grads, scale):
    """g *= scale for each of ``grads``, ``scale`` a (1,) array on the
    device (no wait for it)."""
    for g in grads:
        nd.broadcast_mul(g, scale, out=g)


def clip_scale(grads, theta):
    """min(1, theta / ||grads||) as a (1,) array on the device (None for
    ``theta=None``)."""
    if theta is None:
        return None
    if all(g.dtype == np.float32 for g in grads):
        # one operator for all the squared sums: per gradient, (g * g).sum()
        # is a slow reduction (8 ms a batch for a Gluon GRU, against 1 ms)
        squares = nd.multi_sum_sq(*grads, num_arrays=len(grads)).sum()
    else:  # multi_sum_sq answers in float32
        squares = nd.add_n(*[(g * g).sum() for g in grads])
    norm = nd.sqrt(squares)  # (1,)
    # theta / max(norm, theta) is theta / norm when norm > theta, else 1:
    # the book's branch without reading the norm back to the host
    return theta / nd.maximum(norm, theta)


def host_scale():
    """True where reading the clip scale back costs no wait: the naive
    engine has run every operator by the time it returns."""
    return engine() == 'NaiveEngine'


def sgd(params, lr, batch_size):
    """Mini-batch stochastic gradient descent: p -= lr * p.grad / batch."""
    sgd_update(params, [p.grad for p in params], lr, batch_size)


def sgd_update(weights, grads, lr, batch_size=1, wd=0.0):
    """w -= lr * (g / batch_size + wd * w) for each weight and its
    gradient (the book's ``sgd`` has no weight decay)."""
    for w, g in zip(weights, grads):
        nd.sgd_update(w, g, lr=lr, wd=wd, rescale_grad=1.0 / batch_size,
                      out=w)


class Optimizer:
    """The update a trainer applies after each batch, ``update(weights,
    grads)``, at the learning rate ``lr`` (which a schedule may cut).

    'sgd' is the book's: w -= lr * (g + wd * w) (its ``sgd`` divides by
    batch size 1: the loss is already a mean; ``wd`` is 0 in the book).
    'adam' (Kingma & Ba; beyond the book) is the same for every kind of
    model, written out: per weight, moments m and v,

        g += wd * w;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
        w -= lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)

    at step t (mxnet's ``adam_update`` does the last three lines; the bias
    correction is the factor of lr, as ``gluon.Trainer`` applies it: a test
    checks the two give the same weights). Its state, the step count and
    the moments, is what :meth:`state_dict` gives a checkpoint, so that a
    resumed run continues exactly.
    """
    beta1, beta2, epsilon = 0.9, 0.999, 1e-8  # Gluon's defaults

    def __init__(self, name='sgd', lr=1.0, wd=0.0):
        if name not in OPTIMIZERS:
            raise BadInput('the optimizer is one of %s, not %r'
                           % (', '.join(OPTIMIZERS), name))
        self.name, self.lr, self.wd = name, lr, wd
        self.t, self.moments = 0, None

    @property
    def fuses(self):
        """True if :meth:`clip_and_update` does both (sgd)."""
        return self.name == 'sgd'

    def clip_and_update(self, weights, grads, theta, pause=None):
        """Clip ``grads`` to ``theta`` and apply sgd: w -= lr * (s * g +
        wd * w), s = min(1, theta / ||g||). Under the naive engine (a CPU
        mxnet: every operator has finished when it returns, see
        core/env.py) s is read back as a float, which waits for nothing,
        and each weight's one ``sgd_update`` scales its gradient on the
        way (``rescale_grad``): 1.5 ms a batch for the Gluon LSTM where
        scaling every gradient first took 2.6 (and mxnet's multi-weight
        updates, single-threaded here, 2.1-2.7). Under a threaded engine
        (a GPU) reading s would make Python wait for the device every
        batch, which is what the book does: there s stays on the device
        and scales the gradients there. ``pause('clip')`` runs once the
        scale is queued."""
        scale = clip_scale(grads, theta)
        if pause is not None:
            pause('clip')
        if scale is not None and host_scale():
            s = float(scale.asscalar())  # no wait: it has been computed
            for w, g in zip(weights, grads):
                nd.sgd_update(w, g, lr=self.lr, wd=self.wd, rescale_grad=s,
                              out=w)
            return
        if scale is not None:
            scale_gradients(grads, scale)
        self.update(weights, grads)

    def cut(self, factor):
        """lr *= factor (a schedule's cut), never below float32's range."""
        self.lr = max(self.lr * factor, FLOAT32_TINY)

    def update(self, weights, grads):
        if self.name == 'sgd':
            sgd_update(weights, grads, self.lr, wd=self.wd)
            return
        if self.moments is None:
            self.moments = [(nd.zeros_like(w), nd.zeros_like(w))
                            for w in weights]
        self.t += 1
        lr = self.lr * math.sqrt(1 - self.beta2 ** self.t) \
            / (1 - self.beta1 ** self.t)
        for w, g, (m, v) in zip(weights, grads, self.moments):
            nd.adam_update(w, g, m, v, lr=lr, wd=self.wd, beta1=self.beta1,
                           beta2=self.beta2, epsilon=self.epsilon, out=w)

    def state_dict(self):
        """(meta, arrays): the learning rate and step count; Adam's moments
        as arrays ``m0, v0, m1, ...``."""
        arrays = {}
        for i, (m, v) in enumerate(self.moments or []):
            arrays['m%d' % i], arrays['v%d' % i] = m, v
        return dict(name=self.name, lr=self.lr, wd=self.wd, t=self.t), arrays

    def load_state_dict(self, meta, arrays, ctx):
        """Continue from :meth:`state_dict`'s (meta, arrays)."""
        if meta['name'] != self.name:
            raise BadInput('the checkpoint was trained with %s, not %s: '
                           'resume with --optimizer %s' % (
                               meta['name'], self.name, meta['name']))
        self.lr, self.t = meta['lr'], meta['t']
        n = len(arrays) // 2
        self.moments = [(arrays['m%d' % i].as_in_context(ctx),
                         arrays['v%d' % i].as_in_context(ctx))
                        for i in range(n)] or None
