"""6.8 长短期记忆（LSTM） — the LSTM from scratch and as Gluon's rnn.LSTM.

Input, forget and output gates, a candidate memory cell, the cell and the
hidden state::

    I = sigmoid(X W_xi + H W_hi + b_i)
    F = sigmoid(X W_xf + H W_hf + b_f)
    O = sigmoid(X W_xo + H W_ho + b_o)
    C~ = tanh(X W_xc + H W_hc + b_c)
    C = F * C + I * C~
    H = O * tanh(C)

The state is (H, C). Trained with the shared routine (consecutive sampling,
160 epochs, a prediction every 40), then the concise ``rnn.LSTM`` in
``RNNModel``. Unlike the GRU, Gluon's LSTM is the book's: with the weights
of an ``rnn.LSTM`` copied over (gate order i, f, g, o; the two Gluon biases
of a gate summed into the book's one) the scratch cell reproduces the layer,
and ``main`` prints by how little they differ.
"""
from dataclasses import replace
from functools import partial

from mxnet import nd
from mxnet.gluon import rnn

from .core import cli
from .core.models import (ModelSpec, ScratchModel, new_params, output_layer,
                          output_params, unroll)
from .core.parity import gluon_parity, randomize, scratch_cell_params
from .core.trainer import BOOK_GATED


def cell_params(num_inputs, num_hiddens, ctx):
    """[W_xi, W_hi, b_i, W_xf, W_hf, b_f, W_xo, W_ho, b_o, W_xc, W_hc, b_c]
    for inputs of size ``num_inputs`` (the vocabulary, or a layer below)."""
    gate = [(num_inputs, num_hiddens), (num_hiddens, num_hiddens),
            (num_hiddens,)]
    return new_params(gate * 4, ctx)


def get_params(vocab_size, num_hiddens, ctx):
    """The book's LSTM parameters (input, forget, output gates, candidate
    cell, then W_hq, b_q): weights ~ N(0, 0.01^2) drawn in that order, zero
    biases, gradients attached."""
    return (cell_params(vocab_size, num_hiddens, ctx)
            + output_params(num_hiddens, vocab_size, ctx))


def init_lstm_state(batch_size, num_hiddens, ctx):
    """The initial state (H, C): two zero arrays (batch, hiddens)."""
    return (nd.zeros(shape=(batch_size, num_hiddens), ctx=ctx),
            nd.zeros(shape=(batch_size, num_hiddens), ctx=ctx))


def lstm_cell(X, state, params):
    """One LSTM step: X (batch, in), state (H, C); ``params`` starts with
    the 12 cell parameters. Returns (H, C)."""
    (W_xi, W_hi, b_i, W_xf, W_hf, b_f, W_xo, W_ho, b_o,
     W_xc, W_hc, b_c) = params[:12]
    H, C = state
    I = nd.sigmoid(nd.dot(X, W_xi) + nd.dot(H, W_hi) + b_i)
    F = nd.sigmoid(nd.dot(X, W_xf) + nd.dot(H, W_hf) + b_f)
    O = nd.sigmoid(nd.dot(X, W_xo) + nd.dot(H, W_ho) + b_o)
    C_tilda = nd.tanh(nd.dot(X, W_xc) + nd.dot(H, W_hc) + b_c)
    C = F * C + I * C_tilda
    H = O * C.tanh()
    return (H, C)


def lstm(inputs, state, params):
    """The book's ``lstm``: outputs ``O_t = H_t W_hq + b_q`` of every step
    (num_steps arrays of (batch, vocab)) and the final state (H, C)."""
    W_hq, b_q = params[-2:]
    Hs, state = unroll(lstm_cell, inputs, state, params)
    return output_layer(Hs, W_hq, b_q), state


def scratch_model(spec, vocab_size, ctx):
    """A fresh scratch LSTM of ``spec`` (its hidden units), new parameters,
    ready to train."""
    h = spec.num_hiddens
    return ScratchModel(lstm, get_params(vocab_size, h, ctx),
                        init_lstm_state, h, vocab_size, ctx, spec)


def gluon_gap(num_inputs, num_hiddens, num_steps, batch_size, ctx):
    """An ``rnn.LSTM`` with random weights against :func:`lstm_cell` fed its
    weights: max absolute differences (outputs, final (H, C))."""
    layer = rnn.LSTM(num_hiddens, input_size=num_inputs)
    layer.initialize(ctx=ctx)
    randomize(layer)
    scratch = partial(unroll, lstm_cell, params=scratch_cell_params(layer))
    return gluon_parity(layer, scratch, num_inputs, num_steps, batch_size,
                        ctx)


def main(argv=None):
    p = cli.parser('lstm', __doc__, BOOK_GATED, impl=True)
    ctx, hp, opts, data = cli.start(p.parse_args(argv))
    # the book's concise LSTM: RNNModel(rnn.LSTM(num_hiddens), vocab_size)
    spec = ModelSpec('scratch', 'lstm', hp.num_hiddens)
    results = cli.train_impls(
        opts, lambda: scratch_model(spec, data[3], ctx),
        replace(spec, impl='gluon'), data, hp, ctx)
    results['gluon_gap'] = gluon_gap(10, 8, 6, 3, ctx)
    print('rnn.LSTM with random weights vs lstm_cell fed its weights: '
          'max |diff| outputs %.2e, final state %.2e' % results['gluon_gap'])
    return results


if __name__ == '__main__':
    cli.run(main)
