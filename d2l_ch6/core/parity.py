"""Gluon's parameter layout <-> the scratch cells: what lets sections
6.7-6.10 prove their scratch cells equal to Gluon's layers with copied
weights.

A Gluon recurrent layer keeps, for layer k and direction d ('l' forward,
'r' backward), {d}{k}_i2h_weight (g*h, in), {d}{k}_h2h_weight (g*h, h) and
the biases {d}{k}_i2h_bias, {d}{k}_h2h_bias (g*h,), the g gates stacked in
Gluon's order (GRU r, z, n; LSTM i, f, g, o). The scratch cells compute
X W with W (in, h), so every weight block is transposed.

Defined in section 6.7 (the GRU, the first cell with gates).
"""
from mxnet import nd

from .errors import BadInput

GLUON_GATES = {'rnn_tanh': ('h',), 'rnn_relu': ('h',),
               'gru': ('r', 'z', 'n'), 'lstm': ('i', 'f', 'g', 'o')}

# the scratch cells' parameter order, gate by gate
SCRATCH_ORDER = {'rnn_tanh': ('h',), 'rnn_relu': ('h',),
                 'gru': ('z', 'r', 'n'),  # 6.7: update, reset, candidate
                 'lstm': ('i', 'f', 'o', 'g')}  # 6.8: I, F, O, C~


def randomize(block, scale=0.5):
    """Give every parameter of ``block`` (biases too) values drawn from
    U(-scale, scale): the weights "of our own choosing" of a parity check
    (Gluon's own init leaves the biases at zero, which hides bias bugs)."""
    for param in block.collect_params().values():
        param.set_data(nd.random.uniform(-scale, scale, shape=param.shape,
                                         ctx=param.list_ctx()[0]))


def gluon_gates(rnn_layer, layer=0, direction='l'):
    """{gate: (W_x (in, h), W_h (h, h), b_x (h,), b_h (h,))} of one layer
    and direction of an initialised ``rnn.RNN/GRU/LSTM`` (copies)."""
    if getattr(rnn_layer, '_projection_size', None):
        raise BadInput('layers with a projection (LSTMP) are not supported')
    name = '%s%d_' % (direction, layer)
    ctx = rnn_layer.collect_params().list_ctx()[0]
    W_i2h, W_h2h, b_i2h, b_h2h = [
        getattr(rnn_layer, name + part).data(ctx) for part in
        ('i2h_weight', 'h2h_weight', 'i2h_bias', 'h2h_bias')]
    h = rnn_layer._hidden_size
    return {gate: (W_i2h[j * h:(j + 1) * h].T, W_h2h[j * h:(j + 1) * h].T,
                   b_i2h[j * h:(j + 1) * h].copy(),
                   b_h2h[j * h:(j + 1) * h].copy())
            for j, gate in enumerate(GLUON_GATES[rnn_layer._mode])}


def scratch_cell_params(rnn_layer, layer=0, direction='l'):
    """The parameters of one layer and direction of a Gluon recurrent layer
    as the scratch cell of the same kind reads them (the one conversion all
    parity code uses):

    * RNN: ``[W_xh, W_hh, b_h]`` (``rnn_scratch.rnn_cell``);
    * LSTM: ``[W_xi, W_hi, b_i, W_xf, W_hf, b_f, W_xo, W_ho, b_o, W_xc,
      W_hc, b_c]`` (``lstm.lstm_cell``);
    * GRU: ``[W_xz, W_hz, b_z, W_xr, W_hr, b_r, W_xh, W_hh, b_xh, b_hh]``
      (``gru.gru_cell_gluon``): the book's order, but the candidate keeps
      its two biases, because Gluon applies the reset gate to
      ``H W_hh + b_hh`` and not to H.

    Where a gate's two biases only ever appear summed, they are summed into
    the book's single bias."""
    mode = rnn_layer._mode
    gates = gluon_gates(rnn_layer, layer, direction)
    params = []
    for gate in SCRATCH_ORDER[mode]:
        W_x, W_h, b_x, b_h = gates[gate]
        if mode == 'gru' and gate == 'n':
            params += [W_x, W_h, b_x, b_h]
        else:
            params += [W_x, W_h, b_x + b_h]
    return params


def scratch_dense_params(dense):
    """[W_hq (h, vocab), b_q (vocab,)] of a Gluon Dense output layer."""
    ctx = dense.weight.list_ctx()[0]
    return [dense.weight.data(ctx).T, dense.bias.data(ctx).copy()]


def to_scratch_state(state):
    """Gluon's state (a list of (layers * directions, batch, h) arrays) ->
    the scratch flat tuple: layer 1 forward (H[, C]), layer 1 backward, ...
    """
    return tuple(s[i] for i in range(state[0].shape[0]) for s in state)


def to_gluon_state(state, num_arrays):
    """The inverse of :func:`to_scratch_state` (``num_arrays``: 1, or 2 for
    an LSTM's H and C)."""
    return [nd.stack(*state[j::num_arrays]) for j in range(num_arrays)]


def gluon_parity(rnn_layer, scratch, num_inputs, num_steps, batch_size,
                 ctx):
    """Feed random inputs (num_steps, batch, num_inputs) and a random initial
    state to ``rnn_layer`` (with the weights it holds) and to
    ``scratch(inputs, state) -> (Hs, state)`` (``inputs`` a list of
    (batch, in) arrays, ``state`` the flat scratch tuple, e.g. a cell run
    by ``models.unroll``); return the max absolute differences (outputs,
    final state)."""
    X = nd.random.normal(shape=(num_steps, batch_size, num_inputs), ctx=ctx)
    state = [nd.random.normal(shape=s.shape, ctx=ctx)
             for s in rnn_layer.begin_state(batch_size=batch_size, ctx=ctx)]
    Y, new_state = rnn_layer(X, state)
    Hs, scratch_state = scratch([X[t] for t in range(num_steps)],
                                to_scratch_state(state))
    out_diff = nd.abs(nd.stack(*Hs) - Y).max().asscalar()
    scratch_state = to_gluon_state(scratch_state, len(new_state))
    state_diff = max(nd.abs(a - b).max().asscalar()
                     for a, b in zip(scratch_state, new_state))
    return float(out_diff), float(state_diff)
