"""6.4 循环神经网络的从零开始实现 — a character-level RNN built from NDArrays.

``H_t = tanh(X_t W_xh + H_{t-1} W_hh + b_h)``, ``O_t = H_t W_hq + b_q``,
trained on the Jay Chou lyrics with the shared routine, first with random
then with consecutive sampling (the book's order and settings).
``--activation relu`` is the section's last exercise.
"""
from functools import partial

from mxnet import nd

from .core import cli
from .core.models import (ACTIVATIONS, ModelSpec, ScratchModel, new_params,
                          output_layer, output_params, unroll)
from .core.trainer import BOOK


def cell_params(num_inputs, num_hiddens, ctx):
    """[W_xh (num_inputs, h), W_hh (h, h), b_h (h,)]: the cell alone, for
    any input size (a deep layer reads the layer below, 6.9)."""
    return new_params([(num_inputs, num_hiddens), (num_hiddens, num_hiddens),
                       (num_hiddens,)], ctx)


def get_params(vocab_size, num_hiddens, ctx):
    """[W_xh, W_hh, b_h, W_hq, b_q]: weights ~ N(0, 0.01^2), zero biases,
    gradients attached, drawn in the book's order. (The book's
    ``get_params()`` reads its arguments from globals.)"""
    return (cell_params(vocab_size, num_hiddens, ctx)
            + output_params(num_hiddens, vocab_size, ctx))


def init_rnn_state(batch_size, num_hiddens, ctx):
    """The initial hidden state: a tuple holding zeros (batch, hiddens)."""
    return (nd.zeros(shape=(batch_size, num_hiddens), ctx=ctx), )


def rnn_cell(X, state, params, activation=nd.tanh):
    """One time step: ``H = phi(X W_xh + H W_hh + b_h)``.

    X: (batch, num_inputs); state: (H,) with H (batch, hiddens); ``params``
    starts with W_xh, W_hh, b_h. Returns the new state (H,).
    """
    W_xh, W_hh, b_h = params[:3]
    H, = state
    return (activation(nd.dot(X, W_xh) + nd.dot(H, W_hh) + b_h), )


def rnn(inputs, state, params, activation=nd.tanh):
    """The book's ``rnn``: run the cell over ``inputs`` (num_steps arrays of
    (batch, vocab)) and return the outputs ``O_t = H_t W_hq + b_q`` and the
    final state."""
    W_hq, b_q = params[-2:]
    Hs, state = unroll(partial(rnn_cell, activation=activation), inputs,
                       state, params)
    return output_layer(Hs, W_hq, b_q), state


def scratch_model(spec, vocab_size, ctx):
    """A fresh scratch RNN of ``spec`` (its hidden units and activation),
    new parameters, ready to train. Every section that has scratch cells
    has this function: ``tools.zoo.build_model`` picks the section."""
    step = partial(rnn, activation=ACTIVATIONS[spec.activation])
    return ScratchModel(step, get_params(vocab_size, spec.num_hiddens, ctx),
                        init_rnn_state, spec.num_hiddens, vocab_size, ctx,
                        spec)


def main(argv=None):
    p = cli.parser('rnn_scratch', __doc__, BOOK)
    p.add_argument('--sampling', choices=['random', 'consecutive', 'both'],
                   default='both', help='the book runs both, random first')
    p.add_argument('--activation', choices=sorted(ACTIVATIONS),
                   default='tanh')
    args = p.parse_args(argv)
    ctx, hp, opts, data = cli.start(args)
    samplings = ['random', 'consecutive'] if args.sampling == 'both' \
        else [args.sampling]
    spec = ModelSpec('scratch', 'rnn', hp.num_hiddens,
                     activation=args.activation)
    trainers = {}
    for sampling in samplings:
        model = scratch_model(spec, data[3], ctx)
        print('%s sampling, %s (%s)' % (sampling, spec.describe(), ctx))
        trainers[sampling] = cli.train(
            opts, model, data, hp, ctx,
            name=sampling if len(samplings) > 1 else None,
            is_random_iter=sampling == 'random')
    cli.plot(opts, {s: t.history for s, t in trainers.items()},
             'scratch RNN: random vs consecutive sampling')
    return trainers


if __name__ == '__main__':
    cli.run(main)
