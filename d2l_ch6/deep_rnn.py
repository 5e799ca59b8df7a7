"""6.9 深度循环神经网络 — L stacked layers, from scratch and num_layers=L.

Layer 1 reads the input and layer l the hidden states of layer l-1::

    H_t^(1) = cell(X_t, H_{t-1}^(1))
    H_t^(l) = cell(H_t^(l-1), H_{t-1}^(l))
    O_t = H_t^(L) W_hq + b_q

with any of the three scratch cells (``--cell rnn|gru|lstm``: 6.4's RNN,
6.7's GRU, 6.8's LSTM) and ``--num-layers`` L (default 2: the book's
exercise, the 6.4 model with two hidden layers, at 6.4's settings). Each
layer has its own parameters and its own state; a layer l > 1 reads inputs
of size h. The concise model is ``rnn.RNN/GRU/LSTM(h, num_layers=L)`` in
``RNNModel``; with its weights copied layer by layer the scratch stack
reproduces it (for the GRU, with the Gluon-form cell of 6.7), for L = 2 and
3, which ``main`` prints. (Gluon's ``rnn.RNN`` defaults to ReLU; here it is
given the scratch cell's tanh, so both sides train the same model.)
"""
from collections import namedtuple
from functools import partial

from mxnet import nd

from .core import cli, flags
from . import gru, lstm, rnn_scratch
from .core.models import (LAYERS, ModelSpec, ScratchModel, output_layer,
                          output_params, rnn_layer, unroll)
from .core.parity import gluon_parity, randomize, scratch_cell_params
from .core.trainer import BOOK

# a scratch cell: its step, its parameters for (num_inputs, num_hiddens,
# ctx), its zero state for (batch_size, num_hiddens, ctx)
Cell = namedtuple('Cell', 'step params init_state')
CELLS = {
    'rnn': Cell(rnn_scratch.rnn_cell, rnn_scratch.cell_params,
                rnn_scratch.init_rnn_state),
    'gru': Cell(gru.gru_cell, gru.cell_params, gru.init_gru_state),
    # Gluon's GRU (reset gate after the product), for parity with rnn.GRU
    'gru-gluon': Cell(gru.gru_cell_gluon, gru.cell_params_gluon,
                      gru.init_gru_state),
    'lstm': Cell(lstm.lstm_cell, lstm.cell_params, lstm.init_lstm_state),
}
# the scratch step that computes what a Gluon layer of this mode computes
GLUON_STEPS = {'rnn_tanh': rnn_scratch.rnn_cell,
               'rnn_relu': partial(rnn_scratch.rnn_cell, activation=nd.relu),
               'gru': gru.gru_cell_gluon, 'lstm': lstm.lstm_cell}


def get_params(vocab_size, num_hiddens, num_layers, ctx, cell='rnn'):
    """Flat list: the cell parameters of layer 1 (inputs of vocab_size),
    of layers 2..L (inputs of num_hiddens), then W_hq, b_q."""
    make = CELLS[cell].params
    params = make(vocab_size, num_hiddens, ctx)
    for _ in range(num_layers - 1):
        params += make(num_hiddens, num_hiddens, ctx)
    return params + output_params(num_hiddens, vocab_size, ctx)


def init_deep_state(batch_size, num_hiddens, ctx, cell='rnn', num_layers=2):
    """Flat tuple of the zero states of layers 1..L ((H,) or (H, C) each).
    """
    init_state = CELLS[cell].init_state
    return tuple(s for _ in range(num_layers)
                 for s in init_state(batch_size, num_hiddens, ctx))


def stack(inputs, state, params, cell, num_layers, layer=unroll):
    """Run ``num_layers`` layers: ``layer(cell, inputs, state, params) ->
    (Hs, state)`` with layer l reading the Hs of layer l-1. ``params`` and
    ``state`` are flat, layer after layer (equal shares each). Returns the
    top layer's Hs and the flat final state."""
    n_p, n_s = len(params) // num_layers, len(state) // num_layers
    new_state = ()
    for l in range(num_layers):
        inputs, s = layer(cell, inputs, state[l * n_s:(l + 1) * n_s],
                          params[l * n_p:(l + 1) * n_p])
        new_state += s
    return inputs, new_state


def deep_rnn(inputs, state, params, cell, num_layers):
    """The deep RNN: ``num_layers`` layers of ``cell`` (a step function),
    then ``O_t = H_t^(L) W_hq + b_q``; returns the outputs (num_steps
    arrays of (batch, vocab)) and the flat final state."""
    W_hq, b_q = params[-2:]
    Hs, state = stack(inputs, state, params[:-2], cell, num_layers)
    return output_layer(Hs, W_hq, b_q), state


def scratch_model(spec, vocab_size, ctx):
    """A fresh scratch deep RNN of ``spec`` (``num_layers`` layers of its
    ``cell``), new parameters, ready to train."""
    cell, L = spec.cell, spec.num_layers
    return ScratchModel(
        partial(deep_rnn, cell=CELLS[cell].step, num_layers=L),
        get_params(vocab_size, spec.num_hiddens, L, ctx, cell),
        partial(init_deep_state, cell=cell, num_layers=L),
        spec.num_hiddens, vocab_size, ctx, spec)


def gluon_gap(cell, num_layers, num_inputs, num_hiddens, num_steps, batch_size,
           ctx, **kwargs):
    """A Gluon ``cell`` layer with ``num_layers`` layers and random weights
    (``kwargs``: more layer options, e.g. ``activation='relu'``) against
    the scratch stack fed its weights: max absolute differences (outputs,
    final state)."""
    layer = rnn_layer(cell, num_hiddens, num_layers=num_layers,
                      input_size=num_inputs, **kwargs)
    layer.initialize(ctx=ctx)
    randomize(layer)
    params = [p for k in range(num_layers)
              for p in scratch_cell_params(layer, k)]
    scratch = partial(stack, params=params,
                      cell=GLUON_STEPS[layer._mode],
                      num_layers=num_layers)
    return gluon_parity(layer, scratch, num_inputs, num_steps, batch_size,
                        ctx)


def main(argv=None):
    p = cli.parser('deep_rnn', __doc__, BOOK, impl=True)
    flags.add(p, '--cell', flags.SECTIONS)
    flags.add(p, '--num-layers', flags.SECTIONS)
    args = p.parse_args(argv)
    ctx, hp, opts, data = cli.start(args)
    h, L = hp.num_hiddens, args.num_layers
    # the concise model: RNNModel(rnn.RNN(h, num_layers=L), vocab_size)
    results = cli.train_impls(
        opts, lambda: scratch_model(ModelSpec('scratch', args.cell, h, L),
                                    data[3], ctx),
        ModelSpec('gluon', args.cell, h, L), data, hp, ctx)
    print('Gluon layers with random weights vs the scratch stack fed their '
          'weights (max |diff| outputs, final state):')
    results['gluon_gap'] = {}
    for cell in sorted(LAYERS):
        for num_layers in (2, 3):
            gap = gluon_gap(cell, num_layers, 10, 8, 6, 3, ctx)
            results['gluon_gap'][cell, num_layers] = gap
            print('  %-4s L=%d  %.2e  %.2e' % ((cell, num_layers) + gap))
    return results


if __name__ == '__main__':
    cli.run(main)
