"""6.8 LSTM: the cell against numpy and against rnn.LSTM with copied
weights, the training routine against d2lzh, main."""
import re

import numpy as np
import pytest
from mxnet import nd
from mxnet.gluon import rnn

import d2l_ch6 as d2l
from d2l_ch6.core.trainer import seed_all
from d2l_ch6 import lstm
from d2l_ch6.core.models import RNNModel, unroll
from d2l_ch6.core.parity import (randomize, scratch_cell_params,
                                 scratch_dense_params)

from test_gru import SHAPES, _d2lzh_perplexities, sigmoid


def test_get_params_book_order_and_seeded_values(ctx):
    params = lstm.get_params(11, 6, ctx)
    assert [p.shape for p in params] == [
        (11, 6), (6, 6), (6,)] * 4 + [(6, 11), (11,)]
    seed_all(0)
    params = lstm.get_params(11, 6, ctx)
    seed_all(0)
    # the book's draws: W_xi, W_hi, W_xf, W_hf, W_xo, W_ho, W_xc, W_hc, W_hq
    draws = [nd.random.normal(scale=0.01, shape=s, ctx=ctx).asnumpy()
             for s in [(11, 6), (6, 6)] * 4 + [(6, 11)]]
    for i, d in zip((0, 1, 3, 4, 6, 7, 9, 10, 12), draws):
        np.testing.assert_array_equal(params[i].asnumpy(), d)
    for i in (2, 5, 8, 11, 13):
        assert not params[i].asnumpy().any()


@pytest.mark.parametrize('batch_size', [1, 3])
def test_cell_matches_numpy(batch_size, ctx):
    num_inputs, h = 5, 4
    params = [nd.random.uniform(-1, 1, shape=p.shape, ctx=ctx)
              for p in lstm.cell_params(num_inputs, h, ctx)]
    X = nd.random.normal(shape=(batch_size, num_inputs), ctx=ctx)
    H = nd.random.normal(shape=(batch_size, h), ctx=ctx)
    C = nd.random.normal(shape=(batch_size, h), ctx=ctx)
    H_new, C_new = lstm.lstm_cell(X, (H, C), params)
    (W_xi, W_hi, b_i, W_xf, W_hf, b_f, W_xo, W_ho, b_o,
     W_xc, W_hc, b_c) = [p.asnumpy() for p in params]
    x, s, c = X.asnumpy(), H.asnumpy(), C.asnumpy()
    I = sigmoid(x @ W_xi + s @ W_hi + b_i)
    F = sigmoid(x @ W_xf + s @ W_hf + b_f)
    O = sigmoid(x @ W_xo + s @ W_ho + b_o)
    c = F * c + I * np.tanh(x @ W_xc + s @ W_hc + b_c)
    np.testing.assert_allclose(C_new.asnumpy(), c, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(H_new.asnumpy(), O * np.tanh(c), rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize('num_inputs, num_hiddens, num_steps, batch_size',
                         SHAPES)
def test_equals_rnn_lstm(num_inputs, num_hiddens, num_steps, batch_size,
                         ctx):
    layer = rnn.LSTM(num_hiddens, input_size=num_inputs)
    layer.initialize(ctx=ctx)
    randomize(layer)
    X = nd.random.normal(shape=(num_steps, batch_size, num_inputs), ctx=ctx)
    H0, C0 = [nd.random.normal(shape=(1, batch_size, num_hiddens), ctx=ctx)
              for _ in range(2)]
    Y, (H, C) = layer(X, [H0, C0])
    Hs, (H_s, C_s) = unroll(lstm.lstm_cell, list(X), (H0[0], C0[0]),
                              scratch_cell_params(layer))
    np.testing.assert_allclose(nd.stack(*Hs).asnumpy(), Y.asnumpy(),
                               atol=1e-5)
    np.testing.assert_allclose(H_s.asnumpy(), H[0].asnumpy(), atol=1e-5)
    np.testing.assert_allclose(C_s.asnumpy(), C[0].asnumpy(), atol=1e-5)
    assert max(lstm.gluon_gap(num_inputs, num_hiddens, num_steps, batch_size,
                           ctx)) < 1e-5


@pytest.mark.parametrize('batch_size', [1, 4])
def test_scratch_equals_rnnmodel_with_dense(batch_size, ctx):
    vocab_size, h, num_steps = 13, 6, 5
    model = RNNModel(rnn.LSTM(h), vocab_size)  # the book's concise LSTM
    model.initialize(ctx=ctx)
    X = nd.random.randint(0, vocab_size, shape=(batch_size, num_steps),
                          ctx=ctx).astype('float32')
    model(X, model.begin_state(batch_size=batch_size, ctx=ctx))  # shapes
    randomize(model)
    Y, (H, C) = model(X, model.begin_state(batch_size=batch_size, ctx=ctx))
    params = scratch_cell_params(model.rnn) + scratch_dense_params(
        model.dense)
    scratch = d2l.ScratchModel(lstm.lstm, params, lstm.init_lstm_state, h,
                               vocab_size, ctx)
    outputs, (H_s, C_s) = scratch(X, scratch.begin_state(batch_size))
    np.testing.assert_allclose(outputs.asnumpy(), Y.asnumpy(), atol=1e-5)
    np.testing.assert_allclose(C_s.asnumpy(), C[0].asnumpy(), atol=1e-5)


def test_shapes(ctx):
    vocab_size, h, batch_size, num_steps = 9, 5, 2, 4
    state = lstm.init_lstm_state(batch_size, h, ctx)
    assert [s.shape for s in state] == [(batch_size, h)] * 2
    inputs = d2l.to_onehot(nd.zeros((batch_size, num_steps), ctx=ctx),
                           vocab_size)
    outputs, (H, C) = lstm.lstm(inputs, state,
                                lstm.get_params(vocab_size, h, ctx))
    assert len(outputs) == num_steps
    assert outputs[0].shape == (batch_size, vocab_size)
    assert H.shape == C.shape == (batch_size, h)


def test_routine_matches_d2lzh(jay, ctx):
    theirs, ours = _d2lzh_perplexities(
        lstm, lstm.get_params, lstm.init_lstm_state, lstm.lstm, jay, ctx)
    assert len(theirs) == 3
    np.testing.assert_allclose(ours, theirs, rtol=1e-3)


def test_main_two_epochs_and_perplexity_falls(no_quick, capsys):
    results = lstm.main(['--epochs', '2', '--num-hiddens', '16', '--ctx',
                         'cpu', '--num-chars', '3000', '--num-steps', '10',
                         '--pred-len', '5', '--pred-period', '1'])
    for impl in ('scratch', 'gluon'):
        history = results[impl].history
        assert history.epochs == [1, 2]
        assert history.perplexity[1] < history.perplexity[0] < 500
    assert max(results['gluon_gap']) < 1e-5
    out = capsys.readouterr().out
    assert re.search(r'^epoch 2, perplexity [0-9.]+, time [0-9.]+ sec$',
                     out, re.M)
