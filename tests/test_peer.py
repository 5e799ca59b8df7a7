"""The benchmark's PyTorch peer trains the same model: from the same initial
weights its perplexity after a few epochs equals ours (concise and scratch,
deep and bidirectional); the bench reports it beside ours; without PyTorch
it says so in one line and runs on."""
import json
import os
import re
from dataclasses import replace

import pytest
from mxnet import nd

from d2l_ch6.tools import bench, peer
from d2l_ch6.core.errors import BadInput
from d2l_ch6.core.models import ModelSpec
from d2l_ch6.tools.peer import Peer, peer_version
from d2l_ch6.core.trainer import BOOK

torch_version = peer_version()
needs_torch = pytest.mark.skipif(torch_version is None,
                                 reason='PyTorch is not installed')

SPECS = [ModelSpec('scratch', 'gru', 16), ModelSpec('scratch', 'lstm', 16),
         ModelSpec('scratch', 'rnn', 16, 2),
         ModelSpec('scratch', 'rnn', 16, bidirectional=True),
         ModelSpec('gluon', 'rnn', 16, activation='relu'),
         ModelSpec('gluon', 'gru', 16), ModelSpec('gluon', 'lstm', 16, 2),
         ModelSpec('gluon', 'rnn', 16, bidirectional=True)]


@pytest.fixture(scope='module')
def small(jay):
    corpus_indices, char_to_idx, idx_to_char, vocab_size = jay
    return corpus_indices[:3000], char_to_idx, idx_to_char, vocab_size


def start(spec, data, ctx, scale=0.3):
    """Our model with weights and biases drawn from N(0, scale^2): far from
    the book's tiny start, so that another start would show at once."""
    model = bench.fresh_model(spec, data[3], replace(
        BOOK, num_hiddens=spec.num_hiddens), ctx, fast=True)
    arrays = {k: nd.random.normal(scale=scale, shape=v.shape, ctx=ctx)
              for k, v in model.state_dict().items()}
    model.load_state_dict(arrays)
    return model


@needs_torch
@pytest.mark.parametrize('spec', SPECS, ids=lambda s: s.describe())
def test_the_peer_trains_the_same_model(spec, small, ctx):
    hp = replace(BOOK, num_hiddens=spec.num_hiddens)
    model = start(spec, small, ctx)
    weights = bench.peer_weights(model)
    run = bench.epoch_runner(model, small, hp, ctx)
    ours = [run().perplexity[-1] for _ in range(3)]
    with Peer(spec, small, hp, weights) as peer:
        for _ in range(3):
            assert peer.epoch() > 0
        theirs = peer.perplexity
    assert ours[-1] < ours[0]  # it trained
    # the same model and updates in float32: equal to a few parts in 1e4
    assert theirs == pytest.approx(ours, rel=1e-3)


@needs_torch
@pytest.mark.parametrize('spec', SPECS[:1] + SPECS[5:6],
                         ids=lambda s: s.describe())
def test_another_start_would_be_caught(spec, small, ctx):
    """The comparison above can fail: from other weights, other
    perplexities."""
    hp = replace(BOOK, num_hiddens=spec.num_hiddens)
    model = start(spec, small, ctx)
    weights = bench.peer_weights(model)
    ours = bench.epoch_runner(model, small, hp, ctx)().perplexity[-1]
    other = {k: v * 1.2 for k, v in weights.items()}
    with Peer(spec, small, hp, other) as peer:
        peer.epoch()
    assert peer.perplexity[0] != pytest.approx(ours, rel=1e-2)


@needs_torch
def test_bench_reports_the_peer(tmp_path, capsys):
    path = tmp_path / 'b.json'
    rows = bench.main(['--ctx', 'cpu', '--timed-epochs', '1',
                       '--sweep-num-hiddens', '8', '--sweep-num-chars', '2000',
                       '--square', '64',
                       '--models', 'lstm-scratch,rnn-gluon', '--no-book',
                       '--peer', 'torch', '--quiet', '--json', str(path),
                       '--phases'])
    for r in json.loads(path.read_text()):
        assert r['peer'].startswith('torch ')
        assert len(r['peer_seconds']) == 1
        assert r['speedup_vs_peer'] == pytest.approx(
            r['peer_sec_per_epoch'] / r['sec_per_epoch'])
        for phases in (r['phases'], r['peer_phases']):
            assert all(phases[k] > 0 for k in ('model', 'clip', 'update'))
            assert phases['rest'] >= 0 and phases['epoch'] == pytest.approx(
                sum(phases[k] for k in ('model', 'clip', 'update', 'rest')))
    out = capsys.readouterr().out
    assert 'torch/us' in out and len(rows) == 2
    assert 'ms per batch' in out
    assert len(re.findall(r'^\S.* torch {3,}\d', out, re.M)) == 2


@pytest.mark.parametrize('spec', SPECS[1:2] + SPECS[4:5],
                         ids=lambda s: s.describe())
def test_the_phased_epoch_is_an_epoch_of_fit(spec, small, ctx):
    """Timed part by part, the epoch still does what fit's does: from the
    same start, the same weights after it."""
    hp = replace(BOOK, num_hiddens=spec.num_hiddens)
    a, b = start(spec, small, ctx), start(spec, small, ctx)
    b.load_state_dict(a.state_dict())
    bench.epoch_runner(a, small, hp, ctx)()
    phases = bench.phase_epoch(b, small, hp, ctx)
    assert phases['epoch'] > phases['model'] > 0
    for k, v in a.state_dict().items():
        assert abs(v - b.state_dict()[k]).max().asscalar() < 1e-5


def test_without_torch_one_line_and_the_bench_runs(monkeypatch, capsys):
    monkeypatch.setattr(bench, 'peer_version', lambda: None)
    rows = bench.main(['--ctx', 'cpu', '--timed-epochs', '1',
                       '--sweep-num-hiddens', '4', '--sweep-num-chars', '2000',
                       '--square', '64',
                       '--models', 'rnn-scratch', '--no-book', '--peer',
                       'torch', '--quiet'])
    out = capsys.readouterr().out
    assert out.count('PyTorch is not installed') == 1
    assert rows[0]['peer'] is None


def test_a_failing_peer_is_one_clear_error(small, tmp_path, monkeypatch):
    broken = tmp_path / 'peer.py'
    broken.write_text('import sys\nsys.exit("ImportError: no torch here")\n')
    monkeypatch.setattr(peer, 'PEER', str(broken))
    spec = ModelSpec('scratch', 'rnn', 4)
    with pytest.raises(BadInput, match='the PyTorch peer failed on .*: '
                       'ImportError: no torch here'):
        with Peer(spec, small, replace(BOOK, num_hiddens=4), {}):
            pass
    assert not [f for f in os.listdir(tmp_path) if f != 'peer.py']
