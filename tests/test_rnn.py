"""6.2 rnn: the concat identity and one step, against numpy and against
gluon.rnn.RNNCell holding the same weights."""
import numpy as np
import pytest
from mxnet import nd
from mxnet.gluon import rnn as grnn

from d2l_ch6 import rnn

PHI = {'tanh': np.tanh, 'relu': lambda a: np.maximum(a, 0)}


def arrays(ctx, *shapes):
    """numpy arrays and the same as NDArrays."""
    xs = [np.random.normal(size=s).astype(np.float32) for s in shapes]
    return xs, [nd.array(x, ctx=ctx) for x in xs]


def test_concat_identity(ctx):
    (X, H, W_xh, W_hh), nds = arrays(ctx, (3, 1), (3, 4), (1, 4), (4, 4))
    two, one = rnn.concat_identity(*nds)
    expected = X @ W_xh + H @ W_hh
    np.testing.assert_allclose(two.asnumpy(), expected, rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(one.asnumpy(), expected, rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize('activation', ['tanh', 'relu'])
def test_step_is_numpy_and_rnn_cell(ctx, activation):
    (X, H, W_xh, W_hh, b_xh, b_hh), nds = arrays(
        ctx, (3, 5), (3, 4), (5, 4), (4, 4), (4,), (4,))
    expected = PHI[activation](X @ W_xh + H @ W_hh + b_xh + b_hh)
    H_new = rnn.rnn_step(nds[0], nds[1], nds[2], nds[3], nds[4] + nds[5],
                         rnn.ACTIVATIONS[activation])
    np.testing.assert_allclose(H_new.asnumpy(), expected, rtol=1e-5,
                               atol=1e-6)
    # Gluon's cell, the weights set here by name: (hiddens, inputs) etc.
    cell = grnn.RNNCell(4, activation=activation, input_size=5)
    cell.initialize(ctx=ctx)
    values = {'i2h_weight': W_xh.T, 'h2h_weight': W_hh.T,
              'i2h_bias': b_xh, 'h2h_bias': b_hh}
    for name, p in cell.collect_params().items():
        p.set_data(nd.array(values[name.split('_', 1)[1]], ctx=ctx))
    out, (H_cell,) = cell(nds[0], [nds[1]])
    np.testing.assert_allclose(H_cell.asnumpy(), expected, rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(out.asnumpy(), expected, rtol=1e-5,
                               atol=1e-6)
    # the module's copy helper builds the same cell
    mine = rnn.rnn_cell(5, 4, *nds[2:], activation, ctx)
    np.testing.assert_allclose(mine(nds[0], [nds[1]])[0].asnumpy(),
                               expected, rtol=1e-5, atol=1e-6)


def test_one_bias_is_not_enough(ctx):
    """Dropping h2h_bias changes the step: both biases count."""
    _, (X, H, W_xh, W_hh, b_xh, b_hh) = arrays(
        ctx, (3, 5), (3, 4), (5, 4), (4, 4), (4,), (4,))
    cell = rnn.rnn_cell(5, 4, W_xh, W_hh, b_xh, nd.zeros_like(b_hh),
                        'tanh', ctx)
    H_new = rnn.rnn_step(X, H, W_xh, W_hh, b_xh + b_hh)
    assert nd.abs(cell(X, [H])[0] - H_new).max().asscalar() > 1e-3


def test_main(capsys):
    result = rnn.main(['--ctx', 'cpu', '--num-inputs', '7',
                       '--batch-size', '2'])
    out = capsys.readouterr().out
    assert out.startswith('6.2 循环神经网络')
    assert result.concat_diff < 1e-5
    assert set(result.cell_diff) == {'tanh', 'relu'}
    assert max(max(d) for d in result.cell_diff.values()) < 1e-4
    assert result.output_shape == (2, 7)
    assert 'relu: max |scratch - RNNCell| one step' in out
