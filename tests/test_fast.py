"""The fast paths change no number: the row gather equals the one-hot
product (values and gradients, checked by autograd and numpy), every cell
and model gives the same outputs and gradients fed indices as fed one-hot
inputs, training from the same weights gives the same perplexities, and
the fused clipping and the Gluon update equal their plain formulas."""
from dataclasses import replace
from functools import partial

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon, nd

import d2l_ch6 as d2l
from d2l_ch6 import gru, lstm, rnn_scratch
from d2l_ch6.models import ModelSpec, build_model
from d2l_ch6.train import output_layer, x_dot

V, H, B, T = 11, 6, 4, 5  # vocab, hiddens, batch, steps


def indices(shape, ctx):
    """Random character indices as the samplers give them (float32)."""
    return nd.array(np.random.randint(0, V, size=shape), ctx=ctx)


def grads_of(fn, params, weights):
    """(value of fn(), d sum(fn() * weights) / d params) by autograd."""
    for p in params:
        p.attach_grad()
    with autograd.record():
        out = fn()
        loss = (out * weights).sum()
    loss.backward()
    return out.asnumpy(), [p.grad.asnumpy().copy() for p in params]


def test_gather_equals_one_hot_product_values_and_gradients(ctx):
    X = indices((B,), ctx)
    X[1] = X[3]  # a repeated index: its gradient rows must add up
    W = nd.random.normal(shape=(V, H), ctx=ctx)
    G = nd.random.normal(shape=(B, H), ctx=ctx)
    fast, (dW_fast,) = grads_of(lambda: x_dot(X, W), [W], G)
    book, (dW_book,) = grads_of(lambda: nd.dot(nd.one_hot(X, V), W), [W], G)
    np.testing.assert_array_equal(fast, book)  # a row copy, exact
    np.testing.assert_allclose(dW_fast, dW_book, rtol=1e-6, atol=1e-7)
    # and both equal numpy: row i of W, and the scatter-add of G's rows
    x, w, g = X.asnumpy().astype(int), W.asnumpy(), G.asnumpy()
    np.testing.assert_array_equal(fast, w[x])
    expected = np.zeros_like(w)
    np.add.at(expected, x, g)
    np.testing.assert_allclose(dW_fast, expected, rtol=1e-6, atol=1e-7)


def test_x_dot_multiplies_2d_inputs(ctx):
    X = nd.random.normal(shape=(B, 7), ctx=ctx)
    W = nd.random.normal(shape=(7, H), ctx=ctx)
    np.testing.assert_allclose(x_dot(X, W).asnumpy(),
                               X.asnumpy() @ W.asnumpy(), rtol=1e-5)


CELLS = [
    ('rnn tanh', rnn_scratch.rnn_cell, rnn_scratch.cell_params, 1),
    ('rnn relu', partial(rnn_scratch.rnn_cell, activation=nd.relu),
     rnn_scratch.cell_params, 1),
    ('gru', gru.gru_cell, gru.cell_params, 1),
    ('gru gluon form', gru.gru_cell_gluon, gru.cell_params_gluon, 1),
    ('lstm', lstm.lstm_cell, lstm.cell_params, 2),
]


@pytest.mark.parametrize('name,cell,make,num_states', CELLS,
                         ids=[c[0] for c in CELLS])
def test_cell_fed_indices_equals_cell_fed_one_hot(name, cell, make,
                                                  num_states, ctx):
    # random weights and biases of scale 1: every gate far from 0 and 1
    params = [nd.random.uniform(-1, 1, shape=p.shape, ctx=ctx)
              for p in make(V, H, ctx)]
    state = tuple(nd.random.normal(shape=(B, H), ctx=ctx)
                  for _ in range(num_states))
    X = indices((B,), ctx)
    G = nd.random.normal(shape=(B, H * num_states), ctx=ctx)

    def step(inputs):
        return nd.concat(*cell(inputs, state, params), dim=1)
    fast, d_fast = grads_of(lambda: step(X), params, G)
    book, d_book = grads_of(lambda: step(nd.one_hot(X, V)), params, G)
    np.testing.assert_allclose(fast, book, rtol=1e-6, atol=1e-7)
    for a, b in zip(d_fast, d_book):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_output_layer_one_product_equals_one_per_step(ctx):
    Hs = [nd.random.normal(shape=(B, H), ctx=ctx) for _ in range(T)]
    W_hq = nd.random.normal(shape=(H, V), ctx=ctx)
    b_q = nd.random.normal(shape=(V,), ctx=ctx)
    per_step = output_layer(Hs, W_hq, b_q)
    one, = output_layer(Hs, W_hq, b_q, fast=True)
    assert len(per_step) == T and one.shape == (T * B, V)
    np.testing.assert_allclose(one.asnumpy(),
                               nd.concat(*per_step, dim=0).asnumpy(),
                               rtol=1e-5, atol=1e-6)


SPECS = [ModelSpec('scratch', cell, H, num_layers, bidirectional)
         for cell in ('rnn', 'gru', 'lstm')
         for num_layers, bidirectional in ((1, False), (2, False),
                                           (1, True), (2, True))]


@pytest.mark.parametrize('spec', SPECS, ids=lambda s: s.describe())
def test_model_fast_equals_plain_outputs_state_gradients(spec, ctx):
    plain = build_model(spec, V, ctx)
    fast = build_model(spec, V, ctx, fast=True)
    assert (plain.fast, fast.fast) == (False, True)
    fast.load_state_dict(plain.state_dict())  # the same weights
    X = indices((B, T), ctx)
    G = nd.random.normal(shape=(T * B, V), ctx=ctx)
    results = []
    for model in (plain, fast):
        state = [s + 0.5 for s in model.begin_state(B)]  # not zeros
        with autograd.record():
            outputs, new_state = model(X, state)
            loss = (outputs * G).sum()
        loss.backward()
        results.append((outputs.asnumpy(),
                        [s.asnumpy() for s in new_state],
                        [g.asnumpy() for g in model.grads()]))
    (o1, s1, g1), (o2, s2, g2) = results
    np.testing.assert_allclose(o2, o1, rtol=1e-5, atol=1e-6)
    for a, b in zip(s2 + g2, s1 + g1):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize('cell', ['rnn', 'gru', 'lstm'])
def test_fast_training_gives_the_plain_perplexities(cell, jay, ctx):
    corpus_indices, char_to_idx, idx_to_char, vocab_size = jay
    corpus_indices = corpus_indices[:3000]
    hp = replace(d2l.BOOK, num_hiddens=32, num_epochs=4, pred_period=4,
                 pred_len=5)
    spec = ModelSpec('scratch', cell, hp.num_hiddens)
    runs = []
    for fast in (False, True):
        mx.random.seed(7)  # the same initial weights
        model = build_model(spec, vocab_size, ctx, fast=fast)
        runs.append(d2l.fit(model, corpus_indices, idx_to_char,
                            char_to_idx, hp, ctx=ctx, log=lambda *a: None))
    plain, fast = runs
    np.testing.assert_allclose(fast.perplexity, plain.perplexity, rtol=1e-4)
    assert plain.perplexity[-1] < plain.perplexity[0]  # it did train
    assert fast.predictions == plain.predictions


@pytest.mark.parametrize('theta', [1e-3, 1e3])
def test_clip_on_the_device_equals_the_formula(theta, ctx):
    shapes = [(V, H), (H, H), (H,), (H, V), (V,)]
    grads = [nd.random.normal(shape=s, ctx=ctx) for s in shapes]
    expected = [g.asnumpy().astype(np.float64) for g in grads]
    norm = np.sqrt(sum((g ** 2).sum() for g in expected))
    scale = min(1.0, theta / norm)
    d2l.train._clip(grads, theta)
    for g, e in zip(grads, expected):
        np.testing.assert_allclose(g.asnumpy(), e * scale, rtol=1e-5)


def test_gluon_update_equals_gluon_trainer(ctx):
    nets = []
    for _ in range(2):
        mx.random.seed(3)
        net = gluon.nn.Dense(4, in_units=3)
        net.initialize(ctx=ctx)
        nets.append(net)
    X = nd.random.normal(shape=(5, 3), ctx=ctx)
    ours = d2l.GluonModel(nets[0], ctx).updater(lr=0.5)
    trainer = gluon.Trainer(nets[1].collect_params(), 'sgd',
                            {'learning_rate': 0.5, 'momentum': 0, 'wd': 0})
    for net, step in ((nets[0], ours), (nets[1], lambda: trainer.step(1))):
        for _ in range(2):
            with autograd.record():
                loss = (net(X) ** 2).sum()
            loss.backward()
            step()
    for p, q in zip(nets[0].collect_params().values(),
                    nets[1].collect_params().values()):
        np.testing.assert_allclose(p.data().asnumpy(), q.data().asnumpy(),
                                   rtol=1e-6)


@pytest.mark.parametrize('spec', [ModelSpec('scratch', 'lstm', 8),
                                  ModelSpec('scratch', 'gru', 8, 2, True)],
                         ids=lambda s: s.describe())
def test_fast_training_reads_the_host_once_per_epoch(spec, jay, ctx,
                                                     monkeypatch):
    corpus_indices, char_to_idx, idx_to_char, vocab_size = jay
    model = build_model(spec, vocab_size, ctx, fast=True)
    reads = []
    asnumpy, wait_to_read = nd.NDArray.asnumpy, nd.NDArray.wait_to_read
    monkeypatch.setattr(nd.NDArray, 'asnumpy',
                        lambda self: reads.append(1) or asnumpy(self))
    monkeypatch.setattr(nd.NDArray, 'wait_to_read',
                        lambda self: reads.append(1) or wait_to_read(self))
    hp = replace(d2l.BOOK, num_hiddens=8, num_epochs=2, num_steps=10,
                 batch_size=4, pred_period=100)
    d2l.fit(model, corpus_indices[:2000], idx_to_char, char_to_idx, hp,
            ctx=ctx, log=lambda *a: None)
    assert len(reads) == hp.num_epochs  # 2000 // 4 // 10 = 49 batches each
