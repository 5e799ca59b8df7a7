"""6.10 bidirectional RNN: the scratch model against Gluon's
bidirectional=True (one and two layers) and, for different sizes per
direction, against two Gluon layers; it sees the future; main."""
import re

import numpy as np
import pytest
from mxnet import autograd, nd

import d2l_ch6 as d2l
from d2l_ch6 import bi_rnn, deep_rnn
from d2l_ch6.exercises.bi_rnn import shapes
from d2l_ch6.core.models import ModelSpec, rnn_layer
from d2l_ch6.core.parity import (randomize, scratch_cell_params,
                                 to_gluon_state, to_scratch_state)

from test_deep_rnn import CELLS, SHAPES


@pytest.mark.parametrize('num_layers', [1, 2])
@pytest.mark.parametrize('cell, kwargs', CELLS)
@pytest.mark.parametrize('num_inputs, num_hiddens, num_steps, batch_size',
                         SHAPES)
def test_equals_gluon_bidirectional(cell, kwargs, num_layers, num_inputs,
                                    num_hiddens, num_steps, batch_size, ctx):
    layer = rnn_layer(cell, num_hiddens, num_layers=num_layers,
                                 bidirectional=True, input_size=num_inputs,
                                 **kwargs)
    layer.initialize(ctx=ctx)
    randomize(layer)
    X = nd.random.normal(shape=(num_steps, batch_size, num_inputs), ctx=ctx)
    state = [nd.random.normal(shape=s.shape, ctx=ctx)
             for s in layer.begin_state(batch_size=batch_size, ctx=ctx)]
    Y, new_state = layer(X, state)
    assert Y.shape == (num_steps, batch_size, 2 * num_hiddens)
    params = [p for k in range(num_layers) for d in 'lr'
              for p in scratch_cell_params(layer, k, d)]
    Hs, s = deep_rnn.stack(list(X), to_scratch_state(state), params,
                           deep_rnn.GLUON_STEPS[layer._mode], num_layers,
                           layer=bi_rnn.bi_layer)
    np.testing.assert_allclose(nd.stack(*Hs).asnumpy(), Y.asnumpy(),
                               atol=1e-5)
    for a, b in zip(to_gluon_state(s, len(new_state)), new_state):
        np.testing.assert_allclose(a.asnumpy(), b.asnumpy(), atol=1e-5)
    assert max(bi_rnn.gluon_gap(cell, num_layers, num_inputs, num_hiddens,
                             num_steps, batch_size, ctx, **kwargs)) < 1e-5


@pytest.mark.parametrize('cell', ['rnn', 'gru', 'lstm'])
@pytest.mark.parametrize('batch_size', [1, 3])
def test_different_sizes_equal_two_gluon_layers(cell, batch_size, ctx):
    num_inputs, h_f, h_b, num_steps = 6, 5, 3, 4
    layers = [rnn_layer(cell, h, input_size=num_inputs)
              for h in (h_f, h_b)]
    for layer in layers:
        layer.initialize(ctx=ctx)
        randomize(layer)
    X = nd.random.normal(shape=(num_steps, batch_size, num_inputs), ctx=ctx)
    states = [[nd.random.normal(shape=s.shape, ctx=ctx)
               for s in layer.begin_state(batch_size=batch_size, ctx=ctx)]
              for layer in layers]
    Y_f, _ = layers[0](X, states[0])
    Y_b, _ = layers[1](nd.reverse(X, axis=0), states[1])
    expected = nd.concat(Y_f, nd.reverse(Y_b, axis=0), dim=2)
    params = scratch_cell_params(layers[0]) + scratch_cell_params(layers[1])
    state = to_scratch_state(states[0]) + to_scratch_state(states[1])
    Hs, _ = bi_rnn.bi_layer(deep_rnn.GLUON_STEPS[layers[0]._mode], list(X),
                            state, params)
    assert Hs[0].shape == (batch_size, h_f + h_b)
    np.testing.assert_allclose(nd.stack(*Hs).asnumpy(), expected.asnumpy(),
                               atol=1e-5)


@pytest.mark.parametrize('num_layers', [1, 2])
def test_shapes_with_different_sizes(num_layers, ctx):
    vocab_size, batch_size, num_steps = 9, 2, 4
    H, outputs, state = shapes(vocab_size, (6, 3), batch_size, num_steps,
                               ctx, 'lstm', num_layers)
    assert H == (batch_size, 9)
    assert outputs == (num_steps * batch_size, vocab_size)
    # per layer: forward (H, C) of h_f, then backward (H, C) of h_b
    assert state == [(batch_size, h) for _ in range(num_layers)
                     for h in (6, 6, 3, 3)]
    params = bi_rnn.get_params(vocab_size, (6, 3), ctx, 'rnn', num_layers)
    assert [p.shape for p in params[:6]] == [
        (vocab_size, 6), (6, 6), (6,), (vocab_size, 3), (3, 3), (3,)]
    if num_layers == 2:  # layer 2 reads [->H, <-H] of size 6 + 3
        assert params[6].shape == (9, 6) and params[9].shape == (9, 3)
    assert [p.shape for p in params[-2:]] == [(9, vocab_size),
                                              (vocab_size,)]


def _outputs(model, X):
    outputs, _ = model(X, model.begin_state(X.shape[0]))
    return outputs.reshape((X.shape[1], X.shape[0], -1))  # (T, B, vocab)


def test_bidirectional_sees_the_future(ctx):
    vocab_size, h, t = 9, 5, 2
    bi = bi_rnn.scratch_model(ModelSpec('scratch', 'gru', h,
                                        bidirectional=True), vocab_size, ctx)
    uni = deep_rnn.scratch_model(ModelSpec('scratch', 'gru', h), vocab_size,
                                 ctx)
    for model in (bi, uni):
        for p in model.params:
            p[:] = nd.random.uniform(-1, 1, shape=p.shape, ctx=ctx)
    X = nd.array([[1, 2, 3, 4, 5, 6]], ctx=ctx)
    X_future = X.copy()
    X_future[0, t + 1:] = 0  # change only what comes after step t
    for model, leaks in ((bi, True), (uni, False)):
        change = nd.abs(_outputs(model, X)[:t + 1]
                        - _outputs(model, X_future)[:t + 1]).max()
        assert (change.asscalar() > 1e-3) == leaks


def test_one_at_a_time_equals_chunks_for_a_causal_model_only(jay, ctx):
    corpus_indices, _, _, vocab_size = jay
    text = corpus_indices[:80]
    for make, causal in ((deep_rnn.scratch_model, True),
                         (bi_rnn.scratch_model, False)):
        model = make(ModelSpec('scratch', 'rnn', 6,
                               bidirectional=not causal), vocab_size, ctx)
        for p in model.params:
            p[:] = nd.random.uniform(-0.5, 0.5, shape=p.shape, ctx=ctx)
        stepwise = d2l.evaluate_perplexity(model, text, 1, ctx)
        chunked = d2l.evaluate_perplexity(model, text, 10, ctx)
        assert (stepwise == pytest.approx(chunked, rel=1e-4)) == causal


def test_two_layer_model_trains_with_fit(jay, ctx):
    corpus_indices, char_to_idx, idx_to_char, vocab_size = jay
    model = bi_rnn.uneven_model(vocab_size, (8, 4), ctx, 'gru', 2)
    X = nd.array([corpus_indices[:10]], ctx=ctx)
    with autograd.record():
        outputs, _ = model(X, model.begin_state(1))
        l = outputs.sum()
    l.backward()
    for p in model.params[:-1]:
        assert np.abs(p.grad.asnumpy()).sum() > 0
    hp = d2l.Hyper(num_hiddens=8, num_epochs=3, num_steps=10,
                   pred_period=3, pred_len=5)
    history = d2l.fit(model, corpus_indices[:3000], idx_to_char,
                      char_to_idx, hp, ctx=ctx)
    assert history.perplexity[-1] < history.perplexity[0] < vocab_size
    assert len(history.predictions['分开']) == 2 + 5


def test_main_two_epochs(no_quick, capsys):
    results = bi_rnn.main([
        '--epochs', '2', '--num-hiddens', '8', '--ctx', 'cpu',
        '--num-chars', '2000', '--num-steps', '10', '--pred-len', '5',
        '--pred-period', '1'])
    assert max(max(gap) for gap in results['gluon_gap'].values()) < 1e-5
    leak = results['leak']
    for name in ('uni', 'bi'):
        assert leak[name]['history'].epochs == [1, 2]
        assert leak[name]['history'].perplexity[1] < \
            leak[name]['history'].perplexity[0]
    # a causal model scores the text the same read either way
    assert leak['uni']['stepwise'] == pytest.approx(leak['uni']['chunked'],
                                                    rel=1e-4)
    out = capsys.readouterr().out
    assert re.search(r'^epoch 2, perplexity', out, re.M)
    assert 'one char at a time' in out


@pytest.mark.parametrize('impl, num_epochs', [('gluon', 20), ('scratch', 1)])
def test_leak(impl, num_epochs, jay, ctx):
    """Trained the same way on 1000 characters, the bidirectional model
    beats the unidirectional one in training, yet predicting from the past
    alone it is far worse (a run of 20 epochs: uni 12.9 / 7.3 / 7.3, bi 5.7
    / 5.5 / 82 for training / chunked / one at a time)."""
    corpus_indices, char_to_idx, idx_to_char, vocab_size = jay
    hp = d2l.Hyper(num_hiddens=64, num_epochs=num_epochs, num_steps=10,
                   batch_size=8, pred_period=100, pred_len=10)
    data = (corpus_indices[:1000], char_to_idx, idx_to_char, vocab_size)
    r = bi_rnn.leak(data, hp, ctx, 'rnn', impl, num_eval=300,
                    log=lambda *a: None)
    uni, bi = r['uni'], r['bi']
    assert uni['stepwise'] == pytest.approx(uni['chunked'], rel=1e-4)
    assert len(bi['text']['分开']) == 2 + 10
    if impl == 'gluon':
        assert bi['train'] < 0.7 * uni['train']
        assert bi['chunked'] < uni['chunked']
        assert bi['stepwise'] > 5 * uni['stepwise']
        assert bi['stepwise'] > 5 * bi['chunked']
