"""The exercises of 6.4 循环神经网络的从零开始实现, each answered by a run."""
import collections
import math
import statistics
import time
from dataclasses import replace

from mxnet import nd

from ..core.models import ModelSpec
from ..core.errors import TrainingDiverged
from ..core.trainer import BOOK, Trainer, seed_all
from ..tools.zoo import build_model
from .lab import converged, tune, tune_answer, tune_table, variants
from .registry import (TOLERANCE, Result, Table, compare, exercise, fmt, judge,
                       ratio, speed)


def grad_norm(grads):
    """The global L2 norm of ``grads`` (what clipping compares with theta)."""
    return float(nd.sqrt(nd.add_n(*[(g * g).sum() for g in grads]))
                 .asscalar())


def book_epochs(model, corpus_indices, hp, ctx, is_random_iter, num_epochs):
    """The book's loop, through the trainer, reading each batch's loss on
    the host as the book does: for each epoch the mean loss ``l_sum / n``
    the book passes to ``math.exp``, and for the first epoch every batch's
    (loss, gradient norm before clipping). Stops at the first epoch whose
    perplexity is not finite (where the book's ``math.exp`` overflows, or
    prints nan from then on)."""
    norms = []  # before clipping, in the first epoch
    means, first, sums = [], [], dict(l=0.0, n=0)

    def inspect(m):
        norms.append(grad_norm(m.grads()))

    def on_batch(t, l, tokens):
        value = float(l.asscalar())  # the book's host read, every batch
        if t.epoch == 0:
            first.append((value, norms[-1]))
        sums['l'] += value * tokens  # the book's host sums
        sums['n'] += tokens

    def on_record(t):
        means.append(sums['l'] / sums['n'])
        sums.update(l=0.0, n=0)
        t.step_options.pop('inspect', None)  # the first epoch's only

    trainer = Trainer(model, replace(hp, num_epochs=num_epochs,
                                     pred_period=num_epochs), ctx=ctx,
                      is_random_iter=is_random_iter, log=lambda *a: None,
                      step_options=dict(inspect=inspect))
    try:
        trainer.fit(corpus_indices, on_batch=on_batch, on_record=on_record,
                    report_last=False)
    except TrainingDiverged:
        means.append(sums['l'] / sums['n'])
    return means, first


def book_exp(mean_loss):
    """What the book's ``math.exp(l_sum / n)`` does with ``mean_loss``:
    ('OverflowError', None), ('nan', nan), ('inf', inf) or ('finite',
    perplexity)."""
    try:
        value = math.exp(mean_loss)
    except OverflowError:
        return 'OverflowError', None
    if math.isnan(value):
        return 'nan', value
    return ('inf' if math.isinf(value) else 'finite'), value


def detach_gradients(model, corpus_indices, hp, ctx, num_batches_, mode):
    """The gradients and seconds of the first ``num_batches_`` consecutive
    batches without parameter updates, the state carried over: 'detach'
    (the book), 'no detach' (the graph of the previous batch is freed by
    its backward, as MXNet does by default) or 'keep graph' (backward with
    retain_graph=True, so gradients flow into every earlier batch).
    Returns ([grads copies per batch], [seconds per batch])."""
    grads, seconds, last = [], [], [time.time()]

    def on_batch(t, l, tokens):
        grads.append([g.copy() for g in t.model.grads()])
        nd.waitall()
        seconds.append(time.time() - last[0])
        last[0] = time.time()

    # no clipping, no update: the gradients as backward left them
    trainer = Trainer(model, hp, ctx=ctx, detach=mode == 'detach',
                      log=lambda *a: None, step_options=dict(
                          clip=False, update=False,
                          retain_graph=mode == 'keep graph'))
    trainer.fit(corpus_indices, on_batch=on_batch, max_batches=num_batches_)
    return grads, seconds


@exercise('6.4-hparams',
          'Tune the hyper-parameters: how do they change the time per '
          'epoch, the perplexity and the lyrics?',
          'num_hiddens 512 converges faster; a smaller batch_size takes '
          'longer but helps convergence; lr = e does not converge')
def hparams(lab):
    base = lab.hyper(BOOK, num_epochs=lab.epochs(60))
    plans = variants(base)
    runs = tune(lab, base, plans, 'scratch', 'rnn', 'random')
    labels = [label for label, _ in plans]
    book, big, small_b, lr_e = (runs[labels[0]], runs[labels[2]],
                                runs[labels[5]], runs[labels[7]])
    checks = [
        ('%s converges faster' % labels[2],
         big.final < book.final * 0.95,
         'perplexity %s vs %s' % (fmt(big.final), fmt(book.final))),
        ('%s takes longer' % labels[5],
         small_b.seconds_per_epoch > book.seconds_per_epoch
         * (1 + TOLERANCE),
         '%s per epoch' % speed(small_b.seconds_per_epoch,
                                book.seconds_per_epoch)),
        ('%s helps convergence' % labels[5],
         small_b.final < book.final * 0.95,
         'perplexity %s vs %s' % (fmt(small_b.final), fmt(book.final))),
        ('lr e does not converge', not converged(lr_e),
         'perplexity %s after the first epoch, %s after the last' % (
             fmt(lr_e.at(1)), fmt(lr_e.final))),
    ]
    verdict, note = judge(checks)
    early = max(1, base.num_epochs // 4)
    return Result('scratch RNN, random sampling (the book\'s first run), %d '
                  'epochs per variant (the book: 250), one setting changed '
                  'at a time; %s' % (base.num_epochs, lab.heldout_note()),
                  [tune_table(runs, base, early)], tune_answer(runs),
                  verdict, note, dict(runs=runs))


@exercise('6.4-no-clip',
          'What happens when 6.4 trains without gradient clipping?',
          'it fails with "OverflowError: math range error"')
def no_clip(lab):
    hp = lab.hyper(BOOK, num_epochs=lab.epochs(BOOK.num_epochs),
                   clipping_theta=None)
    *no_clip_runs, clipped = lab.train_many([
        dict(hp=hp, sampling='random', label='no clipping'),
        dict(hp=hp, sampling='consecutive', label='no clipping'),
        dict(hp=replace(hp, num_epochs=lab.epochs(5),
                        clipping_theta=BOOK.clipping_theta),
             sampling='random', label='clipping (the book)')])
    runs = dict(zip(('random', 'consecutive'), no_clip_runs))
    rows = [('no clipping', s, r.outcome(), fmt(
        r.diverged.last_finite if r.diverged else r.final))
        for s, r in runs.items()]
    rows.append(('clipping theta=%g' % BOOK.clipping_theta, 'random',
                 clipped.outcome(), fmt(clipped.final)))
    t1 = Table(('clipping', 'sampling', 'result', 'last finite perplexity'),
               rows, 'training with fit')
    # the book's own loop (host sums), up to its first print
    print_epoch = min(BOOK.pred_period, hp.num_epochs)
    seed_all(lab.seed)
    model = build_model(ModelSpec('scratch', 'rnn', hp.num_hiddens),
                        lab.vocab_size, lab.ctx)
    means, first = book_epochs(model, lab.corpus_indices, hp, lab.ctx,
                               True, print_epoch)
    shown = list(range(min(4, len(first))))
    bad = next((k for k, (l, _) in enumerate(first)
                if not math.isfinite(l)), None)
    if bad is not None and bad not in shown:
        shown.append(bad)
    t2 = Table(('batch', 'loss', 'gradient norm before the update',
                'lr x norm'),
               [(k + 1, fmt(first[k][0], '%.4g'), fmt(first[k][1], '%.4g'),
                 fmt(hp.lr * first[k][1], '%.4g')) for k in shown],
               "the book's loop without clipping, epoch 1, random sampling")
    reached = len(means)
    kind, value = book_exp(means[-1]) if reached == print_epoch else (
        'nan', math.nan)
    book_line = ('at its first print (epoch %d) the book computes '
                 'math.exp(%s): %s' % (
                     print_epoch, fmt(means[-1], '%.4g') if reached ==
                     print_epoch else 'nan (nan since epoch %d)' % reached,
                     {'OverflowError': 'OverflowError: math range error',
                      'nan': 'nan, printed as perplexity nan (no error)',
                      'inf': 'inf, printed as perplexity inf (no error)',
                      'finite': 'perplexity %s' % fmt(value)}[kind]))
    t2.rows.append(('mean of epoch %d' % len(means),
                    fmt(means[-1], '%.4g'), '-', '-'))
    outcomes = '; '.join('%s sampling %s' % (s, r.outcome())
                         for s, r in runs.items())
    peak = max((g for _, g in first if math.isfinite(g)), default=math.nan)
    answer = ('Without clipping: %s. In the first epoch the gradient norm '
              'reached %s, so one sgd step at lr %g can move the weights by '
              '%s%s. With clipping at theta=%g the same start trains (%s). '
              'The book\'s own loop: %s.' % (
                  outcomes, fmt(peak, '%.3g'), hp.lr,
                  fmt(hp.lr * peak, '%.3g'),
                  '' if bad is None else
                  '; the loss became %s at batch %d' % (
                      first[bad][0], bad + 1),
                  BOOK.clipping_theta, clipped.outcome(), book_line))
    verdict, note = judge([(
        'OverflowError', kind == 'OverflowError',
        book_line + ('' if kind == 'OverflowError' else
                     '; math.exp raises OverflowError only for a finite '
                     'mean loss above 709.78'))])
    return Result('scratch RNN, the book\'s settings without clipping, '
                  'random and consecutive sampling, up to %d epochs (the '
                  'book: 250); the book\'s loop re-run with host sums up to '
                  'its first print' % hp.num_epochs, [t1, t2], answer,
                  verdict, note, dict(runs=runs, kind=kind, first=first,
                                      means=means))


def _text_stats(text, frequent):
    """(distinct / length, share of ``frequent`` chars, share of repeated
    3-grams) of a generated text."""
    if not text:
        return math.nan, math.nan, math.nan
    grams = [text[i:i + 3] for i in range(len(text) - 2)]
    repeated = 1 - len(set(grams)) / len(grams) if grams else 0.0
    return (len(set(text)) / len(text),
            sum(c in frequent for c in text) / len(text), repeated)


@exercise('6.4-pred-period-1',
          'With pred_period = 1, how does a barely trained model (high '
          'perplexity) write lyrics, and what does that teach?',
          'high-perplexity models write repeated, frequent words')
def pred_period_1(lab):
    hp = lab.hyper(BOOK, num_epochs=lab.epochs(60), pred_period=1)
    prefix = hp.prefixes[0]
    texts = {}

    def record(trainer):
        texts[trainer.epoch] = trainer.history.predictions.get(
            prefix, '')[len(prefix):]

    run = lab.train(hp, sampling='random', on_record=record)
    counts = collections.Counter(lab.chars)
    frequent = {c for c, _ in counts.most_common(10)}
    stats = {e: (run.at(e),) + _text_stats(t, frequent)
             for e, t in texts.items()}
    E = len(stats)
    shown = sorted({e for e in (1, 2, 3, 5, 10, 20, 30, 40, 50, E)
                    if e in stats})
    table = Table(('epoch', 'perplexity', 'distinct / length',
                   'share of the 10 most frequent chars',
                   'repeated 3-grams', 'text after %s' % prefix),
                  [(e, fmt(stats[e][0]), fmt(stats[e][1]),
                    fmt(stats[e][2]), fmt(stats[e][3]), texts[e])
                   for e in shown])
    if E < 2:
        return Result('too few epochs', [table], 'No comparison: the run '
                      'ended after %d epoch(s) (%s).' % (E, run.outcome()),
                      'not checked', '', dict(stats=stats))
    median = statistics.median(s[0] for s in stats.values())
    high = [s for s in stats.values() if s[0] > median]
    low = [s for s in stats.values() if s[0] <= median]

    def mean(group, i):
        return statistics.mean(s[i] for s in group)

    share_h, share_l = mean(high, 2), mean(low, 2)
    rep_h, rep_l = mean(high, 3), mean(low, 3)
    dist_h, dist_l = mean(high, 1), mean(low, 1)
    answer = ('While the perplexity was above its median %.1f (%d epochs), '
              'the text drew %.0f%% of its characters from the corpus\' 10 '
              'most frequent ones (%s), repeated %.0f%% of its 3-grams and '
              'used %.2f distinct characters per character; below it (%d '
              'epochs): %.0f%%, %.0f%% and %.2f. An undertrained model '
              'falls back on %s.' % (
                  median, len(high), 100 * share_h, ''.join(sorted(
                      frequent)).strip() or 'space', 100 * rep_h, dist_h,
                  len(low), 100 * share_l, 100 * rep_l, dist_l,
                  'the most frequent characters and loops'
                  if share_h > share_l and rep_h > rep_l else
                  'frequent characters' if share_h > share_l else
                  'repeating itself' if rep_h > rep_l else
                  'neither frequent characters nor repetition more than a '
                  'trained one'))
    verdict, note = judge([
        ('frequent words', share_h > share_l,
         '%.0f%% vs %.0f%% frequent characters' % (100 * share_h,
                                                   100 * share_l)),
        ('repeated words', rep_h > rep_l,
         '%.0f%% vs %.0f%% repeated 3-grams' % (100 * rep_h, 100 * rep_l)),
    ])
    return Result('scratch RNN, the book\'s settings, random sampling, %d '
                  'epochs with a prediction (%d characters after %s) after '
                  'every epoch; epochs split at the median perplexity' % (
                      hp.num_epochs, hp.pred_len, prefix),
                  [table], answer, verdict, note, dict(stats=stats))


@exercise('6.4-no-detach',
          'With consecutive sampling, what changes if the hidden state is '
          'not detached from the graph between batches (time per epoch)?',
          'the running time does not change')
def no_detach(lab):
    hp = lab.hyper(BOOK, num_epochs=lab.epochs(40))
    runs = dict(zip((True, False), lab.train_many([
        dict(hp=hp, sampling='consecutive', detach=d,
             label='detach' if d else 'no detach') for d in (True, False)])))
    t1 = Table(('state between batches', 's/epoch',
                'perplexity @%d' % hp.num_epochs),
               [(r.label, fmt(r.seconds_per_epoch), fmt(r.final, '%.4f'))
                for r in runs.values()], 'training with fit')
    K = lab.epochs(8, 3)
    grads, seconds = {}, {}
    for mode in ('detach', 'no detach', 'keep graph'):
        seed_all(lab.seed)
        model = build_model(ModelSpec('scratch', 'rnn', hp.num_hiddens),
                            lab.vocab_size, lab.ctx)
        grads[mode], seconds[mode] = detach_gradients(
            model, lab.corpus_indices, hp, lab.ctx, K, mode)

    def gap(mode, k):
        return max(float(nd.abs(a - b).max().asscalar())
                   for a, b in zip(grads[mode][k], grads['detach'][k]))

    K = len(grads['detach'])
    gaps = {m: [gap(m, k) for k in range(K)]
            for m in ('no detach', 'keep graph')}
    t2 = Table(('batch', 's detach', 's no detach', 's keep graph',
                'max |grad diff| no detach', 'max |grad diff| keep graph'),
               [(k + 1, fmt(seconds['detach'][k], '%.3f'),
                 fmt(seconds['no detach'][k], '%.3f'),
                 fmt(seconds['keep graph'][k], '%.3f'),
                 '%.2e' % gaps['no detach'][k],
                 '%.2e' % gaps['keep graph'][k]) for k in range(K)],
               'the first %d batches, same parameters, no updates' % K)
    d, nd_ = runs[True], runs[False]
    t_ratio = ratio(nd_.seconds_per_epoch, d.seconds_per_epoch)
    same_grads = max(gaps['no detach']) == 0
    growth = ratio(seconds['keep graph'][-1], seconds['keep graph'][0])
    kept = max(gaps['keep graph']) > 0
    grows = growth > 1 + TOLERANCE
    answer = ('Without detaching, an epoch ran %s: %.2f vs %.2f s; it '
              'ended at perplexity %.4f vs %.4f. %s With the graph kept '
              '(backward(retain_graph=True)) the gradient %s (max '
              'difference %.2e) and batch %d took %.1fx the time of batch '
              '1%s.' % (
                  speed(nd_.seconds_per_epoch, d.seconds_per_epoch,
                        'with detach'),
                  nd_.seconds_per_epoch, d.seconds_per_epoch, nd_.final,
                  d.final,
                  'The gradients of every batch equal the detached ones '
                  '(max difference 0): MXNet frees a batch\'s graph in '
                  'backward, so the carried state is cut off anyway.'
                  if same_grads else 'The gradients differ from the '
                  'detached ones by up to %.2e.' % max(gaps['no detach']),
                  'does flow into the earlier batches' if kept else
                  'does not change either', max(gaps['keep graph']), K,
                  growth, ': full backpropagation through the epoch costs '
                  'more with every batch' if kept and grows else ''))
    verdict, note = judge([(
        'no time change', abs(t_ratio - 1) <= TOLERANCE,
        '%.2fx the time per epoch; %s' % (
            t_ratio, 'but only because MXNet had already cut the graph'
            '%s' % (': with the graph kept batch %d took %.1fx the time of '
                    'batch 1' % (K, growth) if kept else '')
            if same_grads else 'the gradients did change'))])
    return Result('scratch RNN, the book\'s settings, consecutive sampling, '
                  '%d epochs with and without detach; then the first %d '
                  'batches from one initialisation: detach, no detach, no '
                  'detach with the graph kept' % (hp.num_epochs, K),
                  [t1, t2], answer, verdict, note,
                  dict(ratio=t_ratio, gaps=gaps, seconds=seconds))


@exercise('6.4-relu',
          'Replace tanh by ReLU in 6.4 and repeat the experiment.',
          'ReLU works better: its perplexity falls more reasonably')
def relu(lab):
    hp = lab.hyper(BOOK, num_epochs=lab.epochs(BOOK.num_epochs))
    runs = dict(zip(('tanh', 'relu'), lab.train_many([
        dict(hp=hp, activation=a, sampling='random', label=a)
        for a in ('tanh', 'relu')])))
    E = hp.num_epochs
    marks = sorted({e for e in range(max(1, E // 5), E + 1,
                                     max(1, E // 5))} | {1, E})
    t1 = Table(('epoch',) + tuple(runs), [
        (e,) + tuple(fmt(r.at(e)) for r in runs.values()) for e in marks],
        'training perplexity')
    prefix = hp.prefixes[0]
    t2 = Table(('activation', 's/epoch', 'result', 'held-out perplexity',
                'lyrics'),
               [(a, fmt(r.seconds_per_epoch), r.outcome(), fmt(r.heldout),
                 r.text(prefix)) for a, r in runs.items()])
    t, r = runs['tanh'], runs['relu']
    early = marks[1] if len(marks) > 1 else E
    answer = ('ReLU: %s, tanh: %s; ReLU\'s training perplexity is %s '
              '(%s vs %s) and at epoch %d %s (%s vs %s); on the held-out '
              'text %s (%s vs %s); %s per epoch.' % (
                  r.outcome(), t.outcome(), compare(r.final, t.final),
                  fmt(r.final), fmt(t.final), early,
                  compare(r.at(early), t.at(early)), fmt(r.at(early)),
                  fmt(t.at(early)), compare(r.heldout, t.heldout),
                  fmt(r.heldout), fmt(t.heldout),
                  speed(r.seconds_per_epoch, t.seconds_per_epoch)))
    checks = [('ReLU reaches a lower training perplexity',
               r.final < t.final * 0.95,
               '%s vs %s' % (fmt(r.final), fmt(t.final)))]
    if lab.heldout:
        checks.append(('ReLU predicts held-out text better',
                       r.heldout < t.heldout * 0.95,
                       '%s vs %s' % (fmt(r.heldout), fmt(t.heldout))))
    verdict, note = judge(checks)
    return Result('scratch RNN, the book\'s settings (%d epochs, random '
                  'sampling, clipping 0.01), tanh vs ReLU from the same '
                  'initial weights' % E, [t1, t2], answer, verdict, note,
                  dict(runs=runs))
