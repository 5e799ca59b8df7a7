"""The exercises of 6.5 循环神经网络的简洁实现, each answered by a run."""
import json
import math
import os
import statistics
import tempfile
import time

from mxnet import nd, profiler

from .. import rnn_scratch
from ..core.models import ModelSpec, ScratchModel, unroll
from ..core.trainer import BOOK, Trainer, seed_all
from ..tools.zoo import build_model
from .registry import (TOLERANCE, Result, Table, exercise, fmt, judge, ratio,
                       speed)


def operator_counts(model, corpus_indices, hp, ctx):
    """Profile one batch (forward, backward, clipping, update) of ``model``
    after a warm-up batch: {operator: (calls, total ms)} from mxnet's
    profiler (memory bookkeeping 'DeleteVariable' left out)."""
    trainer = Trainer(model, hp, ctx=ctx)
    X, Y = next(trainer.sampler(corpus_indices))

    def batch():
        trainer.step(X, Y, model.begin_state(hp.batch_size))
        nd.waitall()

    batch()
    with tempfile.TemporaryDirectory() as tmp:
        profiler.set_config(profile_imperative=True, profile_symbolic=True,
                            aggregate_stats=True,
                            filename=os.path.join(tmp, 'profile.json'))
        profiler.set_state('run')
        try:
            batch()
        finally:
            profiler.set_state('stop')
        stats = json.loads(profiler.dumps(reset=True, format='json'))
    ops = stats.get('Time', {}).get('operator', {})
    return {name: (v['Count'], v['Total']) for name, v in ops.items()
            if name != 'DeleteVariable'}




def one_output_product(model):
    """The scratch RNN ``model`` (same parameters) with its output layer
    applied once to the H of all steps, one (T*B, h) x (h, V) product like
    Gluon's Dense, instead of once per step."""
    def rnn(inputs, state, params):
        W_hq, b_q = params[-2:]
        Hs, state = unroll(rnn_scratch.rnn_cell, inputs, state, params)
        return [nd.dot(nd.concat(*Hs, dim=0), W_hq) + b_q], state
    return ScratchModel(rnn, model.params, model.init_rnn_state,
                        model.num_hiddens, model.vocab_size, model.ctx)


def batch_seconds(models, corpus_indices, hp, ctx, rounds):
    """Median seconds of one training batch (forward, backward, clipping,
    update) of each model, the models taking turns batch by batch."""
    trainers = [Trainer(m, hp, ctx=ctx) for m in models]
    seconds = [[] for _ in models]
    batches = list(trainers[0].sampler(corpus_indices))
    for k in range(rounds):
        X, Y = batches[k % len(batches)]
        for model, trainer, times in zip(models, trainers, seconds):
            start = time.time()
            trainer.step(X, Y, model.begin_state(hp.batch_size))
            nd.waitall()
            times.append(time.time() - start)
    return [statistics.median(t[1:] or t) for t in seconds]


@exercise('6.5-speed',
          'Is the Gluon implementation faster than the scratch one of 6.4? '
          'If so, why?',
          'Gluon is faster (0.3 s -> 0.05 s per epoch); reasons: its Dense '
          'layer instead of vector operations, d2l\'s gradient code, how '
          'parameters are read')
def gluon_speed(lab):
    hp = lab.hyper(BOOK, num_epochs=lab.epochs(4, 2))
    models = [('scratch', 'tanh', '6.4 scratch RNN (tanh)'),
              ('gluon', 'relu', '6.5 rnn.RNN (relu, the book)'),
              ('gluon', 'tanh', 'rnn.RNN (tanh)')]
    runs = lab.train_many([dict(hp=hp, impl=impl, activation=act,
                                sampling='consecutive', label=label)
                           for impl, act, label in models])
    epoch_seconds = {label: r.seconds_per_epoch
                     for (_, _, label), r in zip(models, runs)}
    fresh = {}
    for impl, act, label in models:
        seed_all(lab.seed)
        fresh[label] = build_model(ModelSpec(impl, 'rnn', hp.num_hiddens,
                                             activation=act),
                                   lab.vocab_size, lab.ctx)
        fresh[label].prepare()
    one = 'scratch RNN, one output product'
    fresh[one] = one_output_product(fresh[models[0][2]])
    per_batch = dict(zip(fresh, batch_seconds(
        list(fresh.values()), lab.corpus_indices, hp, lab.ctx,
        lab.epochs(20, 3))))
    rows, data = [], {}
    for label, model in fresh.items():
        ops = operator_counts(model, lab.corpus_indices, hp, lab.ctx)
        calls = sum(c for c, _ in ops.values())
        ms = sum(t for _, t in ops.values())
        top = sorted(ops.items(), key=lambda kv: -kv[1][1])[:3]
        data[label] = dict(seconds=epoch_seconds.get(label, math.nan),
                           batch=per_batch[label], calls=calls, ms=ms,
                           ops=ops)
        rows.append((label, fmt(data[label]['seconds'], '%.3f'),
                     fmt(1000 * per_batch[label], '%.1f'), calls,
                     fmt(ms, '%.1f'), ', '.join(
                         '%s x%d %.1f ms' % (n, c, t)
                         for n, (c, t) in top)))
    table = Table(('model', 's/epoch', 'ms/batch', 'operator calls per '
                   'batch', 'operator ms per batch',
                   'most time: operator x calls'),
                  rows, 'one batch = forward, backward, clipping, update '
                  '(operators: mxnet.profiler)')
    s, g, o = data[models[0][2]], data[models[2][2]], data[one]
    fused = sorted(n for n in g['ops'] if 'RNN' in n)
    faster = g['seconds'] * (1 + TOLERANCE) < s['seconds']
    # the share of the scratch -> Gluon gap one output product closes
    closed = ratio(s['batch'] - o['batch'], s['batch'] - g['batch'])
    answer = ('Gluon\'s rnn.RNN (tanh, the same model) ran %s: %.3f vs '
              '%.3f s per epoch. Per batch the scratch RNN issued %d '
              'operator calls (%d time steps unrolled into dot, '
              'broadcast_add, tanh and their backward) and Gluon %d (%s: '
              'the recurrence forward and backward run as single fused '
              'operators), %.0fx fewer. Applying the scratch output layer '
              'once to all steps, as a Dense layer does, took %.1f instead '
              'of %.1f ms per batch (Gluon: %.1f ms), %s.' % (
                  speed(g['seconds'], s['seconds'], 'the scratch RNN'),
                  g['seconds'], s['seconds'], s['calls'], hp.num_steps,
                  g['calls'], ', '.join(fused) or 'no RNN operator found',
                  ratio(s['calls'], g['calls']), 1000 * o['batch'],
                  1000 * s['batch'], 1000 * g['batch'],
                  'closing %.0f%% of the gap' % (100 * closed)
                  if s['batch'] > g['batch'] else 'with no gap to close'))
    checks = [('Gluon is faster', faster,
               speed(g['seconds'], s['seconds']) + ' here; the learner '
               'measured 6x')]
    if faster:
        checks.append((
            'the Dense layer explains it', closed > 0.5,
            'one output product closes %.0f%% of the per-batch gap; the '
            'operator count falls from %d to %d calls' % (
                100 * closed, s['calls'], g['calls'])))
    verdict, note = judge(checks)
    note += ' (The other reasons named were not isolated by a run.)'
    return Result('the book\'s settings, consecutive sampling, %d epochs '
                  'each (s/epoch: median after the first); then fresh '
                  'models taking turns for %d batches (ms/batch: median) '
                  'and a profile of one batch after a warm-up batch' % (
                      hp.num_epochs, lab.epochs(20, 3)), [table],
                  answer, verdict, note, data)
