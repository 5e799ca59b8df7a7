"""The concise model of sections 6.5-6.10 (a Gluon recurrent layer with a
dense output layer), and the Gluon-layout helpers that let 6.7-6.10 prove
their scratch cells equal to Gluon's layers with copied weights."""
from dataclasses import dataclass

from mxnet import gluon, nd
from mxnet.gluon import nn, rnn

from .errors import BadInput
from .train import GluonModel


class RNNModel(gluon.HybridBlock):
    """The book's RNNModel: one-hot inputs -> ``rnn_layer`` -> Dense.

    A HybridBlock (the book's is a Block), so ``hybridize()`` turns the whole
    model into one cached graph. ``rnn_layer`` is ``rnn.RNN``, ``rnn.GRU`` or
    ``rnn.LSTM`` (any ``num_layers``, ``bidirectional`` or not).
    """

    def __init__(self, rnn_layer, vocab_size, **kwargs):
        super(RNNModel, self).__init__(**kwargs)
        with self.name_scope():
            self.rnn = rnn_layer
            self.vocab_size = vocab_size
            self.dense = nn.Dense(vocab_size)

    def hybrid_forward(self, F, inputs, state):
        # inputs: (batch, num_steps) -> X: (num_steps, batch, vocab)
        X = F.one_hot(F.transpose(inputs), self.vocab_size)
        Y, state = self.rnn(X, state)
        # (num_steps, batch, h) -> (num_steps * batch, h): time-major rows
        output = self.dense(F.reshape(Y, (-3, -1)))
        return output, state

    def begin_state(self, *args, **kwargs):
        return self.rnn.begin_state(*args, **kwargs)


LAYERS = {'rnn': rnn.RNN, 'gru': rnn.GRU, 'lstm': rnn.LSTM}


@dataclass(frozen=True)
class ModelSpec:
    """What builds a model of this chapter; a checkpoint stores it so that a
    new process can rebuild the model. ``activation`` is that of an 'rnn'
    cell: 'tanh' as in 6.4, or 'relu', Gluon's ``rnn.RNN`` default that
    the book's 6.5 model keeps."""
    impl: str = 'gluon'  # 'scratch' (NDArray cells) or 'gluon' (RNNModel)
    cell: str = 'rnn'  # 'rnn', 'gru' or 'lstm'
    num_hiddens: int = 256
    num_layers: int = 1
    bidirectional: bool = False
    activation: str = 'tanh'

    def __post_init__(self):
        if self.impl not in ('scratch', 'gluon') or self.cell not in LAYERS \
                or self.activation not in ('tanh', 'relu'):
            raise BadInput('unknown model %r' % (self,))
        if self.num_hiddens < 1 or self.num_layers < 1:
            raise BadInput('num_hiddens and num_layers must be positive')
        if self.impl == 'scratch' and self.activation != 'tanh' and (
                self.num_layers > 1 or self.bidirectional):
            raise BadInput('the scratch deep and bidirectional RNNs use tanh')

    def describe(self):
        """'scratch gru, 2 layers' / 'rnn.GRU(256) in RNNModel'."""
        if self.impl == 'scratch':
            return 'scratch %s%s%s%s, %d hiddens' % (
                'bidirectional ' if self.bidirectional else '', self.cell,
                '' if self.cell != 'rnn' else ' (%s)' % self.activation,
                '' if self.num_layers == 1 else
                ', %d layers' % self.num_layers, self.num_hiddens)
        args = ['%d' % self.num_hiddens]
        if self.num_layers > 1:
            args.append('num_layers=%d' % self.num_layers)
        if self.bidirectional:
            args.append('bidirectional=True')
        if self.cell == 'rnn':
            args.append("activation='%s'" % self.activation)
        return 'rnn.%s(%s) in RNNModel' % (LAYERS[self.cell].__name__,
                                          ', '.join(args))


def build_model(spec, vocab_size, ctx, fast=False):
    """A fresh model of ``spec``: a ScratchModel with new parameters, or a
    GluonModel around an uninitialised RNNModel (training initialises it as
    the book does). The model's ``spec`` is set. ``fast=True`` gives a
    ScratchModel the fast path (index inputs: row gathers instead of
    one-hot products, one output product over all steps; the same
    numbers); a Gluon model is always compiled (hybridized) by prepare."""
    if spec.impl == 'scratch':
        from . import bi_rnn, deep_rnn, gru, lstm, rnn_scratch
        h, cell, L = spec.num_hiddens, spec.cell, spec.num_layers
        if spec.bidirectional:
            model = bi_rnn.scratch_model(vocab_size, h, ctx, cell, L)
        elif L > 1:
            model = deep_rnn.scratch_model(vocab_size, h, ctx, cell, L)
        elif cell == 'rnn':
            model = rnn_scratch.scratch_model(vocab_size, h, ctx,
                                              spec.activation)
        else:
            model = {'gru': gru, 'lstm': lstm}[cell].scratch_model(
                vocab_size, h, ctx)
        model.fast = fast
    else:
        kwargs = dict(num_layers=spec.num_layers,
                      bidirectional=spec.bidirectional)
        if spec.cell == 'rnn':
            kwargs['activation'] = spec.activation
        layer = LAYERS[spec.cell](spec.num_hiddens, **kwargs)
        model = GluonModel(RNNModel(layer, vocab_size), ctx)
    model.spec = spec
    return model


# ---------------------------------------------------------------------------
# Gluon layout <-> scratch cells (the parity checks of 6.7-6.10)
#
# A Gluon recurrent layer keeps, for layer k and direction d ('l' forward,
# 'r' backward), {d}{k}_i2h_weight (g*h, in), {d}{k}_h2h_weight (g*h, h) and
# the biases {d}{k}_i2h_bias, {d}{k}_h2h_bias (g*h,), the g gates stacked in
# Gluon's order (GRU r, z, n; LSTM i, f, g, o). The scratch cells compute
# X W with W (in, h), so every weight block is transposed.

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


def run_cell(cell, inputs, state, params):
    """Run a scratch ``cell(X, state, params) -> state`` over ``inputs``
    (a sequence of (batch, in) arrays) as a Gluon layer does: return the
    hidden states H_t of every step (a list of (batch, h)) and the final
    state."""
    Hs = []
    for X in inputs:
        state = cell(X, state, params)
        Hs.append(state[0])
    return Hs, tuple(state)


def gluon_parity(rnn_layer, scratch, num_inputs, num_steps, batch_size,
                 ctx):
    """Feed random inputs (num_steps, batch, num_inputs) and a random initial
    state to ``rnn_layer`` (with the weights it holds) and to
    ``scratch(inputs, state) -> (Hs, state)`` (``inputs`` a list of
    (batch, in) arrays, ``state`` the flat scratch tuple); return the max
    absolute differences (outputs, final state)."""
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
