"""The fast path (d2l_ch6/core/fast.py) changes no number: fed the weights of a
section's scratch model, every fused, hybridized model gives the same
outputs, final state and gradients as the section's cells (the book's
one-hot ``nd.dot`` form, an independent implementation), training from the
same seed gives the same perplexities and text, and the parameters move
between the two layouts exactly. Also: clipping on the device equals its
formula, the Gluon update equals ``gluon.Trainer``, and fast training on a
threaded engine reads the host once per epoch."""
from dataclasses import replace

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon, nd

import d2l_ch6 as d2l
from d2l_ch6.core import fast as fast_path
from d2l_ch6.core.models import GluonModel, ModelSpec
from d2l_ch6.core.predict import predict
from d2l_ch6.core.optim import Optimizer, clip_gradients
from d2l_ch6.core.trainer import Trainer
from d2l_ch6.tools.zoo import build_model

V, H, B, T = 11, 6, 4, 5  # vocab, hiddens, batch, steps

SPECS = [ModelSpec('scratch', cell, H, num_layers, bidirectional)
         for cell in ('rnn', 'gru', 'lstm')
         for num_layers, bidirectional in ((1, False), (2, False),
                                           (1, True), (2, True))] \
    + [ModelSpec('scratch', 'rnn', H, activation='relu'),
       ModelSpec('scratch', 'gru', H, 3)]


def indices(shape, ctx):
    """Random character indices as the samplers give them (float32)."""
    return nd.array(np.random.randint(0, V, size=shape), ctx=ctx)


def teaching_and_fast(spec, ctx):
    """A section's scratch model with weights AND biases of scale 1 (every
    gate far from 0 and 1; zero biases would hide a bias bug) and the fast
    model made from it."""
    teaching = build_model(spec, V, ctx)
    for p in teaching.params:
        p[:] = nd.random.uniform(-1, 1, shape=p.shape, ctx=ctx)
    return teaching, fast_path.FastModel(spec, V, ctx, teaching)


def fast_grads(model):
    """The fast model's gradients in the sections' layout."""
    names = fast_path._shapes(model.spec, model.vocab_size)
    return fast_path.unfuse(model.spec, dict(zip(names, model.grads())))


@pytest.mark.parametrize('spec', SPECS, ids=lambda s: s.describe())
def test_fast_equals_the_sections_cells(spec, ctx):
    teaching, fast = teaching_and_fast(spec, ctx)
    X = indices((B, T), ctx)
    G = nd.random.normal(shape=(T * B, V), ctx=ctx)
    state = [nd.random.normal(shape=s.shape, ctx=ctx)
             for s in teaching.begin_state(B)]
    results = []
    for model, grads in ((teaching, teaching.grads), (fast, lambda:
                                                       fast_grads(fast))):
        with autograd.record():
            outputs, new_state = model(X, state)
            loss = (outputs * G).sum()
        loss.backward()
        results.append((outputs.asnumpy(), [s.asnumpy() for s in new_state],
                        [g.asnumpy() for g in grads()]))
    (o1, s1, g1), (o2, s2, g2) = results
    assert o2.shape == o1.shape == (T * B, V)
    np.testing.assert_allclose(o2, o1, rtol=1e-5, atol=1e-5)
    assert len(s2) == len(s1) and len(g2) == len(g1)
    for a, b in zip(s2 + g2, s1 + g1):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_a_wrong_fusion_would_be_caught(ctx):
    """The test above can fail: swap two gates of the fused LSTM and the
    outputs differ."""
    spec = ModelSpec('scratch', 'lstm', H)
    teaching, fast = teaching_and_fast(spec, ctx)
    W_h = fast.params['fast_l0_W_h']
    swapped = W_h.data(ctx).copy()
    swapped[:H], swapped[H:2 * H] = W_h.data(ctx)[H:2 * H], \
        W_h.data(ctx)[:H]
    W_h.set_data(swapped)
    X = indices((B, T), ctx)
    o1, _ = teaching(X, teaching.begin_state(B))
    o2, _ = fast(X, teaching.begin_state(B))
    assert np.abs(o1.asnumpy() - o2.asnumpy()).max() > 1e-3


@pytest.mark.parametrize('spec', SPECS[:6], ids=lambda s: s.describe())
def test_layouts_round_trip_exactly(spec, ctx):
    teaching, fast = teaching_and_fast(spec, ctx)
    ours = fast.state_dict()
    theirs = teaching.state_dict()
    assert sorted(ours) == sorted(theirs)
    for name in theirs:
        np.testing.assert_array_equal(ours[name].asnumpy(),
                                      theirs[name].asnumpy())
    assert len(theirs) == fast_path.num_scratch_params(spec)


def test_foreign_arrays_are_refused(ctx):
    teaching, fast = teaching_and_fast(ModelSpec('scratch', 'gru', H), ctx)
    other = build_model(ModelSpec('scratch', 'lstm', H), V, ctx)
    with pytest.raises(d2l.BadInput, match='another model'):
        fast.load_state_dict(other.state_dict())


def test_any_batch_and_length_shares_the_parameters(ctx):
    """One graph per input shape, one set of parameters: prediction (batch
    1, one step) after training steps (batch B, T steps) sees the trained
    weights, and writes the teaching model's text."""
    spec = ModelSpec('scratch', 'lstm', H)
    teaching, fast = teaching_and_fast(spec, ctx)
    X, Y = indices((B, T), ctx), indices((B, T), ctx)
    hp = replace(d2l.BOOK, lr=1.0, clipping_theta=0.01)
    for model in (teaching, fast):
        Trainer(model, hp, ctx=ctx).step(X, Y, model.begin_state(B))
    chars = [chr(ord('a') + i) for i in range(V)]
    char_to_idx = {c: i for i, c in enumerate(chars)}
    assert predict(fast, 'abc', 12, chars, char_to_idx) == \
        predict(teaching, 'abc', 12, chars, char_to_idx)
    assert len(fast._blocks) >= 2


@pytest.mark.parametrize('cell', ['rnn', 'gru', 'lstm'])
def test_fast_training_gives_the_sections_perplexities(cell, jay, ctx):
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
    teaching, fast = runs
    np.testing.assert_allclose(fast.perplexity, teaching.perplexity,
                               rtol=1e-4)
    assert teaching.perplexity[-1] < teaching.perplexity[0]  # it trained
    assert fast.predictions == teaching.predictions


@pytest.mark.parametrize('theta', [1e-3, 1e3])
def test_clip_on_the_device_equals_the_formula(theta, ctx):
    shapes = [(V, H), (H, H), (H,), (H, V), (V,)]
    grads = [nd.random.normal(shape=s, ctx=ctx) for s in shapes]
    expected = [g.asnumpy().astype(np.float64) for g in grads]
    norm = np.sqrt(sum((g ** 2).sum() for g in expected))
    scale = min(1.0, theta / norm)
    clip_gradients(grads, theta)
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
    model, ours = GluonModel(nets[0], ctx), Optimizer('sgd', 0.5)
    trainer = gluon.Trainer(nets[1].collect_params(), 'sgd',
                            {'learning_rate': 0.5, 'momentum': 0, 'wd': 0})
    for net, step in ((nets[0], lambda: ours.update(model.weights(),
                                                    model.grads())),
                      (nets[1], lambda: trainer.step(1))):
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
    # the threaded engine's path (a GPU's): under the naive one a float a
    # batch is read, free there (see test_train.test_one_host_sync_per_epoch)
    monkeypatch.setattr(d2l.core.optim, 'host_scale', lambda: False)
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
            ctx=ctx, log=lambda *a: None, report_last=False)
    assert len(reads) == hp.num_epochs  # 2000 // 4 // 10 = 49 batches each
