"""The chapter's scratch models engineered for speed: what ``bench`` and
``heldout`` train (``zoo.build_model(spec, fast=True)``).

The math is the sections': the RNN of 6.4, the GRU of 6.7 (the book's
form), the LSTM of 6.8, stacked as in 6.9 and in two directions as in
6.10; tests prove outputs and gradients equal to theirs. What differs is
how it is computed, as karpathy/char-rnn computes its cells:

* a cell's gate weights are fused into one matrix, so a step makes one
  product for all its gates instead of one per gate (the GRU makes two:
  its candidate reads R * H);
* the one-hot input product is a row gather (``Embedding``), made for all
  time steps at once before the recurrence; a deeper layer's input product
  is one product over all steps, and so is the output layer;
* every product is ``FullyConnected`` and every sigmoid and tanh is
  ``Activation``, the operators oneDNN runs: on these small shapes 3-5x
  (products) and 5-8x (activations) faster here than ``dot`` and
  ``sigmoid``/``tanh``;
* the whole unrolled network is one ``HybridBlock``, hybridized with
  static memory: mxnet runs a batch's forward and backward graph without
  Python or the imperative engine between its operators. One graph is
  cached per input shape (batch, num_steps), all sharing the parameters.

Its parameters are the fused matrices; ``state_dict`` and
``load_state_dict`` speak the sections' layout, so a checkpoint of either
loads into the other.
"""
from mxnet import autograd, gluon, nd

from .errors import BadInput
from .models import GATES

_PREFIX = 'fast_'


def _tags(spec):
    """[(layer, 'l' | 'r')] in the sections' parameter order: per layer
    the forward cell, then the backward one."""
    return [(l, d) for l in range(spec.num_layers)
            for d in 'lr'[:spec.num_directions]]


def _shapes(spec, vocab_size):
    """{name: shape} of the fused parameters: the ``embed`` table (vocab,
    e) if the model has an embedding; per layer and direction ``W_x`` (the
    gather table (vocab, g*h) of a one-hot first layer, else the input
    product's (g*h, in)), ``W_h`` (g*h, h) and ``b`` (g*h,) of the gates
    read from H (a GRU's candidate has its own ``W_hc``, ``b_c``: it reads
    R * H); then the output layer ``W_hq`` (vocab, D*h), ``b_q``."""
    h, g, D = spec.num_hiddens, len(GATES[spec.cell]), spec.num_directions
    g_h = g - 1 if spec.cell == 'gru' else g  # gates whose product reads H
    shapes = {}
    if spec.embed_size:
        shapes['embed'] = (vocab_size, spec.embed_size)
    for l, d in _tags(spec):
        tag = '%s%d_' % (d, l)
        if l == 0:
            shapes[tag + 'W_x'] = (g * h, spec.embed_size) \
                if spec.embed_size else (vocab_size, g * h)
        else:
            shapes[tag + 'W_x'] = (g * h, D * h)
        shapes[tag + 'W_h'] = (g_h * h, h)
        shapes[tag + 'b'] = (g_h * h,)
        if spec.cell == 'gru':
            shapes[tag + 'W_hc'] = (h, h)
            shapes[tag + 'b_c'] = (h,)
    shapes['W_hq'] = (vocab_size, D * h)
    shapes['b_q'] = (vocab_size,)
    return shapes


def dropout(F, x, p):
    """Inverted dropout: each unit kept with probability 1 - p and scaled
    by 1 / (1 - p), so that evaluation, without dropout, sees the same
    expected values (the graph of evaluation has no such step)."""
    keep = F.random.uniform_like(x) >= p  # 1 with probability 1 - p
    return x * keep / (1 - p)


class Unrolled(gluon.HybridBlock):
    """The network of ``spec`` unrolled over ``num_steps`` steps: inputs
    X (batch, num_steps) and the flat state, outputs (num_steps * batch,
    vocab) (time-major rows, as the sections' models) and the new state.
    ``training`` puts the dropout of ``spec`` in (after the embedding,
    between the layers and before the output layer): the graph of
    training is not the graph of evaluation.
    """

    def __init__(self, spec, vocab_size, num_steps, params=None,
                 training=False):
        super().__init__(prefix=_PREFIX, params=params)
        self.spec, self.vocab_size, self.num_steps = (
            spec, vocab_size, num_steps)
        self.drop = spec.dropout if training else 0.0
        with self.name_scope():
            for name, shape in _shapes(spec, vocab_size).items():
                # registered as attributes: hybrid_forward receives them
                setattr(self, name, self.params.get(name, shape=shape))

    def _inputs(self, F, P, X, below, tag, layer):
        """The input products of all steps at once: (T, batch, g*h)."""
        T, gh = self.num_steps, len(GATES[self.spec.cell]) \
            * self.spec.num_hiddens
        W_x = P[tag + 'W_x']
        if layer == 0 and not self.spec.embed_size:
            # X W_x with one-hot X is the rows of W_x at X
            XW = F.Embedding(F.transpose(X), W_x, input_dim=self.vocab_size,
                             output_dim=gh)  # (T, batch, g*h)
        else:  # below: (T * batch, in), time-major
            XW = F.reshape(F.FullyConnected(below, W_x, no_bias=True,
                                            num_hidden=gh), (T, -1, gh))
        return XW

    def _split(self, F, XW):
        """(T, batch, n) -> T arrays (batch, n)."""
        if self.num_steps == 1:
            return [F.reshape(XW, (-3, -1))]
        return list(F.split(XW, num_outputs=self.num_steps, axis=0,
                            squeeze_axis=True))

    def _direction(self, F, P, XW, state, tag, reverse):
        """One layer in one direction: the hidden states of every step
        (in time order) and the final state."""
        h, cell = self.spec.num_hiddens, self.spec.cell
        g = len(GATES[cell])
        g_h = g - 1 if cell == 'gru' else g  # the gates whose product reads H
        W_h, b = P[tag + 'W_h'], P[tag + 'b']
        if cell == 'gru':  # the candidate's input part apart: it reads R*H
            steps = self._split(F, F.slice_axis(XW, axis=2, begin=0,
                                                end=2 * h))
            cands = self._split(F, F.slice_axis(XW, axis=2, begin=2 * h,
                                                end=3 * h))
        else:
            steps = self._split(F, XW)
        # Activation is oneDNN's: 5-8x faster here than F.sigmoid/F.tanh
        def sigmoid(x):
            return F.Activation(x, act_type='sigmoid')

        def tanh(x):
            return F.Activation(x, act_type='tanh')

        H = state[0]
        C = state[1] if cell == 'lstm' else None
        Hs = [None] * self.num_steps
        order = range(self.num_steps)
        for t in (reversed(order) if reverse else order):
            # every gate at once: one product for all that read H
            Z = steps[t] + F.FullyConnected(H, W_h, b, num_hidden=g_h * h)
            if cell == 'rnn':
                H = F.Activation(Z, act_type=self.spec.activation)
            elif cell == 'gru':  # Z, R; then H~ from R * H
                ZR = sigmoid(Z)
                Zg = F.slice_axis(ZR, axis=1, begin=0, end=h)
                R = F.slice_axis(ZR, axis=1, begin=h, end=2 * h)
                H_tilda = tanh(cands[t] + F.FullyConnected(
                    R * H, P[tag + 'W_hc'], P[tag + 'b_c'],
                    num_hidden=h))
                H = Zg * H + (1 - Zg) * H_tilda
            else:  # LSTM, the book's gate order I, F, O, then C~
                IFO = sigmoid(F.slice_axis(Z, axis=1, begin=0, end=3 * h))
                I, Fg, O = F.split(IFO, num_outputs=3, axis=1)
                C_tilda = tanh(F.slice_axis(Z, axis=1, begin=3 * h,
                                            end=None))
                C = Fg * C + I * C_tilda
                H = O * tanh(C)
            Hs[t] = H
        return Hs, ([H] if C is None else [H, C])

    def _drop(self, F, x):
        return dropout(F, x, self.drop) if self.drop else x

    def hybrid_forward(self, F, X, *state, **P):
        spec = self.spec
        per_cell = 2 if spec.cell == 'lstm' else 1
        new_state, below, k = [], None, 0
        if spec.embed_size:  # the rows of the table: (T * batch, e)
            below = self._drop(F, F.reshape(F.Embedding(
                F.transpose(X), P['embed'], input_dim=self.vocab_size,
                output_dim=spec.embed_size), (-3, -1)))
        for l in range(spec.num_layers):
            directions = []
            for d in 'lr'[:spec.num_directions]:
                tag = '%s%d_' % (d, l)
                XW = self._inputs(F, P, X, below, tag, l)
                Hs, s = self._direction(F, P, XW, state[k:k + per_cell],
                                        tag, reverse=d == 'r')
                directions.append(Hs)
                new_state += s
                k += per_cell
            if len(directions) == 2:  # H_t = [->H_t, <-H_t]
                Hs = [F.concat(a, b, dim=1) for a, b in zip(*directions)]
            else:
                Hs = directions[0]
            # (T * batch, D*h), time-major; dropout between the layers and
            # before the output layer
            below = self._drop(F, F.concat(*Hs, dim=0))
        out = F.FullyConnected(below, P['W_hq'], P['b_q'],
                               num_hidden=self.vocab_size)
        return tuple([out] + new_state)


class FastModel:
    """The fast form of a scratch model of ``spec``, a
    :class:`~d2l_ch6.core.models.Model` as ``models.ScratchModel`` is.
    ``scratch`` (a section's ScratchModel of the same spec) gives the initial
    values: the same seed gives the same run in both forms."""

    def __init__(self, spec, vocab_size, ctx, scratch=None):
        if spec.impl != 'scratch':
            raise BadInput('the fast path is for scratch models, not %s'
                           % spec.describe())
        self.spec, self.vocab_size, self.ctx = spec, vocab_size, ctx
        self.num_hiddens = spec.num_hiddens
        self._blocks = {}
        first = self._block(1, 1)  # owns the parameters the others share
        self.params = first.collect_params()
        self.params.initialize(ctx=ctx)
        if scratch is not None:
            self.load_state_dict(scratch.state_dict())
        else:  # the book's start: weights from N(0, 0.01^2), zero biases
            for name, shape in _shapes(spec, vocab_size).items():
                self.params[_PREFIX + name].set_data(
                    nd.random.normal(scale=0.01, shape=shape, ctx=ctx)
                    if len(shape) == 2 else nd.zeros(shape, ctx=ctx))

    def _block(self, batch_size, num_steps):
        """The hybridized network for inputs (batch_size, num_steps), in
        training (dropout on) or evaluation."""
        training = bool(self.spec.dropout) and autograd.is_training()
        key = (batch_size, num_steps, training)
        if key not in self._blocks:
            block = Unrolled(self.spec, self.vocab_size, num_steps,
                             params=self.params if self._blocks else None,
                             training=training)
            block.hybridize(static_alloc=True, static_shape=True)
            self._blocks[key] = block
        return self._blocks[key]

    def prepare(self, initialize=True):
        """Its parameters were drawn (or loaded) when it was built, and its
        graphs are hybridized as they are made: nothing to do."""
        return self

    def begin_state(self, batch_size):
        """Zeros: per layer, the forward cell's (H,) or (H, C), then the
        backward cell's (the sections' flat state)."""
        n = 2 if self.spec.cell == 'lstm' else 1
        return tuple(nd.zeros((batch_size, self.num_hiddens), ctx=self.ctx)
                     for _ in range(len(_tags(self.spec)) * n))

    def __call__(self, X, state):
        """X: (batch, num_steps) -> outputs (num_steps * batch, vocab)."""
        out = self._block(*X.shape)(X, *state)
        return out[0], tuple(out[1:])

    def step(self, index, state):
        return self(nd.array([[index]], ctx=self.ctx), state)

    def _ordered(self):
        return [self.params[_PREFIX + name]
                for name in _shapes(self.spec, self.vocab_size)]

    def weights(self):
        return [p.data(self.ctx) for p in self._ordered()]

    def grads(self):
        return [p.grad(self.ctx) for p in self._ordered()]

    def state_dict(self):
        """The parameters in the sections' layout: {'0': W_x of the first
        gate, ...}, as ``ScratchModel.state_dict`` names them."""
        fused = dict(zip(_shapes(self.spec, self.vocab_size),
                         self.weights()))
        return {str(i): a for i, a in enumerate(unfuse(self.spec, fused))}

    def load_state_dict(self, arrays):
        """Load arrays in the sections' layout (a scratch checkpoint)."""
        n = num_scratch_params(self.spec)
        if any(str(i) not in arrays for i in range(n)) or len(arrays) != n:
            raise BadInput('the saved parameters belong to another model: '
                           '%s has %d arrays, not %d'
                           % (self.spec.describe(), n, len(arrays)))
        fused = fuse(self.spec, [arrays[str(i)].as_in_context(self.ctx)
                                 for i in range(n)])
        for name, shape in _shapes(self.spec, self.vocab_size).items():
            if tuple(fused[name].shape) != shape:
                raise BadInput('saved parameter %r has shape %s, the model '
                               'needs %s: they belong to another model'
                               % (name, fused[name].shape, shape))
            self.params[_PREFIX + name].set_data(fused[name])


def num_scratch_params(spec):
    """How many arrays the sections' layout of ``spec`` has."""
    return 3 * len(GATES[spec.cell]) * len(_tags(spec)) + 2 \
        + bool(spec.embed_size)


def fuse(spec, params):
    """The sections' flat parameter list -> {fused name: array}. First the
    embedding table (vocab, e) if there is one; then per layer and
    direction each gate brings W_x (in, h), W_h (h, h), b (h,) in the
    book's order; the output layer W_hq (D*h, vocab), b_q comes last."""
    g, h = len(GATES[spec.cell]), spec.num_hiddens
    fused, k = {}, 0
    if spec.embed_size:
        fused['embed'], k = params[0].copy(), 1
    for l, d in _tags(spec):
        tag = '%s%d_' % (d, l)
        gates = [params[k + 3 * j:k + 3 * j + 3] for j in range(g)]
        k += 3 * g
        W_x = nd.concat(*[W for W, _, _ in gates], dim=1)  # (in, g*h)
        W_h = nd.concat(*[W for _, W, _ in gates], dim=1)  # (h, g*h)
        b = nd.concat(*[b for _, _, b in gates], dim=0)
        gathered = l == 0 and not spec.embed_size  # a table, not a product
        fused[tag + 'W_x'] = W_x if gathered else W_x.T
        if spec.cell == 'gru':  # Z, R read H; the candidate reads R * H
            fused[tag + 'W_h'] = W_h[:, :2 * h].T
            fused[tag + 'b'] = b[:2 * h]
            fused[tag + 'W_hc'] = W_h[:, 2 * h:].T
            fused[tag + 'b_c'] = b[2 * h:]
        else:
            fused[tag + 'W_h'] = W_h.T
            fused[tag + 'b'] = b
    W_hq, b_q = params[k:k + 2]
    fused['W_hq'] = W_hq.T
    fused['b_q'] = b_q.copy()
    return fused


def unfuse(spec, fused):
    """The inverse of :func:`fuse`: the sections' flat parameter list."""
    g, h = len(GATES[spec.cell]), spec.num_hiddens
    params = [fused['embed']] if spec.embed_size else []
    for l, d in _tags(spec):
        tag = '%s%d_' % (d, l)
        W_x = fused[tag + 'W_x'] if l == 0 and not spec.embed_size \
            else fused[tag + 'W_x'].T
        if spec.cell == 'gru':
            W_h = nd.concat(fused[tag + 'W_h'].T, fused[tag + 'W_hc'].T,
                            dim=1)
            b = nd.concat(fused[tag + 'b'], fused[tag + 'b_c'], dim=0)
        else:
            W_h, b = fused[tag + 'W_h'].T, fused[tag + 'b']
        for j in range(g):
            cols = slice(j * h, (j + 1) * h)
            params += [W_x[:, cols], W_h[:, cols], b[cols]]
    return params + [fused['W_hq'].T, fused['b_q'].copy()]
