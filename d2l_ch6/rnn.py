"""6.2 循环神经网络 — the hidden state, one time step at a time.

``H_t = phi(X_t W_xh + H_{t-1} W_hh + b_h)`` and ``O_t = H_t W_hq + b_q``.
The book's demonstration: ``X W_xh + H W_hh`` is one product of the
concatenations ``[X, H] [W_xh; W_hh]``. The concise version is Gluon's
``rnn.RNNCell``: with the same weights copied in (transposed, the bias
split in two) it computes the same step, for tanh and for relu.
"""
from dataclasses import dataclass, field

from mxnet import nd
from mxnet.gluon import rnn

from .core import cli, flags
from .core.models import ACTIVATIONS


def rnn_step(X, H, W_xh, W_hh, b_h, phi=nd.tanh):
    """One step: ``H_t = phi(X_t W_xh + H_{t-1} W_hh + b_h)``.

    X: (batch, num_inputs), H: (batch, num_hiddens) -> (batch, num_hiddens).
    """
    return phi(nd.dot(X, W_xh) + nd.dot(H, W_hh) + b_h)


def concat_identity(X, H, W_xh, W_hh):
    """(X W_xh + H W_hh, [X, H] [W_xh; W_hh]): the same (batch, hiddens)
    matrix computed as two products and as one."""
    return (nd.dot(X, W_xh) + nd.dot(H, W_hh),
            nd.dot(nd.concat(X, H, dim=1), nd.concat(W_xh, W_hh, dim=0)))


def rnn_cell(num_inputs, num_hiddens, W_xh, W_hh, b_xh, b_hh,
             activation='tanh', ctx=None):
    """A ``gluon.rnn.RNNCell`` holding the scratch weights.

    Gluon stores ``i2h_weight`` (hiddens, inputs) and ``h2h_weight``
    (hiddens, hiddens), the transposes of the book's W_xh and W_hh, and two
    biases ``i2h_bias`` and ``h2h_bias`` whose sum is the book's b_h.
    """
    cell = rnn.RNNCell(num_hiddens, activation=activation,
                       input_size=num_inputs)
    cell.initialize(ctx=ctx)
    cell.i2h_weight.set_data(W_xh.T)
    cell.h2h_weight.set_data(W_hh.T)
    cell.i2h_bias.set_data(b_xh)
    cell.h2h_bias.set_data(b_hh)
    return cell


@dataclass
class RNNResult:
    """Max absolute differences: the concat identity, and scratch vs
    RNNCell (activation -> (one step, ``unroll`` over num_steps)); the
    output shape (batch, vocab_size)."""
    concat_diff: float = 0.0
    cell_diff: dict = field(default_factory=dict)
    output_shape: tuple = ()


def _max_abs(a, b):
    return nd.abs(a - b).max().asscalar()


def main(argv=None):
    p = cli.parser('rnn', __doc__, train=False, command='6.2')
    for name in ('--batch-size', '--num-hiddens', '--num-steps'):
        flags.add(p, name, '6.2')
    p.add_argument('--num-inputs', type=flags.positive_int, default=5,
                   help='one-hot width = vocabulary size')
    args = p.parse_args(argv)
    ctx = cli.setup(args)
    batch_size, num_inputs, num_hiddens = (args.batch_size, args.num_inputs,
                                           args.num_hiddens)
    result = RNNResult()
    print(__doc__.strip().splitlines()[0])

    # the book's demonstration, with its shapes: X (3, 1), H (3, 4)
    X, W_xh = nd.random.normal(shape=(3, 1)), nd.random.normal(shape=(1, 4))
    H, W_hh = nd.random.normal(shape=(3, 4)), nd.random.normal(shape=(4, 4))
    two, one = concat_identity(X.as_in_context(ctx), H.as_in_context(ctx),
                               W_xh.as_in_context(ctx),
                               W_hh.as_in_context(ctx))
    print('X W_xh + H W_hh =\n%s' % two)
    result.concat_diff = _max_abs(two, one)
    print('max |X W_xh + H W_hh - [X, H] [W_xh; W_hh]| = %.3g'
          % result.concat_diff)

    # scratch step vs rnn.RNNCell with the same weights, over num_steps
    def normal(*shape):
        return nd.random.normal(shape=shape, ctx=ctx)
    W_xh, W_hh = normal(num_inputs, num_hiddens), normal(num_hiddens,
                                                         num_hiddens)
    b_xh, b_hh = normal(num_hiddens), normal(num_hiddens)
    inputs = [normal(batch_size, num_inputs) for _ in range(args.num_steps)]
    H0 = normal(batch_size, num_hiddens)
    for name, phi in ACTIVATIONS.items():
        cell = rnn_cell(num_inputs, num_hiddens, W_xh, W_hh, b_xh, b_hh,
                        name, ctx)
        H = rnn_step(inputs[0], H0, W_xh, W_hh, b_xh + b_hh, phi)
        _, (H_cell,) = cell(inputs[0], [H0])
        step_diff = _max_abs(H, H_cell)
        for X in inputs[1:]:
            H = rnn_step(X, H, W_xh, W_hh, b_xh + b_hh, phi)
        _, (H_unrolled,) = cell.unroll(
            args.num_steps, nd.stack(*inputs), [H0], layout='TNC')
        result.cell_diff[name] = (step_diff, _max_abs(H, H_unrolled))
        print('%s: max |scratch - RNNCell| one step %.3g, after %d steps '
              '(cell.unroll) %.3g' % ((name, step_diff, args.num_steps)
                                      + result.cell_diff[name][1:]))

    # exercise: the output has one score per vocabulary entry
    W_hq, b_q = normal(num_hiddens, num_inputs), normal(num_inputs)
    O = nd.dot(H, W_hq) + b_q
    result.output_shape = O.shape
    print('O = H W_hq + b_q: %s = (batch, vocab_size): to predict the next '
          'token, one output per vocabulary entry' % (O.shape,))
    return result


if __name__ == '__main__':
    cli.run(main)
