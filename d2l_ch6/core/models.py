"""The models of chapter 6 as the shared routines see them.

* :class:`ModelSpec`: what builds a model (a checkpoint stores it);
* the scratch parts every section's cells share: fresh parameters
  (:func:`new_params`, :func:`output_params`), the one-hot input
  (:func:`to_onehot`), the one unroll (:func:`unroll`) and the output
  layer (:func:`output_layer`);
* :class:`Model`, what every model the trainer trains does (a
  ``typing.Protocol``): :class:`ScratchModel` (a section's ``rnn(inputs,
  state, params)`` with its parameters), :class:`GluonModel` (a Gluon block
  such as the book's :class:`RNNModel`) and ``fast.FastModel`` implement
  it; :func:`gluon_model` builds the Gluon one of any spec.

Defined in sections 6.4 (the scratch parts) and 6.5 (``RNNModel``).
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Protocol, Sequence, Tuple

from mxnet import gluon, init, nd
from mxnet.gluon import nn, rnn

from .errors import BadInput

ACTIVATIONS = {'tanh': nd.tanh, 'relu': nd.relu}
LAYERS = {'rnn': rnn.RNN, 'gru': rnn.GRU, 'lstm': rnn.LSTM}
# the gates of a scratch cell, in the book's order: three parameters each
# (W_x*, W_h*, b_*), the candidate last (6.7: Z, R, H~; 6.8: I, F, O, C~)
GATES = {'rnn': ('h',), 'gru': ('z', 'r', 'h'), 'lstm': ('i', 'f', 'o', 'c')}


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
    # beyond the book (held-out perplexity): dropout on the hidden states
    # and an embedding instead of the one-hot input; the sections' scratch
    # cells have neither, so a scratch model with them is the fast form
    dropout: float = 0.0
    embed_size: Optional[int] = None

    def __post_init__(self):
        if self.impl not in ('scratch', 'gluon') or self.cell not in LAYERS \
                or self.activation not in ACTIVATIONS:
            raise BadInput('unknown model %r' % (self,))
        if self.num_hiddens < 1 or self.num_layers < 1:
            raise BadInput('num_hiddens and num_layers must be positive')
        if self.impl == 'scratch' and self.activation != 'tanh' and (
                self.num_layers > 1 or self.bidirectional):
            raise BadInput('the scratch deep and bidirectional RNNs use tanh')
        if not 0 <= self.dropout < 1:
            raise BadInput('dropout must be in [0, 1), got %r' % self.dropout)
        if self.embed_size is not None and self.embed_size < 1:
            raise BadInput('embed_size must be positive, got %r'
                           % self.embed_size)

    @property
    def regularized(self):
        """True if it has dropout or an embedding (beyond the book)."""
        return bool(self.dropout) or self.embed_size is not None

    @property
    def num_directions(self):
        return 2 if self.bidirectional else 1

    def describe(self):
        """'scratch gru, 2 layers' / 'rnn.GRU(256) in RNNModel'."""
        extra = ''.join([', embedding %d' % self.embed_size
                         if self.embed_size else '',
                         ', dropout %g' % self.dropout if self.dropout
                         else ''])
        if self.impl == 'scratch':
            return 'scratch %s%s%s%s, %d hiddens%s' % (
                'bidirectional ' if self.bidirectional else '', self.cell,
                '' if self.cell != 'rnn' else ' (%s)' % self.activation,
                '' if self.num_layers == 1 else
                ', %d layers' % self.num_layers, self.num_hiddens, extra)
        args = ['%d' % self.num_hiddens]
        if self.num_layers > 1:
            args.append('num_layers=%d' % self.num_layers)
        if self.bidirectional:
            args.append('bidirectional=True')
        if self.cell == 'rnn':
            args.append("activation='%s'" % self.activation)
        return 'rnn.%s(%s) in RNNModel%s' % (LAYERS[self.cell].__name__,
                                            ', '.join(args), extra)


class Model(Protocol):
    """What the trainer, prediction and checkpoints ask of a model; the
    scratch, fast and Gluon models all do it, so nothing needs to find out
    which kind it holds."""
    spec: Optional[ModelSpec]  # what rebuilds it (None: not rebuildable)
    ctx: object  # the mx.Context it computes on

    def prepare(self, initialize: bool = True) -> 'Model':
        """Ready to train: fresh weights unless ``initialize=False``
        (loaded ones kept), graphs hybridized."""

    def begin_state(self, batch_size: int) -> Sequence[nd.NDArray]:
        """The zero state of a batch."""

    def __call__(self, X: nd.NDArray, state: Sequence[nd.NDArray]
                 ) -> Tuple[nd.NDArray, Sequence[nd.NDArray]]:
        """X: (batch, num_steps) indices -> outputs (num_steps * batch,
        vocab), time-major, and the new state."""

    def step(self, index: int, state: Sequence[nd.NDArray]
             ) -> Tuple[nd.NDArray, Sequence[nd.NDArray]]:
        """One character: outputs (1, vocab) and the new state."""

    def weights(self) -> List[nd.NDArray]:
        """The arrays training updates (looked up anew at every step)."""

    def grads(self) -> List[nd.NDArray]:
        """Their gradients, in the same order."""

    def state_dict(self) -> Dict[str, nd.NDArray]:
        """{name: array}: what a checkpoint saves."""

    def load_state_dict(self, arrays: Dict[str, nd.NDArray]) -> None:
        """Load what :meth:`state_dict` gave (any of the model's forms)."""


# -- the scratch parts --------------------------------------------------------

def new_params(shapes, ctx):
    """Fresh scratch parameters with gradients attached: a weight drawn from
    N(0, 0.01^2) for each 2-d shape, zeros for each 1-d (bias) shape, drawn
    in order (so a seed gives the book's get_params values)."""
    params = [nd.random.normal(scale=0.01, shape=shape, ctx=ctx)
              if len(shape) == 2 else nd.zeros(shape, ctx=ctx)
              for shape in shapes]
    for param in params:
        param.attach_grad()
    return params


def output_params(num_hiddens, num_outputs, ctx):
    """[W_hq (h, num_outputs), b_q (num_outputs,)]: the output layer."""
    return new_params([(num_hiddens, num_outputs), (num_outputs,)], ctx)


def to_onehot(X, size):
    """(batch, num_steps) indices -> num_steps arrays of (batch, size)."""
    return [nd.one_hot(x, size) for x in X.T]


def unroll(cell, inputs, state, params):
    """Run a scratch ``cell(X, state, params) -> state`` over ``inputs``
    (a sequence of (batch, in) arrays); return the hidden states H_t of
    every step (a list of (batch, h); ``state[0]`` is H) and the final
    state. ``cell`` reads its own parameters from the front of
    ``params``."""
    Hs = []
    for X in inputs:
        state = cell(X, state, params)
        Hs.append(state[0])
    return Hs, tuple(state)


def output_layer(Hs, W_hq, b_q):
    """``O_t = H_t W_hq + b_q`` for every step: one (batch, q) array per
    (batch, h) state of ``Hs``."""
    return [nd.dot(H, W_hq) + b_q for H in Hs]


class ScratchModel:
    """A from-scratch :class:`Model`: the book's ``rnn(inputs, state,
    params)``, its parameters and ``init_rnn_state`` bundled, with the
    ``spec`` that rebuilds it (None: not rebuildable, e.g. a book
    routine's model)."""

    def __init__(self, rnn, params, init_rnn_state, num_hiddens, vocab_size,
                 ctx, spec=None):
        self.rnn, self.params = rnn, params
        self.init_rnn_state = init_rnn_state
        self.num_hiddens, self.vocab_size, self.ctx = (
            num_hiddens, vocab_size, ctx)
        self.spec = spec
        for param in params:
            if param.grad is None:
                param.attach_grad()

    def prepare(self, initialize=True):
        """Its parameters were drawn when it was built: nothing to do."""
        return self

    def begin_state(self, batch_size):
        return self.init_rnn_state(batch_size, self.num_hiddens, self.ctx)

    def __call__(self, X, state):
        """X: (batch, num_steps) -> outputs (num_steps * batch, vocab)."""
        outputs, state = self.rnn(to_onehot(X, self.vocab_size), state,
                                  self.params)
        return nd.concat(*outputs, dim=0), state

    def step(self, index, state):
        return self(nd.array([[index]], ctx=self.ctx), state)

    def weights(self):
        """The arrays training updates."""
        return self.params

    def grads(self):
        return [p.grad for p in self.params]

    def state_dict(self):
        """{name: array}: the parameters, named by their position."""
        return {str(i): p for i, p in enumerate(self.params)}

    def load_state_dict(self, arrays):
        """Copy the arrays of :meth:`state_dict` into the parameters."""
        for name, param in self.state_dict().items():
            check_shape(name, param.shape, arrays)
            param[:] = arrays[name].as_in_context(self.ctx)


# -- the concise models -------------------------------------------------------

class RNNModel(gluon.HybridBlock):
    """The book's RNNModel: one-hot inputs -> ``rnn_layer`` -> Dense.

    A HybridBlock (the book's is a Block), so ``hybridize()`` turns the whole
    model into one cached graph. ``rnn_layer`` is ``rnn.RNN``, ``rnn.GRU`` or
    ``rnn.LSTM`` (any ``num_layers``, ``bidirectional`` or not).

    Beyond the book: ``embed_size`` reads the characters through an
    ``nn.Embedding`` instead of one-hot vectors, and ``dropout`` puts an
    ``nn.Dropout`` after the embedding and before the output layer (give
    the layer its own ``dropout=`` for between its layers).
    """

    def __init__(self, rnn_layer, vocab_size, embed_size=None, dropout=0.0,
                 **kwargs):
        super(RNNModel, self).__init__(**kwargs)
        with self.name_scope():
            self.rnn = rnn_layer
            self.vocab_size = vocab_size
            self.embedding = nn.Embedding(vocab_size, embed_size) \
                if embed_size else None
            self.drop = nn.Dropout(dropout) if dropout else None
            self.dense = nn.Dense(vocab_size)

    def hybrid_forward(self, F, inputs, state):
        # inputs: (batch, num_steps) -> X: (num_steps, batch, vocab)
        if self.embedding is None:
            X = F.one_hot(F.transpose(inputs), self.vocab_size)
        else:  # (num_steps, batch, embed_size)
            X = self.embedding(F.transpose(inputs))
            X = self.drop(X) if self.drop is not None else X
        Y, state = self.rnn(X, state)
        # (num_steps, batch, h) -> (num_steps * batch, h): time-major rows
        Y = F.reshape(Y, (-3, -1))
        output = self.dense(self.drop(Y) if self.drop is not None else Y)
        return output, state

    def begin_state(self, *args, **kwargs):
        return self.rnn.begin_state(*args, **kwargs)


def rnn_layer(cell, num_hiddens, num_layers=1, bidirectional=False,
              activation='tanh', **kwargs):
    """``rnn.RNN/GRU/LSTM(num_hiddens, ...)``; an RNN gets ``activation``
    (the scratch cells' tanh unless told; Gluon's own default is relu)."""
    if cell == 'rnn':
        kwargs['activation'] = activation
    return LAYERS[cell](num_hiddens, num_layers=num_layers,
                        bidirectional=bidirectional, **kwargs)


class GluonModel:
    """A :class:`Model` around a Gluon ``block`` with ``begin_state``
    (such as RNNModel), with the ``spec`` that rebuilds it. ``fast=True``
    computes the RNNModel of ``spec`` with the same parameters as
    :mod:`d2l_ch6.core.fast_gluon` does (the same numbers, faster)."""

    def __init__(self, block, ctx, spec=None, fast=False):
        self.block, self.ctx, self.spec = block, ctx, spec
        self.params = block.collect_params()
        self.fast = None
        if fast:
            from .fast_gluon import FastGluon
            self.fast = FastGluon(spec, block.vocab_size, block, ctx)

    def prepare(self, initialize=True, initializer=None):
        """As the book: weights re-initialised from N(0, 0.01^2) (or
        ``initializer``; biases stay zero) unless ``initialize=False``
        (e.g. loaded), and a HybridBlock hybridized into one cached
        graph."""
        if initialize:
            self.block.initialize(ctx=self.ctx, force_reinit=True,
                                  init=initializer or init.Normal(0.01))
        if isinstance(self.block, gluon.HybridBlock):
            self.block.hybridize(static_alloc=True, static_shape=True)
        if self.fast is not None and initialize:  # shapes known: draw now
            self.block(nd.zeros((1, 1), ctx=self.ctx), self.begin_state(1))
        return self

    def begin_state(self, batch_size):
        return self.block.begin_state(batch_size=batch_size, ctx=self.ctx)

    def __call__(self, X, state):
        if self.fast is not None:
            return self.fast(X, state)
        return self.block(X, state)

    def step(self, index, state):
        return self(nd.array([[index]], ctx=self.ctx), state)

    def _trained(self):
        return [p for p in self.params.values() if p.grad_req != 'null']

    def weights(self):
        # looked up at every step: initialize() and loading replace them
        return [p.data(self.ctx) for p in self._trained()]

    def grads(self):
        return [p.grad(self.ctx) for p in self._trained()]

    def _named(self):
        # structural names ('rnn.l0_i2h_weight', 'dense.weight'): the same
        # in every process, unlike the blocks' counter-based prefixes
        return self.block._collect_params_with_prefix()

    def state_dict(self):
        """{name: array} of the parameters, by their place in the block."""
        return {name: p.data(self.ctx) for name, p in self._named().items()}

    def load_state_dict(self, arrays):
        """Load the arrays of :meth:`state_dict` (initialises the block)."""
        for name, param in self._named().items():
            check_shape(name, param.shape, arrays)
            param._load_init(arrays[name], self.ctx)  # as load_parameters


def gluon_model(spec, vocab_size, ctx, fast=False):
    """The concise model of ``spec``: ``RNNModel`` around the Gluon layer
    it names, uninitialised (training initialises it as the book does);
    ``fast=True``: computed in its fast form (the same parameters)."""
    if spec.impl != 'gluon':
        raise BadInput('%s is not a Gluon model' % spec.describe())
    layer = rnn_layer(spec.cell, spec.num_hiddens, spec.num_layers,
                      spec.bidirectional, spec.activation,
                      dropout=spec.dropout)
    return GluonModel(RNNModel(layer, vocab_size, spec.embed_size,
                               spec.dropout), ctx, spec, fast)


def check_shape(name, shape, arrays):
    """BadInput unless ``arrays[name]`` fits ``shape`` (0: not yet known,
    a Gluon parameter waiting for its first input)."""
    if name not in arrays:
        raise BadInput('the saved parameters lack %r: they belong to '
                       'another model' % name)
    saved = tuple(arrays[name].shape)
    if len(saved) != len(shape) or any(
            d and d != s for d, s in zip(shape, saved)):
        raise BadInput('saved parameter %r has shape %s, the model needs %s:'
                       ' they belong to another model'
                       % (name, arrays[name].shape, shape))
