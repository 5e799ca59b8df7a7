"""The benchmark: a tiny run writes every field and a PNG; the work it
counts equals a hand count and the matrix products the models really make."""
import json
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
from mxnet import nd

from d2l_ch6.tools import bench, bench_report, work
from d2l_ch6.core import plots
from d2l_ch6.core import fast as fast_path
from d2l_ch6.core.data import num_batches
from d2l_ch6.core.models import ModelSpec
from d2l_ch6.tools.zoo import build_model

FIELDS = ['model', 'impl', 'ctx', 'sec_per_epoch', 'sec_min', 'sec_max',
          'tokens_per_sec', 'gflop_per_epoch', 'gflops', 'limit_gflops',
          'limit_fraction', 'shape_limit_seconds', 'shape_fraction',
          'book_sec_per_epoch', 'speedup_vs_book']


def test_tiny_run_writes_json_and_png(tmp_path, capsys):
    pytest.importorskip('d2lzh')
    path, png = tmp_path / 'bench.json', tmp_path / 'bench.png'
    rows = bench.main(['--ctx', 'cpu', '--timed-epochs', '1',
                       '--sweep-num-hiddens', '8', '--sweep-num-chars', '2000',
                       '--square', '128',
                       '--models', 'rnn-scratch,gru-gluon', '--quiet',
                       '--json', str(path), '--plot', str(png)])
    saved = json.loads(path.read_text())
    assert saved == json.loads(json.dumps(rows))
    assert [(r['model'], r['impl']) for r in saved] == [
        ('rnn', 'scratch'), ('gru', 'gluon')]
    for r in saved:
        assert all(r[f] is not None for f in FIELDS), r
        assert r['ctx'] == 'cpu(0)' and r['epochs'] == 1
        assert r['sec_min'] <= r['sec_per_epoch'] <= r['sec_max']
        assert r['speedup_vs_book'] == pytest.approx(
            r['book_sec_per_epoch'] / r['sec_per_epoch'])
        assert r['gflops'] == pytest.approx(
            r['gflop_per_epoch'] / r['sec_per_epoch'])
        assert r['limit_fraction'] == pytest.approx(
            r['gflops'] / r['limit_gflops'])
        assert r['shape_fraction'] == pytest.approx(
            r['shape_limit_seconds'] / r['sec_per_epoch'])
        assert 0 < r['shape_limit_seconds'] < r['sec_per_epoch']
        assert r['peer'] is None and r['speedup_vs_peer'] is None
        # 2000 characters: one batch of 32 x 35 per epoch
        assert r['batches_per_epoch'] == 1
        assert r['tokens_per_sec'] == pytest.approx(32 * 35 /
                                                    r['sec_per_epoch'])
    assert saved[0]['fast'] and saved[1]['fast']  # both forms' fast form
    data = png.read_bytes()
    assert data[:8] == b'\x89PNG\r\n\x1a\n'
    import matplotlib.image
    assert matplotlib.image.imread(str(png)).shape[:2][0] > 100
    out = capsys.readouterr().out
    assert 'rnn scratch fast cpu(0)' in out and 'gru gluon fast cpu(0)' in out


def test_no_book_and_plain_scratch(capsys):
    rows = bench.main(['--ctx', 'cpu', '--timed-epochs', '2',
                       '--sweep-num-hiddens', '4', '--sweep-num-chars', '2000',
                       '--square', '64',
                       '--models', 'lstm-scratch', '--no-fast', '--no-book',
                       '--quiet'])
    r, = rows
    assert not r['fast'] and r['book_sec_per_epoch'] is None
    assert r['speedup_vs_book'] is None and len(r['seconds']) == 2


def test_unknown_model_is_a_usage_error():
    with pytest.raises(SystemExit):
        bench.main(['--models', 'transformer'])


def hand_count_gru(V, h, B, T, fast):
    """The scratch GRU of one batch, counted by hand: per step three gates,
    each X (B, V) W_x (V, h) and H (B, h) W_h (h, h); then the output
    layer (T * B, h) W_hq (h, V). Forward 2mkn each; backward 2mkn for the
    weight and 2mkn for H (not for one-hot X)."""
    x_product = 2 * B * V * h * 2  # forward + weight gradient
    h_product = 2 * B * h * h * 3  # forward + weight + H gradients
    output = 2 * T * B * h * V * 3
    per_step = 3 * ((0 if fast else x_product) + h_product)
    return T * per_step + output


@pytest.mark.parametrize('fast', [False, True])
def test_flops_equal_a_hand_count(fast):
    spec = ModelSpec('scratch', 'gru', 6)
    prods = work.products(spec, 13, 3, 5, fast)
    assert work.flops(prods) == hand_count_gru(13, 6, 3, 5, fast)


def test_flops_of_two_bidirectional_layers_by_hand():
    V, h, B, T = 9, 4, 2, 3
    spec = ModelSpec('gluon', 'lstm', h, num_layers=2, bidirectional=True)
    g = 4 * h
    layer1 = 2 * (2 * T * B * V * g * 2 + 2 * T * B * h * g * 3)
    layer2 = 2 * (2 * T * B * 2 * h * g * 3 + 2 * T * B * h * g * 3)
    output = 2 * T * B * 2 * h * V * 3
    assert work.flops(work.products(spec, V, B, T)) == (
        layer1 + layer2 + output)


SPECS = [ModelSpec('scratch', cell, 5, num_layers, bidirectional)
         for cell in ('rnn', 'gru', 'lstm')
         for num_layers, bidirectional in ((1, False), (2, False),
                                           (2, True))]


@pytest.mark.parametrize('fast', [False, True])
@pytest.mark.parametrize('spec', SPECS, ids=lambda s: s.describe())
def test_forward_count_equals_the_products_the_model_makes(
        spec, fast, monkeypatch, ctx):
    """Count 2mkn of every product (nd.dot, nd.FullyConnected) a scratch
    model really makes in one forward pass; compare with the forward share
    of the counter."""
    V, B, T = 7, 3, 4
    model = build_model(spec, V, ctx, fast=fast)
    X = nd.array(np.random.randint(0, V, size=(B, T)), ctx=ctx)
    state = model.begin_state(B)
    made = []
    dot, fully_connected = nd.dot, nd.FullyConnected

    def counting_dot(a, b, **kwargs):
        made.append(2 * a.shape[0] * a.shape[1] * b.shape[1])
        return dot(a, b, **kwargs)

    def counting_fc(data, weight, *args, **kwargs):
        made.append(2 * data.shape[0] * data.shape[1] * weight.shape[0])
        return fully_connected(data, weight, *args, **kwargs)
    monkeypatch.setattr(nd, 'dot', counting_dot)
    monkeypatch.setattr(nd, 'FullyConnected', counting_fc)
    if fast:  # its graph run imperatively, so that nd's products are seen
        unrolled = fast_path.Unrolled(spec, V, T, params=model.params)
        unrolled(X, *state)
    else:
        model(X, state)
    forward = sum(2 * m * k * n * times for _, m, k, n, times, _ in
                  work.products(spec, V, B, T, fast))
    assert sum(made) == forward


def test_num_batches_is_the_sampler_count(jay):
    corpus_indices = jay[0]
    # (10000 // 32 - 1) // 35 = 8 batches: the book's epoch
    assert num_batches(len(corpus_indices), 32, 35, False) == 8
    assert num_batches(2000, 32, 35, False) == 1


def test_models_table_matches_the_sections():
    assert len(bench.MODELS) == 10
    names = {bench.model_name(spec) + ' ' + spec.impl
             for _, spec in bench.MODELS.values()}
    assert names == {'%s %s' % (m, i) for m in
                     ('rnn', 'gru', 'lstm', 'deep-rnn', 'bi-rnn')
                     for i in ('scratch', 'gluon')}
    # 6.5's Gluon RNN is rnn.RNN with its default ReLU
    assert bench.MODELS['rnn-gluon'][1] == replace(
        ModelSpec('gluon', 'rnn'), activation='relu')


def cpuinfo_cores():
    """Physical cores from /proc/cpuinfo: distinct (physical id, core id)
    of the CPUs this process may use (None where the file lacks them)."""
    try:
        text = open('/proc/cpuinfo').read()
    except OSError:
        return None
    allowed, cores = os.sched_getaffinity(0), set()
    for block in text.strip().split('\n\n'):
        fields = dict(line.split(':', 1) for line in block.splitlines()
                      if ':' in line)
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        if 'core id' not in fields:
            return None
        if int(fields['processor']) in allowed:
            cores.add((fields.get('physical id'), fields['core id']))
    return len(cores) or None


def test_physical_cores_counts_each_core_once():
    from d2l_ch6.core import env as _env
    expected = cpuinfo_cores()
    if expected is None:
        pytest.skip('no core ids in /proc/cpuinfo')
    assert _env.physical_cores() == expected


@pytest.mark.parametrize('preset', [None, '3'])
def test_omp_threads_default_and_the_users_value(preset):
    env = {k: v for k, v in os.environ.items() if k != 'OMP_NUM_THREADS'}
    if preset:
        env['OMP_NUM_THREADS'] = preset
    out = subprocess.run(
        [sys.executable, '-c', 'import os, d2l_ch6, d2l_ch6.core.env as e; '
         'print(os.environ["OMP_NUM_THREADS"], e.physical_cores())'],
        env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == (preset or out[1])


def test_sweep_plot_is_time_against_work(tmp_path, monkeypatch):
    """A sweep draws seconds per epoch against GFLOP (one line per model),
    not bars whose labels would overlap."""
    rows = [dict(model=m, impl='gluon', ctx='cpu(0)', gflop_per_epoch=g,
                 sec_per_epoch=g / 90, book_sec_per_epoch=g / 60)
            for m in ('rnn', 'lstm') for g in (10.0, 20.0, 40.0)]
    drawn = []

    def new_figure(*args, **kwargs):
        fig, ax = plots.new_figure(*args, **kwargs)
        drawn.append(ax)
        return fig, ax
    monkeypatch.setattr(bench_report, 'new_figure', new_figure)
    png = bench_report.plot(str(tmp_path / 'sweep.png'), rows, sweep=True)
    assert open(png, 'rb').read(8) == b'\x89PNG\r\n\x1a\n'
    ax, = drawn
    assert ax.get_xscale() == 'log' and ax.get_yscale() == 'log'
    # ours and the book's line per model, and the slope-1 guide
    assert len(ax.lines) == 2 * 2 + 1


class FixedRate(work.Limits):
    """Limits with every product at 10 GFLOP/s and every gather 1 ms."""

    def __init__(self):
        self._best, self._gathers = {}, {}

    def best(self, m, k, n):
        return 10.0

    def gather(self, rows, table_rows, width):
        return 1e-3


@pytest.mark.parametrize('spec, fast', [
    (ModelSpec('scratch', 'lstm', 6), True),
    (ModelSpec('scratch', 'gru', 6, 2, True), True),
    (ModelSpec('gluon', 'rnn', 6, 2), False)], ids=str)
def test_shape_limit_is_every_product_at_its_rate(spec, fast):
    """At a fixed rate the shape limit is the FLOP count over that rate,
    plus the gathers: the backward's products are the ones flops counts."""
    V, B, T = 11, 3, 4
    prods = work.products(spec, V, B, T, fast)
    gathered = work.gathers(spec, V, B, T, fast)
    assert len(gathered) == (spec.num_directions if fast else 0)
    seconds = FixedRate().batch_seconds(prods, gathered)
    assert seconds == pytest.approx(work.flops(prods) / 10e9
                                    + 1e-3 * len(gathered))


def test_backward_shapes_by_hand():
    # Y (m, n) = X (m, k) W (k, n): dW = X^T dY is (k, m) by (m, n), dX =
    # dY W^T is (m, n) by (n, k)
    assert work.backward_shapes(2, 3, 5, True) == [(3, 2, 5), (2, 5, 3)]
    assert work.backward_shapes(2, 3, 5, False) == [(3, 2, 5)]


def test_measured_limits_are_sane():
    from mxnet import cpu
    limits = work.Limits(cpu(), square=64)
    assert limits.square > 0 and 'FullyConnected 64x64x64' in limits.probes
    assert limits.best(8, 16, 32) > 0
    assert 0 < limits.gather(20, 10, 8) < 1
