"""6.9 deep RNN: the scratch stack of every cell against Gluon's
num_layers=L with copied weights, shapes, gradients reach every layer,
main."""
import re
from functools import partial

import numpy as np
import pytest
from mxnet import autograd, nd

import d2l_ch6 as d2l
from d2l_ch6 import deep_rnn
from d2l_ch6.core.models import ModelSpec, RNNModel, gluon_model, rnn_layer
from d2l_ch6.core.parity import (randomize, scratch_cell_params,
                                 to_gluon_state, to_scratch_state)

CELLS = [('rnn', {}), ('rnn', {'activation': 'relu'}), ('gru', {}),
         ('lstm', {})]
# (num_inputs, num_hiddens, num_steps, batch_size)
SHAPES = [(5, 4, 1, 1), (7, 3, 6, 1), (10, 8, 5, 4)]


@pytest.mark.parametrize('num_layers', [2, 3])
@pytest.mark.parametrize('cell, kwargs', CELLS)
@pytest.mark.parametrize('num_inputs, num_hiddens, num_steps, batch_size',
                         SHAPES)
def test_stack_equals_gluon_num_layers(cell, kwargs, num_layers, num_inputs,
                                       num_hiddens, num_steps, batch_size,
                                       ctx):
    layer = rnn_layer(cell, num_hiddens, num_layers=num_layers,
                                 input_size=num_inputs, **kwargs)
    layer.initialize(ctx=ctx)
    randomize(layer)
    X = nd.random.normal(shape=(num_steps, batch_size, num_inputs), ctx=ctx)
    state = [nd.random.normal(shape=s.shape, ctx=ctx)
             for s in layer.begin_state(batch_size=batch_size, ctx=ctx)]
    Y, new_state = layer(X, state)
    params = [p for k in range(num_layers)
              for p in scratch_cell_params(layer, k)]
    Hs, s = deep_rnn.stack(list(X), to_scratch_state(state), params,
                           deep_rnn.GLUON_STEPS[layer._mode], num_layers)
    np.testing.assert_allclose(nd.stack(*Hs).asnumpy(), Y.asnumpy(),
                               atol=1e-5)
    for a, b in zip(to_gluon_state(s, len(new_state)), new_state):
        np.testing.assert_allclose(a.asnumpy(), b.asnumpy(), atol=1e-5)
    assert max(deep_rnn.gluon_gap(cell, num_layers, num_inputs, num_hiddens,
                               num_steps, batch_size, ctx, **kwargs)) < 1e-5


def test_scratch_rnn_is_tanh_like_the_gluon_layer_it_is_paired_with():
    spec = ModelSpec('gluon', 'rnn', 3, 2)  # as 6.9's main builds it
    assert gluon_model(spec, 5, None).block.rnn._mode == 'rnn_tanh'


@pytest.mark.parametrize('cell', ['rnn', 'gru', 'lstm'])
def test_shapes_and_every_parameter_gets_a_gradient(cell, ctx):
    vocab_size, h, L, batch_size, num_steps = 9, 5, 3, 2, 4
    model = deep_rnn.scratch_model(ModelSpec('scratch', cell, h, L),
                                   vocab_size, ctx)
    n = len(deep_rnn.CELLS[cell].params(vocab_size, h, ctx))
    shapes = [p.shape for p in model.params]
    assert len(shapes) == L * n + 2
    assert shapes[0] == (vocab_size, h)  # layer 1 reads the input
    assert shapes[n] == shapes[2 * n] == (h, h)  # layers 2, 3 read H
    assert shapes[-2:] == [(h, vocab_size), (vocab_size,)]
    state = model.begin_state(batch_size)
    per_layer = 2 if cell == 'lstm' else 1
    assert [s.shape for s in state] == [(batch_size, h)] * (L * per_layer)
    X = nd.random.randint(0, vocab_size, shape=(batch_size, num_steps),
                          ctx=ctx).astype('float32')
    with autograd.record():
        outputs, new_state = model(X, state)
        l = outputs.sum()
    l.backward()
    assert outputs.shape == (num_steps * batch_size, vocab_size)
    assert len(new_state) == len(state)
    for p in model.params[:-1]:  # d sum / d b_q is 1 everywhere anyway
        assert np.abs(p.grad.asnumpy()).sum() > 0


def test_one_layer_is_the_plain_cell(ctx):
    from d2l_ch6 import gru
    params = deep_rnn.get_params(7, 4, 1, ctx, 'gru')
    for p in params:
        p[:] = nd.random.uniform(-1, 1, shape=p.shape, ctx=ctx)
    inputs = [nd.random.normal(shape=(2, 7), ctx=ctx) for _ in range(3)]
    state = gru.init_gru_state(2, 4, ctx)
    ours, _ = deep_rnn.deep_rnn(inputs, state, params, gru.gru_cell, 1)
    book, _ = gru.gru(inputs, state, params)
    for a, b in zip(ours, book):
        np.testing.assert_allclose(a.asnumpy(), b.asnumpy(), atol=1e-6)


@pytest.mark.parametrize('cell', ['rnn', 'gru', 'lstm'])
def test_short_run_perplexity_falls(cell, jay, ctx):
    corpus_indices, char_to_idx, idx_to_char, vocab_size = jay
    hp = d2l.Hyper(num_hiddens=16, num_epochs=3, num_steps=10,
                   pred_period=100)
    fit = partial(d2l.fit, corpus_indices=corpus_indices[:3000],
                  idx_to_char=idx_to_char, char_to_idx=char_to_idx, hp=hp,
                  ctx=ctx)
    scratch = fit(deep_rnn.scratch_model(ModelSpec('scratch', cell, 16, 2),
                                         vocab_size, ctx))
    gluon = d2l.fit_gluon(RNNModel(rnn_layer(cell, 16, 2), vocab_size),
                          corpus_indices[:3000], idx_to_char, char_to_idx,
                          hp, ctx=ctx)
    for history in (scratch, gluon):
        assert history.perplexity[-1] < history.perplexity[0] < vocab_size


def test_main_two_epochs(no_quick, capsys):
    results = deep_rnn.main([
        '--epochs', '2', '--num-hiddens', '8', '--ctx', 'cpu',
        '--num-chars', '2000', '--num-steps', '10', '--pred-len', '5',
        '--pred-period', '1', '--cell', 'lstm', '--num-layers', '3'])
    for impl in ('scratch', 'gluon'):
        assert results[impl].history.epochs == [1, 2]
    assert len(results['scratch'].model.params) == 3 * 12 + 2
    assert results['scratch'].model.spec == ModelSpec('scratch', 'lstm', 8,
                                                      3)
    assert results['gluon'].model.block.rnn._num_layers == 3
    assert set(results['gluon_gap']) == {(c, L) for c in ('rnn', 'gru', 'lstm')
                                      for L in (2, 3)}
    assert max(max(gap) for gap in results['gluon_gap'].values()) < 1e-5
    assert re.search(r'^epoch 2, perplexity', capsys.readouterr().out, re.M)
