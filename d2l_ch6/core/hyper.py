"""The hyper-parameters of a run (:class:`Hyper`, the book's ``BOOK``
and ``BOOK_GATED``), seeding, and what a model of given sizes needs of the
machine's memory.

Defined in sections 6.4 (``num_hiddens, num_epochs, num_steps, ...``) and
6.7 (the gated models' 160 epochs).
"""
import os
import random
from dataclasses import dataclass
from typing import Optional, Tuple

import mxnet as mx
import numpy as np

from .errors import BadInput
from .optim import OPTIMIZERS


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
