"""The concise models engineered for speed: the same ``RNNModel`` around
``rnn.RNN/GRU/LSTM`` (its very parameters, nothing copied), computed as
:mod:`d2l_ch6.core.fast` computes the scratch models. Tests prove outputs,
states and the gradients of every parameter equal to the block's own.

Where the time goes in the block and what is done here instead:

* the one-hot input times ``l0_i2h_weight``: the block builds a (T, batch,
  vocab) one-hot array and multiplies it, forward and backward (and the
  fused ``RNN`` operator also computes the gradient of that input, which
  no one needs); here the rows of the weight are gathered for all time
  steps at once (``Embedding`` over its transpose), 1/vocab of the work;
* a step is one product of H with all the gates' ``h2h_weight`` (the GRU
  too: Gluon's candidate applies the reset gate after the product, so its
  three gates read H alike), every sigmoid and tanh oneDNN's
  ``Activation``;
* the unrolled network is one ``HybridBlock`` per input shape, hybridized
  with static memory, the parameters its inputs.

The sections train the book's ``RNNModel`` as the book does; ``bench``,
``heldout`` and ``train`` take this form (``gluon_model(..., fast=True)``).
"""
from mxnet import autograd, gluon

# Gluon's gates, rows of i2h_weight/h2h_weight in this order (models.py,
# which builds this form, has the book's order)
GATES = {'rnn': ('h',), 'gru': ('r', 'z', 'n'), 'lstm': ('i', 'f', 'g', 'o')}


def param_names(spec):
    """The block's parameters this form reads, by their structural names
    ('rnn.l0_i2h_weight', 'dense.weight'), in the order it takes them."""
    names = ['embedding.weight'] if spec.embed_size else []
    for l in range(spec.num_layers):
        for d in 'lr'[:spec.num_directions]:
            names += ['rnn.%s%d_%s' % (d, l, k) for k in (
                'i2h_weight', 'h2h_weight', 'i2h_bias', 'h2h_bias')]
    return names + ['dense.weight', 'dense.bias']


class GluonUnrolled(gluon.HybridBlock):
    """``RNNModel(rnn.X(...))`` of ``spec`` unrolled over ``num_steps``:
    inputs X (batch, num_steps), the state as the layer's ``begin_state``
    gives it ((L*D, batch, h) arrays: H, and C for an LSTM) and the
    parameters of :func:`param_names`; outputs (num_steps * batch, vocab)
    (time-major) and the new state. ``training`` puts the dropout of
    ``spec`` where the block has it (after the embedding, between the
    layers, before the output layer)."""

    def __init__(self, spec, vocab_size, num_steps, training=False):
        super().__init__()
        self.spec, self.vocab_size, self.num_steps = (spec, vocab_size,
                                                      num_steps)
        self.drop = spec.dropout if training else 0.0
        self.names = param_names(spec)

    def _drop(self, F, x):
        if not self.drop:
            return x
        return F.Dropout(x, p=self.drop, mode='always')

    def _steps(self, F, XW):
        """(T, batch, n) -> T arrays (batch, n)."""
        if self.num_steps == 1:
            return [F.reshape(XW, (-3, -1))]
        return list(F.split(XW, num_outputs=self.num_steps, axis=0,
                            squeeze_axis=True))

    def _direction(self, F, XW, H, C, W_h, b_h, reverse):
        """One layer in one direction: every step's H, the final state."""
        spec, h = self.spec, self.spec.num_hiddens
        g = len(GATES[spec.cell])
        steps = self._steps(F, XW)
        Hs = [None] * self.num_steps
        order = range(self.num_steps)
        for t in (reversed(order) if reverse else order):
            # every gate's product with H at once
            Z = F.FullyConnected(H, W_h, b_h, num_hidden=g * h)
            if spec.cell == 'rnn':
                act = 'relu' if spec.activation == 'relu' else 'tanh'
                H = F.Activation(steps[t] + Z, act_type=act)
            elif spec.cell == 'lstm':  # i, f, g, o
                IFGO = steps[t] + Z
                I, Fg, G, O = F.split(IFGO, num_outputs=4, axis=1)
                C = F.Activation(Fg, act_type='sigmoid') * C + F.Activation(
                    I, act_type='sigmoid') * F.Activation(G, act_type='tanh')
                H = F.Activation(O, act_type='sigmoid') * F.Activation(
                    C, act_type='tanh')
            else:  # r, z, n; the reset gate after the product (Gluon's)
                xr, xz, xn = F.split(steps[t], num_outputs=3, axis=1)
                hr, hz, hn = F.split(Z, num_outputs=3, axis=1)
                R = F.Activation(xr + hr, act_type='sigmoid')
                Zg = F.Activation(xz + hz, act_type='sigmoid')
                N = F.Activation(xn + R * hn, act_type='tanh')
                H = (1 - Zg) * N + Zg * H
            Hs[t] = H
        return Hs, H, C

    def hybrid_forward(self, F, X, *args):
        spec, h, T = self.spec, self.spec.num_hiddens, self.num_steps
        g, D = len(GATES[spec.cell]), spec.num_directions
        lstm = spec.cell == 'lstm'
        n_state = 2 if lstm else 1
        H0, C0 = args[0], args[1] if lstm else None
        P = dict(zip(self.names, args[n_state:]))
        below = None
        if spec.embed_size:  # (T * batch, e), time-major
            below = self._drop(F, F.reshape(F.Embedding(
                F.transpose(X), P['embedding.weight'],
                input_dim=self.vocab_size, output_dim=spec.embed_size),
                (-3, -1)))
        Hn, Cn, k = [], [], 0
        for l in range(spec.num_layers):
            outs = []
            for d in 'lr'[:D]:
                tag = 'rnn.%s%d_' % (d, l)
                W_x, b_x = P[tag + 'i2h_weight'], P[tag + 'i2h_bias']
                if below is None:  # one-hot input: the weight's rows
                    XW = F.broadcast_add(F.Embedding(
                        F.transpose(X), F.transpose(W_x),
                        input_dim=self.vocab_size, output_dim=g * h), b_x)
                else:
                    XW = F.reshape(F.FullyConnected(
                        below, W_x, b_x, num_hidden=g * h), (T, -1, g * h))
                H = F.reshape(F.slice_axis(H0, axis=0, begin=k, end=k + 1),
                              (-3, -2))
                C = F.reshape(F.slice_axis(C0, axis=0, begin=k, end=k + 1),
                              (-3, -2)) if lstm else None
                Hs, H, C = self._direction(F, XW, H, C, P[tag + 'h2h_weight'],
                                           P[tag + 'h2h_bias'], d == 'r')
                outs.append(Hs)
                Hn.append(H)
                Cn.append(C)
                k += 1
            if D == 2:
                Hs = [F.concat(a, b, dim=1) for a, b in zip(*outs)]
            else:
                Hs = outs[0]
            below = F.concat(*Hs, dim=0)  # (T * batch, D*h)
            if l < spec.num_layers - 1:  # the layer's dropout
                below = self._drop(F, below)
        below = self._drop(F, below)  # RNNModel's, before the output
        out = F.FullyConnected(below, P['dense.weight'], P['dense.bias'],
                               num_hidden=self.vocab_size)
        state = [F.stack(*Hn, axis=0)]
        if lstm:
            state.append(F.stack(*Cn, axis=0))
        return tuple([out] + state)


class FastGluon:
    """The graphs of one Gluon model: one hybridized :class:`GluonUnrolled`
    per input shape (and training or not), fed the block's parameters."""

    def __init__(self, spec, vocab_size, block, ctx):
        self.spec, self.vocab_size, self.ctx = spec, vocab_size, ctx
        self.names = param_names(spec)
        self.params = [getattr(block, part)._reg_params[name] for part, name
                       in (n.split('.') for n in self.names)]
        self._blocks = {}

    def __call__(self, X, state):
        training = bool(self.spec.dropout) and autograd.is_training()
        key = tuple(X.shape) + (training,)
        if key not in self._blocks:
            block = GluonUnrolled(self.spec, self.vocab_size, X.shape[1],
                                  training)
            block.hybridize(static_alloc=True, static_shape=True)
            self._blocks[key] = block
        out = self._blocks[key](X, *state, *[p.data(self.ctx)
                                              for p in self.params])
        return out[0], list(out[1:])
