"""The exercises of 6.7 门控循环单元（GRU）, each answered by a run."""
import math

from mxnet import nd

from .. import gru
from ..core.models import ModelSpec
from ..core.trainer import BOOK_GATED
from ..tools.zoo import build_model
from .lab import converged, tune, tune_answer, tune_table
from .registry import (TOLERANCE, Result, Table, compare, exercise, fmt, judge,
                       ratio, speed)


# --- 6.7-ideal-gates ---------------------------------------------------------


def forced_gru_cell(X, state, params, R=None, Z=None):
    """6.7's ``gru_cell`` with the gates forced to given values (None
    computes them as the book does)."""
    W_xz, W_hz, b_z, W_xr, W_hr, b_r, W_xh, W_hh, b_h = params[:9]
    H, = state
    if Z is None:
        Z = nd.sigmoid(nd.dot(X, W_xz) + nd.dot(H, W_hz) + b_z)
    if R is None:
        R = nd.sigmoid(nd.dot(X, W_xr) + nd.dot(H, W_hr) + b_r)
    H_tilda = nd.tanh(nd.dot(X, W_xh) + nd.dot(R * H, W_hh) + b_h)
    return (Z * H + (1 - Z) * H_tilda, )


# schedule name -> gates (R, Z) at step s (1-based) given t'; None computes
SCHEDULES = {
    'learned gates (no forcing)': lambda s, tp: (None, None),
    "R=0, Z=1 at every step": lambda s, tp: (0, 1),
    "Z=1 after t' only": lambda s, tp: (None, 1) if s > tp else (None, None),
    "Z=0 at t', Z=1 after": lambda s, tp: (
        (None, 0) if s == tp else (None, 1) if s > tp else (None, None)),
    "ideal: R=0, Z=0 at t', Z=1 after": lambda s, tp: (
        (0, 0) if s == tp else (None, 1) if s > tp else (None, None)),
}


def measure_gates(num_inputs=8, num_hiddens=6, num_steps=8, t_prime=3,
                  batch_size=4, ctx=None, log=print):
    """Answer the exercise with a run: for each gate schedule, how much H_t
    (t = num_steps) moves when X_t' is changed, and when every other input
    and H_0 are changed. Only a schedule giving (> 0, 0) uses the input of
    step t' alone. Returns {schedule: (moved by X_t', moved by the rest)}
    and, under 'ideal', the gap to tanh(X_t' W_xh + b_h)."""
    def normal(shape):
        return nd.random.normal(shape=shape, ctx=ctx)

    # gates far from 0 and 1 by themselves: random weights of scale 1
    params = [normal(p.shape) for p in gru.cell_params(num_inputs,
                                                       num_hiddens, ctx)]
    X = [normal((batch_size, num_inputs)) for _ in range(num_steps)]
    H0 = normal((batch_size, num_hiddens))
    other = [normal((batch_size, num_inputs)) for _ in range(num_steps)]
    X_tp = [x if s != t_prime else other[s - 1]
            for s, x in enumerate(X, 1)]  # only X_t' changed
    X_rest = [x if s == t_prime else other[s - 1]
              for s, x in enumerate(X, 1)]  # all but X_t' changed
    H0_rest = normal((batch_size, num_hiddens))

    def final_H(schedule, inputs, H):
        for s, x in enumerate(inputs, 1):
            R, Z = schedule(s, t_prime)
            H, = forced_gru_cell(x, (H,), params, R=R, Z=Z)
        return H

    def gap(a, b):
        return float(nd.abs(a - b).max().asscalar())

    log("ideal gates: t'=%d, t=%d; max |change of H_t| when we change"
        % (t_prime, num_steps))
    log('  %-36s %10s %14s' % ('schedule', "X_t' only", "rest and H_0"))
    result = {}
    for name, schedule in SCHEDULES.items():
        H_t = final_H(schedule, X, H0)
        moved = (gap(final_H(schedule, X_tp, H0), H_t),
                 gap(final_H(schedule, X_rest, H0_rest), H_t))
        result[name] = moved
        log('  %-36s %10.2e %14.2e' % ((name,) + moved))
    W_xh, b_h = params[6], params[8]
    direct = nd.tanh(nd.dot(X[t_prime - 1], W_xh) + b_h)
    ideal = final_H(SCHEDULES["ideal: R=0, Z=0 at t', Z=1 after"], X, H0)
    result['ideal = tanh(X_t\' W_xh + b_h)'] = gap(ideal, direct)
    log("  ideal H_t - tanh(X_t' W_xh + b_h): %.2e" % gap(ideal, direct))
    log("  answer: R_t'=0 and Z_t'=0 (restart from X_t'), then Z=1 (copy)"
        " at every step after t'; R after t' and both gates before t' do "
        "not matter")
    return result


IDEAL = "ideal: R=0, Z=0 at t', Z=1 after"
LEARNER_GATES = 'R=0, Z=1 at every step'
ALONE = 1e-6  # below this, a change of H_t is float noise


@exercise('6.7-ideal-gates',
          "To predict the output of step t from the input of step t' < t "
          'alone, what are the ideal reset and update gates at each step?',
          'R = 0 and Z = 1')
def ideal_gates(lab):
    moved = measure_gates(ctx=lab.ctx, log=lambda *a: None)
    direct = moved.pop("ideal = tanh(X_t' W_xh + b_h)")
    rows, alone = [], []
    for name, (by_tp, by_rest) in moved.items():
        ok = by_tp > ALONE and by_rest < ALONE
        if ok:
            alone.append(name)
        rows.append((name, '%.2e' % by_tp, '%.2e' % by_rest,
                     'yes' if ok else 'no'))
    table = Table(("gates", "change of H_t by X_t'",
                   "by the other inputs and H_0", "X_t' alone?"), rows)
    answer = '%s make%s H_t depend on X_t\' alone.' % (
        ' and '.join(alone) or 'No schedule tried here could',
        's' if len(alone) == 1 else '')
    if IDEAL in alone:
        answer += (' With R=0 and Z=0 at t\' the state restarts from X_t\' '
                   'alone, and Z=1 after t\' copies it unchanged (whatever '
                   'R is then): H_t - tanh(X_t\' W_xh + b_h) = %.1e.'
                   % direct)
    by_tp, by_rest = moved[LEARNER_GATES]
    verdict, note = judge([(
        'R=0 and Z=1', LEARNER_GATES in alone,
        "with Z=1 at every step H_t = H_0: X_t' changes it by %.1e and the "
        'rest by %.1e' % (by_tp, by_rest))])
    return Result("a scratch GRU cell with random weights of scale 1 (gates "
                  "far from 0 and 1), t'=3, t=8; each schedule forces the "
                  "gates it names and computes the others", [table], answer,
                  verdict, note, dict(moved=moved, alone=alone))


@exercise('6.7-hparams',
          'Tune the GRU\'s hyper-parameters: time per epoch, perplexity, '
          'lyrics?',
          'num_steps 40: perplexity higher, a bit faster; num_steps 16: '
          'lower, about 2x the time; 2x num_hiddens: about 2x the time, '
          'same perplexity; lr 1000 converges only later; lr e very slowly')
def gru_hparams(lab):
    base = lab.hyper(BOOK_GATED, num_epochs=lab.epochs(30))
    h = base.num_hiddens
    variants = [
        ('book (%d hiddens, 35 steps, batch 32, lr 100)' % h, {}),
        ('num_steps 16', dict(num_steps=16)),
        ('num_steps 40', dict(num_steps=40)),
        ('num_hiddens %d' % (2 * h), dict(num_hiddens=2 * h)),
        ('lr 1000', dict(lr=1000.0)), ('lr e', dict(lr=math.e))]
    runs = tune(lab, base, variants, 'gluon', 'gru', 'consecutive')
    book, s16, s40, big, lr1k, lr_e = runs.values()
    early = max(1, base.num_epochs // 5)
    tb = book.seconds_per_epoch
    checks = [
        ('num_steps 40: higher perplexity', s40.final > book.final * 1.05,
         '%s vs %s' % (fmt(s40.final), fmt(book.final))),
        ('num_steps 40: a bit faster', s40.seconds_per_epoch < tb,
         speed(s40.seconds_per_epoch, tb)),
        ('num_steps 16: lower perplexity', s16.final < book.final * 0.95,
         '%s vs %s' % (fmt(s16.final), fmt(book.final))),
        ('num_steps 16: about 2x the time',
         ratio(s16.seconds_per_epoch, tb) > 1.5,
         '%.2fx' % ratio(s16.seconds_per_epoch, tb)),
        ('2x num_hiddens: about 2x the time',
         ratio(big.seconds_per_epoch, tb) > 1.5,
         '%.2fx' % ratio(big.seconds_per_epoch, tb)),
        ('2x num_hiddens: same perplexity',
         compare(big.final, book.final, 0.1) == 'about the same',
         '%s vs %s' % (fmt(big.final), fmt(book.final))),
        ('lr 1000: no progress at first, converges later',
         lr1k.at(early) > book.at(early) and converged(lr1k),
         'epoch %d: %s vs %s; last: %s' % (early, fmt(lr1k.at(early)),
                                           fmt(book.at(early)),
                                           lr1k.outcome())),
        ('lr e: converges very slowly', lr_e.final > 2 * book.final,
         '%s vs %s' % (fmt(lr_e.final), fmt(book.final))),
    ]
    verdict, note = judge(checks)
    return Result('Gluon rnn.GRU in RNNModel (for speed; the scratch GRU '
                  'trains the same model), the book\'s 6.7 settings, '
                  'consecutive sampling, %d epochs per variant (the book: '
                  '160)' % base.num_epochs,
                  [tune_table(runs, base, early)], tune_answer(runs),
                  verdict, note, dict(runs=runs))


def cell_work(lab, cells, num_hiddens):
    """{cell: (matrix products per step, multiply-adds per step and
    example)} counted from the weight matrices (2-d parameters, the output
    layer's W_hq left out) of a scratch model of each cell."""
    work = {}
    for cell in cells:
        model = build_model(ModelSpec('scratch', cell, num_hiddens),
                            lab.vocab_size, lab.ctx)
        weights = [p.shape for p in model.params[:-2] if len(p.shape) == 2]
        # a one-hot X W_x is a row lookup, but nd.dot multiplies it all
        work[cell] = (len(weights), sum(a * b for a, b in weights))
    return work


def work_sentence(work):
    """The work per step of each cell, relative to the RNN's."""
    rnn_adds = work['rnn'][1]
    return 'Counted from the weights, a step does %s matrix products (%s ' \
        'the multiply-adds of the RNN).' % (
            ', '.join('%s %d' % (c.upper(), w[0]) for c, w in work.items()),
            ', '.join('%s %.1fx' % (c.upper(), w[1] / rnn_adds)
                      for c, w in work.items()))


def cell_times(lab, cells):
    """Seconds per epoch of each (impl, cell), trained side by side."""
    hp = lab.hyper(BOOK_GATED, num_epochs=lab.epochs(4, 2))
    pairs = [(impl, cell) for impl in ('scratch', 'gluon') for cell in cells]
    runs = lab.train_many([dict(hp=hp, impl=impl, cell=cell,
                                sampling='consecutive')
                           for impl, cell in pairs])
    return hp, {pair: r.seconds_per_epoch for pair, r in zip(pairs, runs)}


@exercise('6.7-vs-rnn-time',
          'Under the same conditions, how do the running times of a GRU '
          'and of an RNN without gates compare?',
          'the GRU is slower: 0.7 s vs 0.3 s (scratch), 0.07 s vs 0.05 s '
          '(Gluon)')
def gru_vs_rnn(lab):
    hp, t = cell_times(lab, ('rnn', 'gru'))
    table = Table(('implementation', 'RNN s/epoch', 'GRU s/epoch',
                   'GRU / RNN'),
                  [(impl, fmt(t[impl, 'rnn'], '%.3f'),
                    fmt(t[impl, 'gru'], '%.3f'),
                    '%.2f' % ratio(t[impl, 'gru'], t[impl, 'rnn']))
                   for impl in ('scratch', 'gluon')])
    work = cell_work(lab, ('rnn', 'gru'), hp.num_hiddens)
    answer = 'Scratch: the GRU ran %s; Gluon: %s. %s' % (
        speed(t['scratch', 'gru'], t['scratch', 'rnn'], 'the RNN'),
        speed(t['gluon', 'gru'], t['gluon', 'rnn'], 'the RNN'),
        work_sentence(work))
    verdict, note = judge([(
        'the GRU is slower (%s)' % impl,
        t[impl, 'gru'] > t[impl, 'rnn'] * (1 + TOLERANCE),
        '%.2fx the time' % ratio(t[impl, 'gru'], t[impl, 'rnn']))
        for impl in ('scratch', 'gluon')])
    return Result('%d hiddens (tanh RNN), the book\'s settings, consecutive '
                  'sampling, %d epochs each, s/epoch the median after the '
                  'first' % (hp.num_hiddens, hp.num_epochs), [table],
                  answer, verdict, note, dict(times=t, work=work))
