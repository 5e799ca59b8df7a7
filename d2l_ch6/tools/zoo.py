"""The one factory that rebuilds any model of the chapter from its
``ModelSpec``: what ``generate``, ``--resume``, ``bench`` and ``heldout``
use. It sits above the sections, whose scratch cells it builds, so that
nothing below it depends on a section.
"""
from mxnet import init, nd

from .. import bi_rnn, deep_rnn, gru, lstm, rnn_scratch
from ..core import checkpoint
from ..core.errors import D2LError
from ..core.fast import FastModel
from ..core.models import GluonModel, gluon_model


def section_of(spec):
    """The section whose scratch cells build ``spec``: 6.10 for a
    bidirectional model, 6.9 for a deep one, else 6.4, 6.7 or 6.8."""
    if spec.bidirectional:
        return bi_rnn
    if spec.num_layers > 1:
        return deep_rnn
    return {'rnn': rnn_scratch, 'gru': gru, 'lstm': lstm}[spec.cell]


def build_model(spec, vocab_size, ctx, fast=False):
    """A fresh model of ``spec``: a section's ScratchModel with new
    parameters, or a GluonModel around an uninitialised RNNModel (training
    initialises it as the book does); ``fast=True``: the same parameters,
    the same numbers, computed by :mod:`d2l_ch6.core.fast` (scratch) or
    :mod:`d2l_ch6.core.fast_gluon` (Gluon). A
    scratch model with dropout or an embedding is always the fast form:
    the sections' cells are the book's, which has neither."""
    if spec.impl == 'gluon':
        return gluon_model(spec, vocab_size, ctx, fast)
    if spec.regularized:
        return FastModel(spec, vocab_size, ctx)
    scratch = section_of(spec).scratch_model(spec, vocab_size, ctx)
    return FastModel(spec, vocab_size, ctx, scratch) if fast else scratch


def draw_uniform(model):
    """Prepare a fresh ``model`` for training with every weight drawn from
    U(-a, a), a = 1/sqrt(num_hiddens), biases zero: PyTorch's start for
    recurrent layers (it draws the biases too). The book's N(0, 0.01^2) is
    too small for a 2-layer tanh RNN with an embedding: its signal dies on
    the way and it stays at the unigram level."""
    a = model.spec.num_hiddens ** -0.5
    if isinstance(model, GluonModel):  # its shapes are known at 1st call
        return model.prepare(initializer=init.Uniform(a))
    model.load_state_dict({
        name: nd.random.uniform(-a, a, shape=w.shape, ctx=w.context)
        if w.ndim == 2 else nd.zeros(w.shape, ctx=w.context)
        for name, w in model.state_dict().items()})
    return model


def restore(path, ctx, fast=False):
    """(model, checkpoint): the model saved at ``path`` rebuilt on ``ctx``
    with the parameters to use (those of the best held-out perplexity where
    the run had a held-out text; a Gluon model hybridized)."""
    ckpt = checkpoint.load(checkpoint.find(path))
    model = build_model(ckpt.spec, len(ckpt.idx_to_char), ctx, fast)
    try:
        model.load_state_dict(ckpt.best_arrays)
    except D2LError as e:
        raise checkpoint.CheckpointError('%s: %s' % (path, e)) from None
    model.prepare(initialize=False)
    return model, ckpt
