"""The concise models' fast form (d2l_ch6/core/fast_gluon.py) changes no
number: fed the very parameters of ``RNNModel(rnn.RNN/GRU/LSTM)``, its
outputs, final state and the gradients of every parameter equal the
block's own, for every cell, deep, bidirectional and with an embedding;
one training run in either form prints the same perplexities. And the
clipping folded into the update (one ``sgd_update`` a weight) equals
clipping, then sgd, on either engine."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, nd

import d2l_ch6 as d2l
from d2l_ch6.core import optim, parity
from d2l_ch6.core.models import ModelSpec, gluon_model
from d2l_ch6.core.optim import Optimizer, clip_gradients
from d2l_ch6.core.trainer import Trainer
from d2l_ch6.tools.zoo import build_model

V, B, T, H = 11, 3, 5, 8
SPECS = [ModelSpec('gluon', 'rnn', H, activation='relu'),
         ModelSpec('gluon', 'rnn', H, activation='tanh'),
         ModelSpec('gluon', 'gru', H), ModelSpec('gluon', 'lstm', H),
         ModelSpec('gluon', 'rnn', H, 2), ModelSpec('gluon', 'gru', H, 2),
         ModelSpec('gluon', 'gru', H, bidirectional=True),
         ModelSpec('gluon', 'lstm', H, 2, True),
         ModelSpec('gluon', 'lstm', H, 2, embed_size=4, dropout=0.3),
         ModelSpec('gluon', 'gru', H, embed_size=4)]


def twins(spec, ctx):
    """(the block, its fast form) with the same random parameters."""
    slow = gluon_model(spec, V, ctx).prepare()
    slow.block(nd.zeros((1, 1), ctx=ctx), slow.begin_state(1))
    parity.randomize(slow.block)
    fast = gluon_model(spec, V, ctx, fast=True)
    fast.load_state_dict(slow.state_dict())
    return slow, fast.prepare(initialize=False)


def run(model, X, ctx):
    """Outputs, final state and every parameter's gradient of one forward
    and backward (evaluation mode: dropout off)."""
    state = model.begin_state(X.shape[0])
    with autograd.record(train_mode=False):
        out, new = model(X, state)
        l = (out * out).sum() + sum((s * s).sum() for s in new)
    l.backward()
    grads = {k: p.grad(ctx).asnumpy() for k, p in
             model.block._collect_params_with_prefix().items()}
    return out.asnumpy(), [s.asnumpy() for s in new], grads


@pytest.mark.parametrize('spec', SPECS, ids=lambda s: s.describe())
def test_values_and_gradients_equal_the_blocks(spec, ctx):
    slow, fast = twins(spec, ctx)
    X = nd.array(np.random.randint(0, V, (B, T)), ctx=ctx)
    (o1, s1, g1), (o2, s2, g2) = run(slow, X, ctx), run(fast, X, ctx)
    np.testing.assert_allclose(o2, o1, rtol=1e-5, atol=1e-6)
    for a, b in zip(s2, s1):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert set(g1) == set(g2)
    for k in g1:
        np.testing.assert_allclose(g2[k], g1[k], rtol=1e-4, atol=1e-5)
        assert np.abs(g1[k]).sum() > 0 or k == 'dense.bias'


def test_a_permuted_gate_would_be_caught(ctx):
    """What the test above rests on: the GRU's reset and update gates
    swapped in the block's weights change the outputs."""
    spec = ModelSpec('gluon', 'gru', H)
    slow, fast = twins(spec, ctx)
    w = slow.block.rnn.l0_h2h_weight.data(ctx)
    swapped = nd.concat(w[H:2 * H], w[:H], w[2 * H:], dim=0)
    slow.block.rnn.l0_h2h_weight.set_data(swapped)
    X = nd.array(np.random.randint(0, V, (B, T)), ctx=ctx)
    assert np.abs(run(slow, X, ctx)[0] - run(fast, X, ctx)[0]).max() > 1e-4


@pytest.mark.parametrize('cell', ['rnn', 'gru', 'lstm'])
def test_training_in_either_form_prints_the_same(cell, jay, ctx):
    corpus_indices, char_to_idx, idx_to_char, vocab_size = jay
    hp = d2l.Hyper(num_hiddens=16, num_epochs=3, num_steps=10,
                   batch_size=8, pred_period=3, pred_len=5,
                   prefixes=('分开',))
    histories = []
    for fast in (False, True):
        mx.random.seed(5)
        model = build_model(ModelSpec('gluon', cell, 16), vocab_size, ctx,
                            fast=fast).prepare()
        histories.append(Trainer(model, hp, ctx=ctx, log=lambda *a: None)
                         .fit(corpus_indices[:3000], idx_to_char,
                              char_to_idx))
    slow, fast = histories
    np.testing.assert_allclose(fast.perplexity, slow.perplexity, rtol=1e-4)
    assert slow.perplexity[-1] < slow.perplexity[0]


@pytest.mark.parametrize('theta,wd', [(1e-3, 0.0), (1e3, 0.0), (0.05, 0.1),
                                      (None, 0.0)])
@pytest.mark.parametrize('on_host', [True, False],
                         ids=['naive-engine', 'threaded-engine'])
def test_fused_clip_and_update_equal_the_two_steps(theta, wd, on_host, ctx,
                                                   monkeypatch):
    # both paths: the clip scale read back as a float (naive engine) and
    # kept on the device (threaded engine, a GPU)
    monkeypatch.setattr(optim, 'host_scale', lambda: on_host)
    shapes = [(V, H), (H, H), (H,), (H, V), (V,)] * 8
    weights = [nd.random.normal(shape=s, ctx=ctx) for s in shapes]
    grads = [nd.random.normal(shape=s, ctx=ctx) for s in shapes]
    expected = [w.copy() for w in weights]
    g2 = [g.copy() for g in grads]
    clip_gradients(g2, theta)
    Optimizer('sgd', 0.7, wd).update(expected, g2)
    Optimizer('sgd', 0.7, wd).clip_and_update(weights, grads, theta)
    for w, e in zip(weights, expected):
        np.testing.assert_allclose(w.asnumpy(), e.asnumpy(), rtol=1e-5,
                                   atol=1e-6)
