"""6.5 循环神经网络的简洁实现 — the same model with Gluon's ``rnn.RNN``.

``rnn.RNN(num_hiddens)`` computes the hidden states of all time steps in one
call; :class:`d2l_ch6.RNNModel` adds the one-hot input and the dense output.
Note: the layer's default activation, which the book keeps, is relu, not
the tanh of 6.4's scratch model.
Trained with the shared routine, consecutive sampling, the book's settings.
"""
from mxnet import nd
from mxnet.gluon import rnn

from .core import cli
from .core.models import ModelSpec, gluon_model
from .core.predict import predict
from .core.trainer import BOOK


def layer_shapes(num_hiddens, vocab_size, num_steps, batch_size, ctx):
    """The book's look at the layer: shapes of its output and state."""
    rnn_layer = rnn.RNN(num_hiddens)
    rnn_layer.initialize(ctx=ctx)
    state = rnn_layer.begin_state(batch_size=batch_size, ctx=ctx)
    X = nd.random.uniform(shape=(num_steps, batch_size, vocab_size), ctx=ctx)
    Y, state_new = rnn_layer(X, state)
    return state[0].shape, Y.shape, state_new[0].shape


def main(argv=None):
    args = cli.parser('rnn_gluon', __doc__, BOOK).parse_args(argv)
    ctx, hp, opts, data = cli.start(args)
    corpus_indices, char_to_idx, idx_to_char, vocab_size = data
    state, Y, state_new = layer_shapes(hp.num_hiddens, vocab_size,
                                       hp.num_steps, 2, ctx)
    print('state', state, '-> Y', Y, 'state_new', state_new)

    # the book's RNNModel(rnn.RNN(num_hiddens), vocab_size): relu, the
    # layer's default the book keeps
    model = gluon_model(ModelSpec('gluon', 'rnn', hp.num_hiddens,
                                  activation='relu'), vocab_size, ctx)
    model.block.initialize(force_reinit=True, ctx=ctx)
    print('untrained:', predict(model, hp.prefixes[0], 10, idx_to_char,
                                char_to_idx))
    trainer = cli.train(opts, model, data, hp, ctx)
    cli.plot(opts, {'rnn.RNN': trainer.history}, 'concise RNN (6.5)')
    return trainer


if __name__ == '__main__':
    cli.run(main)
