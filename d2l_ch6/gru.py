"""6.7 门控循环单元（GRU） — the GRU from scratch and as Gluon's rnn.GRU.

The book's GRU, with reset gate R and update gate Z::

    R = sigmoid(X W_xr + H W_hr + b_r)
    Z = sigmoid(X W_xz + H W_hz + b_z)
    H~ = tanh(X W_xh + (R * H) W_hh + b_h)
    H = Z * H + (1 - Z) * H~

trained with the shared routine (consecutive sampling, 160 epochs, a
prediction every 40), then the concise ``rnn.GRU`` in ``RNNModel``.

Gluon's GRU (cuDNN's) is not quite the book's: its candidate is
``tanh(X W_xh + b_xh + R * (H W_hh + b_hh))`` -- the reset gate multiplies
``H W_hh + b_hh`` AFTER the matrix product, and the candidate keeps two
biases. ``gru_cell_gluon`` is that form; fed the weights of an ``rnn.GRU``
it reproduces the layer, while the book's ``gru_cell`` with the same
weights does not, and ``main`` prints how far apart the two are: on random
weights, and as the perplexity of a trained ``rnn.GRU`` run in each form
(the weights a Gluon GRU learns are useless in the book's form).

The exercises (ideal gate values, tuning, GRU vs RNN time) are runs of
:mod:`d2l_ch6.exercises.gru`.
"""
from dataclasses import replace
from functools import partial

from mxnet import nd
from mxnet.gluon import rnn

from .core import cli
from .core.models import (GluonModel, ModelSpec, ScratchModel, new_params,
                          output_layer, output_params, unroll)
from .core.parity import (gluon_parity, randomize, scratch_cell_params,
                          scratch_dense_params)
from .core.trainer import BOOK_GATED, evaluate_perplexity


def _three(num_inputs, num_hiddens):
    """The shapes of one gate: W_x (in, h), W_h (h, h), b (h,)."""
    return [(num_inputs, num_hiddens), (num_hiddens, num_hiddens),
            (num_hiddens,)]


def cell_params(num_inputs, num_hiddens, ctx):
    """[W_xz, W_hz, b_z, W_xr, W_hr, b_r, W_xh, W_hh, b_h] for inputs of
    size ``num_inputs`` (the vocabulary, or the layer below in 6.9)."""
    return new_params(_three(num_inputs, num_hiddens) * 3, ctx)


def get_params(vocab_size, num_hiddens, ctx):
    """The book's GRU parameters [W_xz, W_hz, b_z, W_xr, W_hr, b_r, W_xh,
    W_hh, b_h, W_hq, b_q]: weights ~ N(0, 0.01^2) drawn in that order, zero
    biases, gradients attached."""
    return (cell_params(vocab_size, num_hiddens, ctx)
            + output_params(num_hiddens, vocab_size, ctx))


def init_gru_state(batch_size, num_hiddens, ctx):
    """The initial state: a tuple holding zeros H (batch, hiddens)."""
    return (nd.zeros(shape=(batch_size, num_hiddens), ctx=ctx), )


def gru_cell(X, state, params):
    """One step of the book's GRU: X (batch, in), state (H,); ``params``
    starts with the 9 cell parameters. Returns (H,)."""
    W_xz, W_hz, b_z, W_xr, W_hr, b_r, W_xh, W_hh, b_h = params[:9]
    H, = state
    Z = nd.sigmoid(nd.dot(X, W_xz) + nd.dot(H, W_hz) + b_z)
    R = nd.sigmoid(nd.dot(X, W_xr) + nd.dot(H, W_hr) + b_r)
    H_tilda = nd.tanh(nd.dot(X, W_xh) + nd.dot(R * H, W_hh) + b_h)
    return (Z * H + (1 - Z) * H_tilda, )


def gru(inputs, state, params):
    """The book's ``gru``: outputs ``O_t = H_t W_hq + b_q`` of every step
    (num_steps arrays of (batch, vocab)) and the final state."""
    W_hq, b_q = params[-2:]
    Hs, state = unroll(gru_cell, inputs, state, params)
    return output_layer(Hs, W_hq, b_q), state


def scratch_model(spec, vocab_size, ctx):
    """A fresh scratch GRU of ``spec`` (its hidden units), new parameters,
    ready to train."""
    h = spec.num_hiddens
    return ScratchModel(gru, get_params(vocab_size, h, ctx), init_gru_state, h,
                        vocab_size, ctx, spec)


# -- Gluon's form ------------------------------------------------------------

def cell_params_gluon(num_inputs, num_hiddens, ctx):
    """Parameters of :func:`gru_cell_gluon`: the book's nine plus a second
    candidate bias b_hh."""
    return new_params(_three(num_inputs, num_hiddens) * 3 + [(num_hiddens,)],
                      ctx)


def gru_cell_gluon(X, state, params):
    """One GRU step in Gluon's (cuDNN's) form: the reset gate applies to
    ``H W_hh + b_hh``. ``params`` starts with [W_xz, W_hz, b_z, W_xr, W_hr,
    b_r, W_xh, W_hh, b_xh, b_hh] (``parity.scratch_cell_params``)."""
    W_xz, W_hz, b_z, W_xr, W_hr, b_r, W_xh, W_hh, b_xh, b_hh = params[:10]
    H, = state
    Z = nd.sigmoid(nd.dot(X, W_xz) + nd.dot(H, W_hz) + b_z)
    R = nd.sigmoid(nd.dot(X, W_xr) + nd.dot(H, W_hr) + b_r)
    H_tilda = nd.tanh(nd.dot(X, W_xh) + b_xh + R * (nd.dot(H, W_hh) + b_hh))
    return (Z * H + (1 - Z) * H_tilda, )


def gru_gluon(inputs, state, params):
    """``gru`` with :func:`gru_cell_gluon`: what a trained ``rnn.GRU`` in
    ``RNNModel`` computes, from its weights."""
    W_hq, b_q = params[-2:]
    Hs, state = unroll(gru_cell_gluon, inputs, state, params)
    return output_layer(Hs, W_hq, b_q), state


def to_book_form(params):
    """Gluon-form parameters -> the book's: the candidate's two biases
    summed into one (the rest, output layer included, unchanged)."""
    return list(params[:8]) + [params[8] + params[9]] + list(params[10:])


def form_gap(num_inputs, num_hiddens, num_steps, batch_size, ctx):
    """An ``rnn.GRU`` with random weights against the scratch cells fed its
    weights: {'gluon form': (out, state), 'book form': (out, state)}, the
    max absolute differences on the same random inputs and state."""
    layer = rnn.GRU(num_hiddens, input_size=num_inputs)
    layer.initialize(ctx=ctx)
    randomize(layer)
    params = scratch_cell_params(layer)
    gaps = {}
    for form, cell, p in [('gluon form', gru_cell_gluon, params),
                          ('book form', gru_cell, to_book_form(params))]:
        gaps[form] = gluon_parity(
            layer, partial(unroll, cell, params=p), num_inputs,
            num_steps, batch_size, ctx)
    return gaps


def trained_gap(block, corpus_indices, num_steps, ctx):
    """The trained concise GRU (an RNNModel ``block``) run as itself and, with
    the same weights, as the book's GRU: (Gluon's perplexity, Gluon-form
    scratch perplexity, book-form scratch perplexity) on ``corpus_indices``."""
    vocab_size, num_hiddens = block.vocab_size, block.rnn._hidden_size
    params = scratch_cell_params(block.rnn) + scratch_dense_params(
        block.dense)

    def as_scratch(rnn, p):
        return ScratchModel(rnn, p, init_gru_state, num_hiddens, vocab_size,
                            ctx)

    models = [GluonModel(block, ctx), as_scratch(gru_gluon, params),
              as_scratch(gru, to_book_form(params))]
    return tuple(evaluate_perplexity(m, corpus_indices, num_steps, ctx)
                 for m in models)


def main(argv=None):
    p = cli.parser('gru', __doc__, BOOK_GATED, impl=True)
    ctx, hp, opts, data = cli.start(p.parse_args(argv))
    # the book's concise GRU: RNNModel(rnn.GRU(num_hiddens), vocab_size)
    spec = ModelSpec('scratch', 'gru', hp.num_hiddens)
    results = cli.train_impls(
        opts, lambda: scratch_model(spec, data[3], ctx),
        replace(spec, impl='gluon'), data, hp, ctx)

    gaps = form_gap(10, 8, 6, 3, ctx)
    print('rnn.GRU with random weights vs the scratch cells fed its '
          'weights (max |diff|):')
    for form, (out, state) in gaps.items():
        print('  %-10s outputs %.2e, final state %.2e' % (form, out, state))
    results['form_gap'] = gaps
    if 'gluon' in results and opts.embed_size:
        print('trained rnn.GRU in the book\'s form: not compared, since the '
              'scratch cells read one-hot inputs and --embed-size gives the '
              'model an embedding')
    elif 'gluon' in results:
        ppl = trained_gap(results['gluon'].model.block, data[0][:2000],
                          hp.num_steps, ctx)
        print('trained rnn.GRU, perplexity on the first 2000 characters: '
              'Gluon %.3f, scratch Gluon form %.3f, scratch book form %.3f'
              % ppl)
        results['trained_gap'] = ppl
    return results


if __name__ == '__main__':
    cli.run(main)
