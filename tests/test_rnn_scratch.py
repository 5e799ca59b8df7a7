"""6.4 rnn_scratch: parameters, the step and the unrolled model against
Gluon with copied weights, and short runs of main for every choice."""
import re

import numpy as np
import pytest
from mxnet import nd
from mxnet.gluon import rnn as grnn

from d2l_ch6 import rnn_scratch
from d2l_ch6.core.models import to_onehot

SHORT = ['--epochs', '2', '--num-hiddens', '32', '--ctx', 'cpu']


def test_get_params(ctx):
    params = rnn_scratch.get_params(50, 64, ctx)
    assert [p.shape for p in params] == [(50, 64), (64, 64), (64,),
                                         (64, 50), (50,)]
    for p in params:
        assert p.grad is not None
    for W in (params[0], params[1], params[3]):
        assert abs(W.asnumpy().std() - 0.01) < 0.001
    assert not params[2].asnumpy().any() and not params[4].asnumpy().any()
    state, = rnn_scratch.init_rnn_state(3, 64, ctx)
    assert state.shape == (3, 64) and not state.asnumpy().any()


@pytest.mark.parametrize('activation', ['tanh', 'relu'])
def test_model_is_gluon_with_copied_weights(ctx, activation):
    """rnn() over 4 steps = rnn.RNN (weights transposed, bias in
    i2h_bias, h2h_bias zero) followed by a dense layer, in numpy."""
    vocab_size, num_hiddens, batch_size = 7, 5, 3
    params = [nd.random.normal(shape=p.shape, ctx=ctx)
              for p in rnn_scratch.get_params(vocab_size, num_hiddens, ctx)]
    W_xh, W_hh, b_h, W_hq, b_q = params
    layer = grnn.RNN(num_hiddens, activation=activation,
                     input_size=vocab_size)
    layer.initialize(ctx=ctx)
    values = {'l0_i2h_weight': W_xh.T, 'l0_h2h_weight': W_hh.T,
              'l0_i2h_bias': b_h, 'l0_h2h_bias': nd.zeros_like(b_h)}
    for name, p in layer.collect_params().items():
        p.set_data(values[name.split('_', 1)[1]])
    X = nd.array(np.random.randint(0, vocab_size, (batch_size, 4)), ctx=ctx)
    H0 = nd.random.normal(shape=(batch_size, num_hiddens), ctx=ctx)
    outputs, (H,) = rnn_scratch.rnn(
        to_onehot(X, vocab_size), (H0,), params,
        rnn_scratch.ACTIVATIONS[activation])
    Y, (H_layer,) = layer(nd.one_hot(X.T, vocab_size), [H0.expand_dims(0)])
    expected = Y.asnumpy() @ W_hq.asnumpy() + b_q.asnumpy()
    for t in range(4):
        np.testing.assert_allclose(outputs[t].asnumpy(), expected[t],
                                   rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(H.asnumpy(), H_layer[0].asnumpy(),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('sampling, keys', [
    ('random', ['random']), ('consecutive', ['consecutive'])])
def test_main_short_run(capsys, sampling, keys):
    histories = {k: t.history for k, t in rnn_scratch.main(
        SHORT + ['--sampling', sampling, '--pred-period', '1',
                 '--pred-len', '4']).items()}
    out = capsys.readouterr().out
    assert list(histories) == keys
    history = histories[sampling]
    assert history.epochs == [1, 2]
    assert history.perplexity[1] < history.perplexity[0]
    assert len(re.findall(r'^epoch \d, perplexity [\d.]+, time [\d.]+ sec$',
                          out, re.M)) == 2
    assert len(re.findall(r'^ - 不分开.{4}$', out, re.M)) == 2
    assert set(history.predictions) == {'分开', '不分开'}


def test_main_both_relu(capsys):
    histories = {k: t.history for k, t in rnn_scratch.main(
        SHORT + ['--activation', 'relu']).items()}
    out = capsys.readouterr().out
    assert list(histories) == ['random', 'consecutive']  # the book's order
    assert 'random sampling, scratch rnn (relu)' in out.splitlines()[0]
    for history in histories.values():
        assert history.perplexity[1] < history.perplexity[0]


def test_bad_choice():
    with pytest.raises(SystemExit):
        rnn_scratch.main(SHORT + ['--activation', 'sigmoid'])
