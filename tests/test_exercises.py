"""The exercises as experiments: every one runs in quick mode, its answer
and its verdict on the learner's note come from what it measured (fed other
numbers, the words change), the measurements agree with independent
computations, and the command line lists, selects and reports them."""
import math
import os
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, nd
from mxnet.gluon import loss as gloss
from mxnet.gluon import rnn
from numpy.lib.stride_tricks import sliding_window_view

from d2l_ch6 import exercises as ex
from d2l_ch6 import gru
from d2l_ch6.core.corpus import read_corpus
from d2l_ch6.core.data import data_iter_consecutive
from d2l_ch6.core.errors import BadInput, TrainingDiverged
from d2l_ch6.core.models import ModelSpec
from d2l_ch6.core.trainer import BOOK, History, seed_all
from d2l_ch6.tools.zoo import build_model

VERDICTS = {'confirmed', 'refuted', 'partly confirmed', 'not checked'}


@pytest.fixture(scope='module')
def quick_run(tmp_path_factory):
    """Every experiment once in quick mode, with a Markdown report."""
    path = tmp_path_factory.mktemp('report') / 'exercises.md'
    results = ex.main(['--quick', '--ctx', 'cpu', '--report', str(path)])
    return results, path


@pytest.fixture(scope='module')
def lab():
    return ex.make_lab(quick=True, log=lambda *a: None)


def fake_run(label, perplexity, seconds, diverged=None, heldout=math.nan):
    """A Run with made-up measurements (no model)."""
    history = History(epochs=list(range(1, len(perplexity) + 1)),
                      perplexity=list(perplexity), seconds=list(seconds))
    return ex.Run(label, ModelSpec(), BOOK, 'random', history, diverged,
                  None, heldout)


def fake_training(monkeypatch, lab, make):
    """Make ``lab.train_many`` (and so ``lab.train``) return
    ``make(**config)`` for each config instead of training."""
    monkeypatch.setattr(lab, 'train_many',
                        lambda configs: [make(**c) for c in configs])


# --- every experiment, quick ----------------------------------------------


def test_every_exercise_runs_and_answers(quick_run):
    results, _ = quick_run
    assert list(results) == list(ex.REGISTRY)
    for id_, r in results.items():
        assert r.answer and r.settings, id_
        assert r.verdict in VERDICTS, (id_, r.verdict)
        assert r.tables and all(t.rows for t in r.tables), id_
        for t in r.tables:
            assert all(len(row) == len(t.header) for row in t.rows), id_
        assert r.seconds > 0


def test_report_has_every_section(quick_run):
    results, path = quick_run
    text = path.read_text(encoding='utf-8')
    assert mx.__version__ in text and np.__version__ in text
    assert '%s CPU(s)' % os.cpu_count() in text
    assert 'total run time' in text and 'mode: quick' in text
    for id_, r in results.items():
        assert '\n## %s\n' % id_ in text
        assert '| [%s](#%s) | %s |' % (id_, id_.replace('.', ''),
                                        r.verdict) in text
    for part in ('**Question.**', '**Run.**', '**Answer.**',
                 "**Learner's note.**"):
        assert text.count(part) == len(ex.REGISTRY), part
    assert text.count('|---|') >= sum(len(r.tables)
                                      for r in results.values())


# --- measurements against independent computations ------------------------


def test_4gram_storage_counts(quick_run):
    rows = quick_run[0]['6.1-4gram-storage'].data['rows']
    text = ''.join(read_corpus('jaychou'))[:ex.lab.QUICK_CHARS]
    first = rows[0]
    assert first.tokens == len(text)
    for n in range(1, 5):
        assert first.distinct[n - 1] == len({text[i:i + n] for i in range(
            len(text) - n + 1)})
    assert sum(first.positions) == 4 * len(text) - 6
    tm = read_corpus('timemachine')[:100000]
    counted = [r for r in rows if r.how == 'counted' and r.tokens == 100000]
    assert counted and counted[0].total == sum(
        len({tm[i:i + n] for i in range(len(tm) - n + 1)})
        for n in range(1, 5))


def test_storage_is_an_independent_count():
    from test_lang_model import raw_text
    jay = raw_text('jaychou')
    tm = raw_text('timemachine')
    texts = {'jaychou, 10000 characters used': jay[:10000],
             'jaychou, whole corpus': jay,
             'timemachine, first 100000 characters': tm[:100000]}
    rows = {name: ex.lang_model.storage(name, text, 4)
            for name, text in texts.items()}
    rows['jaychou at 100000 characters'] = ex.lang_model.estimate_storage(
        'jaychou at 100000 characters', jay, 4, 100000)
    for name, text in texts.items():
        row = rows[name]
        assert row.how == 'counted' and row.tokens == len(text)
        ids = np.frombuffer(text.encode('utf-32-le'), dtype=np.uint32)
        for n in range(1, 5):
            distinct = np.unique(sliding_window_view(ids, n), axis=0)
            assert row.distinct[n - 1] == len(distinct)
            assert row.positions[n - 1] == len(text) - n + 1
        assert row.total == sum(row.distinct)
    assert len(jay) < 100000  # so the 100,000-token row is an estimate
    est = rows['jaychou at 100000 characters']
    assert est.how.startswith('estimated') and est.tokens == 100000
    whole = rows['jaychou, whole corpus']
    for n in range(4):  # more text, more distinct n-grams, <= positions
        assert whole.distinct[n] < est.distinct[n] <= est.positions[n]


def test_estimate_follows_a_power_law():
    """Heaps' fit extrapolates a known growth: a text whose i-th token is
    new exactly when i is a perfect square (else a repeated 0) has about
    sqrt(T) distinct unigrams."""
    tokens, new = [], 0
    for i in range(4096):
        if math.isqrt(i) ** 2 == i:
            new += 1
            tokens.append(new)
        else:
            tokens.append(0)
    est = ex.lang_model.estimate_storage('squares', tokens, 1, 16384, parts=5)
    assert est.distinct[0] == pytest.approx(128, rel=0.02)


def test_ideal_gates_measurement(ctx):
    result = ex.gru.measure_gates(ctx=ctx, log=lambda *a: None)
    moved_by_x, moved_by_rest = result["ideal: R=0, Z=0 at t', Z=1 after"]
    assert moved_by_x > 0.1 and moved_by_rest == 0
    # the learner's R=0, Z=1 everywhere never reads X_t'
    assert result['R=0, Z=1 at every step'][0] == 0
    # without R=0 or Z=0 at t', the rest leaks in
    assert result["Z=1 after t' only"][1] > 0.1
    assert result["Z=0 at t', Z=1 after"][1] > 0.1
    assert result["ideal = tanh(X_t' W_xh + b_h)"] < 1e-6


def test_forced_gates_are_the_books_cell_when_free(ctx):
    params = [nd.random.uniform(-1, 1, shape=p.shape, ctx=ctx)
              for p in gru.cell_params(5, 4, ctx)]
    X = nd.random.normal(shape=(3, 5), ctx=ctx)
    H = nd.random.normal(shape=(3, 4), ctx=ctx)
    free, = ex.gru.forced_gru_cell(X, (H,), params)
    book, = gru.gru_cell(X, (H,), params)
    np.testing.assert_allclose(free.asnumpy(), book.asnumpy(), rtol=1e-6)
    copied, = ex.gru.forced_gru_cell(X, (H,), params, R=0, Z=1)
    np.testing.assert_allclose(copied.asnumpy(), H.asnumpy())


def test_output_size_is_the_vocabulary(quick_run):
    measured = quick_run[0]['6.2-output-size'].data['measured']
    text = read_corpus('jaychou')[:ex.lab.QUICK_CHARS]
    V = len(set(text))
    assert measured[0] == (V, V, V)


def test_bidirectional_shape_matches_gluon(quick_run, ctx):
    """The scratch H_t for h_f = h_b equals the width of Gluon's
    bidirectional layer output; the others are n x (h_f + h_b)."""
    rows = quick_run[0]['6.10-shapes'].data['rows']
    h = rows[0][0]
    layer = rnn.RNN(h, bidirectional=True)
    layer.initialize(ctx=ctx)
    Y = layer(nd.zeros((5, 2, 7), ctx=ctx))  # (T, n, 2h)
    assert rows[0][2] == '%dx%d' % Y.shape[1:]
    for h_f, h_b, H, *_ in rows:
        assert H == '2x%d' % (h_f + h_b)


def test_why_tanh_measures_the_trained_lstm(quick_run):
    data = quick_run[0]['6.8-why-tanh'].data
    assert data['gap'] < 1e-4  # the cell measured is Gluon's own
    lo, hi, _ = data['stats']['C~']
    assert -1 <= lo <= hi <= 1


def test_keep_graph_gradient_is_full_bptt(lab):
    """'keep graph' at batch 2 = the gradient of batch 2's loss through
    both batches recorded at once; 'no detach' = 'detach'."""
    hp = lab.hyper(BOOK)
    grads = {}
    for mode in ('detach', 'no detach', 'keep graph'):
        seed_all(0)
        model = build_model(ModelSpec('scratch', 'rnn', hp.num_hiddens),
                            lab.vocab_size, lab.ctx)
        grads[mode], _ = ex.rnn_scratch.detach_gradients(
            model, lab.corpus_indices, hp, lab.ctx, 2, mode)
    seed_all(0)
    model = build_model(ModelSpec('scratch', 'rnn', hp.num_hiddens),
                        lab.vocab_size, lab.ctx)
    (X1, _), (X2, Y2) = list(data_iter_consecutive(
        lab.corpus_indices, hp.batch_size, hp.num_steps, lab.ctx))[:2]
    loss = gloss.SoftmaxCrossEntropyLoss()
    with autograd.record():
        _, state = model(X1, model.begin_state(hp.batch_size))
        outputs, _ = model(X2, state)
        l = loss(outputs, Y2.T.reshape((-1,))).mean()
    l.backward()
    for a, b in zip(grads['keep graph'][1], model.grads()):
        np.testing.assert_allclose(a.asnumpy(), b.asnumpy(), rtol=1e-4,
                                   atol=1e-7)
    for a, b in zip(grads['no detach'][1], grads['detach'][1]):
        assert (a == b).asnumpy().all()
    assert max(float(nd.abs(a - b).max().asscalar()) for a, b in zip(
        grads['keep graph'][1], grads['detach'][1])) > 0


def test_operator_counts(lab):
    """The scratch RNN runs 3 dots a step forward (X W_xh, H W_hh, H W_hq);
    Gluon's rnn.RNN one fused RNN operator forward and one backward."""
    hp = lab.hyper(BOOK)
    counts = {}
    for impl in ('scratch', 'gluon'):
        seed_all(0)
        model = build_model(ModelSpec(impl, 'rnn', hp.num_hiddens),
                            lab.vocab_size, lab.ctx)
        if impl == 'gluon':
            model.prepare()
        counts[impl] = ex.rnn_gluon.operator_counts(
            model, lab.corpus_indices, hp, lab.ctx)
    assert counts['scratch']['dot'][0] == 3 * hp.num_steps
    assert counts['gluon']['RNN'][0] == 1
    assert counts['gluon']['_backward_RNN'][0] == 1
    assert 'dot' not in counts['gluon']


def test_one_output_product_is_the_same_model(lab):
    """The variant of 6.5-speed computes the scratch RNN's outputs."""
    seed_all(0)
    model = build_model(ModelSpec('scratch', 'rnn', 8), lab.vocab_size,
                        lab.ctx)
    X = nd.array([lab.corpus_indices[:6], lab.corpus_indices[6:12]])
    a, (H_a,) = model(X, model.begin_state(2))
    b, (H_b,) = ex.rnn_gluon.one_output_product(model)(X, model.begin_state(2))
    np.testing.assert_allclose(a.asnumpy(), b.asnumpy(), atol=1e-6)
    np.testing.assert_allclose(H_a.asnumpy(), H_b.asnumpy(), atol=1e-7)


def test_cell_work(lab):
    """2, 6 and 8 weight matrices; multiply-adds (V h + h h) per matrix
    pair, so GRU and LSTM do 3x and 4x the RNN's."""
    V, h = lab.vocab_size, 8
    work = ex.gru.cell_work(lab, ('rnn', 'gru', 'lstm'), h)
    assert work == {'rnn': (2, V * h + h * h), 'gru': (6, 3 * (V * h + h * h)),
                    'lstm': (8, 4 * (V * h + h * h))}


def test_grad_norm_and_book_exp():
    a, b = nd.array([[3.0, 0.0]]), nd.array([4.0, 12.0])
    ex64 = ex.rnn_scratch
    assert ex64.grad_norm([a, b]) == pytest.approx(13.0)
    assert ex64.book_exp(1000.0) == ('OverflowError', None)
    assert ex64.book_exp(math.log(5.0)) == ('finite', pytest.approx(5.0))
    assert ex64.book_exp(math.nan)[0] == 'nan'
    assert ex64.book_exp(math.inf)[0] == 'inf'  # math.exp(inf) raises none


def test_offset_sampling_trains_each_epoch(lab):
    hp = lab.hyper(BOOK, num_epochs=2)
    run = lab.train(hp, sampling='consecutive-offset')
    assert run.history.epochs == [1, 2] and not run.diverged
    with pytest.raises(BadInput):
        lab.train(hp, sampling='sideways')


# --- the words come from the numbers --------------------------------------


def test_words():
    assert ex.registry.speed(2.0, 1.0, 'B') == '2.0x slower than B'
    assert ex.registry.speed(0.5, 1.0) == '2.0x faster'
    assert ex.registry.speed(1.05, 1.0, 'B').startswith('about as fast as B')
    assert ex.registry.compare(1.0, 2.0) == 'lower'
    assert ex.registry.compare(2.0, 1.0) == 'higher'
    assert ex.registry.compare(1.0, 1.01) == 'about the same'
    assert ex.registry.judge([('a', True, ''), ('b', False, '')])[0] == \
        'partly confirmed'


def _speed_with(monkeypatch, lab, gluon_seconds, one_product=0.9):
    """6.5-speed with made-up times: scratch 1 s per epoch and per batch,
    Gluon ``gluon_seconds``, the scratch model with one output product
    ``one_product`` s per batch."""
    def train(hp, impl='scratch', *args, **kwargs):
        s = gluon_seconds if impl == 'gluon' else 1.0
        return fake_run(kwargs.get('label', impl), [5.0, 4.0], [s, s])
    fake_training(monkeypatch, lab, train)
    # models in order: scratch, Gluon relu, Gluon tanh, one output product
    monkeypatch.setattr(ex.rnn_gluon, 'batch_seconds', lambda *a: [
        1.0, gluon_seconds, gluon_seconds, one_product])
    return ex.REGISTRY['6.5-speed'].run(lab)


def test_speed_answer_follows_the_times(monkeypatch, lab):
    fast = _speed_with(monkeypatch, lab, 0.25)
    assert '4.0x faster than the scratch RNN' in fast.answer
    assert 'closing 13% of the gap' in fast.answer
    assert fast.verdict == 'partly confirmed'  # faster, not by the Dense
    dense = _speed_with(monkeypatch, lab, 0.25, one_product=0.4)
    assert 'closing 80% of the gap' in dense.answer
    assert dense.verdict == 'confirmed'
    slow = _speed_with(monkeypatch, lab, 2.0)
    assert '2.0x slower than the scratch RNN' in slow.answer
    assert 'with no gap to close' in slow.answer
    assert slow.verdict == 'refuted'


def _no_clip_with(monkeypatch, lab, means):
    def train(hp, *args, **kwargs):
        if hp.clipping_theta is None:
            return fake_run('no clipping', [50.0] * 6, [1.0] * 6,
                            TrainingDiverged(7, 50.0, 6))
        return fake_run('clipping', [300.0, 200.0], [1.0, 1.0])
    fake_training(monkeypatch, lab, train)
    monkeypatch.setattr(ex.rnn_scratch, 'book_epochs', lambda *a, **k: (
        means, [(6.9, 0.2), (40.0, 30.0)]))
    return ex.REGISTRY['6.4-no-clip'].run(lab)


def test_no_clip_answer_follows_the_run(monkeypatch, lab):
    overflow = _no_clip_with(monkeypatch, lab, [10.0, 800.0])
    assert 'random sampling diverged at epoch 7' in overflow.answer
    assert 'OverflowError' in overflow.answer
    assert overflow.verdict == 'confirmed'
    finite = _no_clip_with(monkeypatch, lab, [10.0, math.log(42.0)])
    assert 'perplexity 42.00' in finite.answer
    assert finite.verdict == 'refuted'
    nan = _no_clip_with(monkeypatch, lab, [math.nan])
    assert 'perplexity nan' in nan.answer and nan.verdict == 'refuted'


def _relu_with(monkeypatch, lab, relu, tanh):
    def train(hp, *args, activation='tanh', **kwargs):
        final, held = relu if activation == 'relu' else tanh
        return fake_run(activation, [600.0, final], [1.0, 1.0],
                        heldout=held)
    fake_training(monkeypatch, lab, train)
    return ex.REGISTRY['6.4-relu'].run(lab)


def test_relu_verdict_follows_the_perplexities(monkeypatch, lab):
    better = _relu_with(monkeypatch, lab, (2.0, 100.0), (5.0, 200.0))
    assert better.verdict == 'confirmed'
    assert "training perplexity is lower" in better.answer
    worse = _relu_with(monkeypatch, lab, (5.0, 200.0), (2.0, 100.0))
    assert worse.verdict == 'refuted'
    assert "training perplexity is higher" in worse.answer
    mixed = _relu_with(monkeypatch, lab, (2.0, 300.0), (5.0, 200.0))
    assert mixed.verdict == 'partly confirmed'


def _detach_with(monkeypatch, lab, no_detach_seconds):
    def train(hp, *args, detach=True, **kwargs):
        s = 1.0 if detach else no_detach_seconds
        return fake_run('x', [9.0, 8.0], [s, s])
    fake_training(monkeypatch, lab, train)
    return ex.REGISTRY['6.4-no-detach'].run(lab)


def test_no_detach_answer_follows_the_times(monkeypatch, lab):
    same = _detach_with(monkeypatch, lab, 1.02)
    assert 'about as fast as with detach' in same.answer
    assert same.verdict == 'confirmed'
    slow = _detach_with(monkeypatch, lab, 3.0)
    assert '3.0x slower than with detach' in slow.answer
    assert slow.verdict == 'refuted'
    # the gradient part is measured for real: MXNet cut the graph anyway
    assert max(slow.data['gaps']['no detach']) == 0
    assert 'equal the detached ones' in slow.answer


def test_time_order_verdict(monkeypatch, lab):
    def timed(times):
        fake_training(monkeypatch, lab, lambda hp, cell='rnn', **kw: fake_run(
            cell, [9.0, 8.0], [times[cell]] * 2))
        return ex.REGISTRY['6.8-time'].run(lab)

    ordered = timed({'rnn': 1.0, 'gru': 3.0, 'lstm': 4.0})
    assert ordered.verdict == 'confirmed'
    assert 'the LSTM ran 1.3x slower than the GRU' in ordered.answer
    reversed_ = timed({'rnn': 4.0, 'gru': 3.0, 'lstm': 1.0})
    assert reversed_.verdict == 'refuted'
    assert 'the LSTM ran 3.0x faster than the GRU' in reversed_.answer


def test_ideal_gates_verdict_follows_the_measurement(monkeypatch, lab):
    measured = ex.gru.measure_gates(ctx=lab.ctx, log=lambda *a: None)
    result = ex.REGISTRY['6.7-ideal-gates'].run(lab)
    learner = measured[ex.gru.LEARNER_GATES]
    assert result.verdict == ('confirmed' if learner[0] > ex.gru.ALONE
                              and learner[1] < ex.gru.ALONE else 'refuted')
    fake = dict(measured)
    fake[ex.gru.LEARNER_GATES] = (1.0, 0.0)
    monkeypatch.setattr(ex.gru, 'measure_gates', lambda **kw: dict(fake))
    result = ex.REGISTRY['6.7-ideal-gates'].run(lab)
    assert result.verdict == 'confirmed'
    assert ex.gru.LEARNER_GATES in result.answer


def test_two_layers_verdict(monkeypatch, lab):
    def with_(two):
        def train(hp, *args, num_layers=1, **kwargs):
            ppl, s = two if num_layers == 2 else ((600.0, 400.0), 1.0)
            return fake_run('%d' % num_layers, ppl, [s, s])
        fake_training(monkeypatch, lab, train)
        return ex.REGISTRY['6.9-two-layers'].run(lab)

    assert with_(((650.0, 420.0), 2.0)).verdict == 'confirmed'
    r = with_(((550.0, 300.0), 0.5))
    assert r.verdict == 'refuted' and '2.0x faster than one layer' in \
        r.answer


# --- the command line -----------------------------------------------------


def test_list(capsys):
    assert ex.main(['--list']) == list(ex.REGISTRY)
    out = capsys.readouterr().out
    for id_, e in ex.REGISTRY.items():
        assert id_ in out and e.question[:30] in out


def test_select():
    assert [e.id for e in ex.select(['6.4'])] == [
        k for k in ex.REGISTRY if k.startswith('6.4-')]
    assert [e.id for e in ex.select(['6.8-time', '6.8'])][0] == '6.8-time'
    with pytest.raises(BadInput) as e:
        ex.main(['6.99-nope'])
    for id_ in ex.REGISTRY:
        assert id_ in str(e.value)


def test_command_line_lists_the_exercises(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != 'D2L_CH6_QUICK'}
    p = subprocess.run([sys.executable, '-m', 'd2l_ch6', 'exercises',
                        '--list'], capture_output=True, text=True, env=env,
                       cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr
    for id_ in ex.REGISTRY:
        assert id_ in p.stdout
    p = subprocess.run([sys.executable, '-m', 'd2l_ch6', 'exercises',
                        'nope'], capture_output=True, text=True, env=env,
                       cwd=str(tmp_path))
    assert p.returncode == 2
    assert p.stderr.startswith('error: unknown exercise') and \
        '6.4-no-detach' in p.stderr
