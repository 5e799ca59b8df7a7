"""The exercises of 6.8 长短期记忆（LSTM）, each answered by a run."""
import collections

import numpy as np
from mxnet import nd

from ..core.models import to_onehot
from ..core.parity import scratch_cell_params, scratch_dense_params
from ..core.trainer import BOOK_GATED
from .gru import cell_times, work_sentence, cell_work
from .registry import Result, Table, exercise, fmt, judge, ratio, speed




@exercise('6.8-time',
          'Under the same conditions, compare the running times of an '
          'LSTM, a GRU and an RNN without gates.',
          'LSTM > (slightly) GRU > RNN, as the amount of computation says')
def lstm_time(lab):
    cells = ('rnn', 'gru', 'lstm')
    hp, t = cell_times(lab, cells)
    table = Table(('implementation', 'RNN s/epoch', 'GRU s/epoch',
                   'LSTM s/epoch', 'LSTM / GRU', 'fastest -> slowest'),
                  [(impl,) + tuple(fmt(t[impl, c], '%.3f') for c in cells)
                   + ('%.2f' % ratio(t[impl, 'lstm'], t[impl, 'gru']),
                      ' < '.join(sorted(cells, key=lambda c: t[impl, c])))
                   for impl in ('scratch', 'gluon')])
    work = cell_work(lab, cells, hp.num_hiddens)
    answer = '%s. %s' % ('; '.join(
        '%s: the LSTM ran %s, the GRU %s' % (
            impl, speed(t[impl, 'lstm'], t[impl, 'gru'], 'the GRU'),
            speed(t[impl, 'gru'], t[impl, 'rnn'], 'the RNN'))
        for impl in ('scratch', 'gluon')), work_sentence(work))
    checks = []
    for impl in ('scratch', 'gluon'):
        order = t[impl, 'lstm'] > t[impl, 'gru'] > t[impl, 'rnn']
        checks.append(('LSTM > GRU > RNN (%s)' % impl, order, ' < '.join(
            sorted(cells, key=lambda c: t[impl, c]))))
    verdict, note = judge(checks)
    return Result('%d hiddens, the book\'s settings, consecutive sampling, '
                  '%d epochs each, s/epoch the median after the first' % (
                      hp.num_hiddens, hp.num_epochs), [table], answer,
                  verdict, note, dict(times=t, work=work))


def lstm_ranges(block, corpus_indices, batch_size, num_steps, ctx):
    """Run a trained Gluon LSTM's weights through the book's equations on
    ``batch_size`` rows of ``num_steps`` characters and collect C~, C,
    O * tanh(C) and O * C. Returns ({name: numpy array}, max |outputs -
    Gluon's outputs|) -- the second shows the cell measured is the model's.
    """
    (W_xi, W_hi, b_i, W_xf, W_hf, b_f, W_xo, W_ho, b_o, W_xc, W_hc,
     b_c) = scratch_cell_params(block.rnn)
    W_hq, b_q = scratch_dense_params(block.dense)
    h = W_hi.shape[0]
    X = nd.array(corpus_indices[:batch_size * num_steps], ctx=ctx).reshape(
        (batch_size, num_steps))
    H = nd.zeros((batch_size, h), ctx=ctx)
    C = nd.zeros((batch_size, h), ctx=ctx)
    seen = collections.defaultdict(list)
    outputs = []
    for X_t in to_onehot(X, block.vocab_size):
        I = nd.sigmoid(nd.dot(X_t, W_xi) + nd.dot(H, W_hi) + b_i)
        F = nd.sigmoid(nd.dot(X_t, W_xf) + nd.dot(H, W_hf) + b_f)
        O = nd.sigmoid(nd.dot(X_t, W_xo) + nd.dot(H, W_ho) + b_o)
        C_tilda = nd.tanh(nd.dot(X_t, W_xc) + nd.dot(H, W_hc) + b_c)
        C = F * C + I * C_tilda
        H = O * nd.tanh(C)
        for name, value in (('C~', C_tilda), ('C', C), ('H', H),
                            ('O*C', O * C)):
            seen[name].append(value.asnumpy())
        outputs.append(nd.dot(H, W_hq) + b_q)
    gluon_out, _ = block(X, block.begin_state(batch_size=batch_size,
                                              ctx=ctx))
    gap = float(nd.abs(nd.concat(*outputs, dim=0) - gluon_out).max()
                .asscalar())
    return {k: np.stack(v) for k, v in seen.items()}, gap


@exercise('6.8-why-tanh',
          'The candidate memory cell already lies in [-1, 1] (tanh); why '
          'does the hidden state apply tanh to C_t again?',
          'because C_t = F*C_{t-1} + I*C~ mixes the old cell and the '
          'candidate, so it can leave [-1, 1]')
def why_tanh(lab):
    hp = lab.hyper(BOOK_GATED, num_epochs=lab.epochs(80))
    run = lab.train(hp, impl='gluon', cell='lstm', sampling='consecutive')
    B = hp.batch_size  # rows of T characters: long enough for C to add up
    T = min(100, len(lab.corpus_indices) // B)
    values, gap = lstm_ranges(run.model.block, lab.corpus_indices, B, T,
                              lab.ctx)
    labels = {'C~': 'candidate C~_t', 'C': 'memory cell C_t',
              'H': 'H_t = O*tanh(C_t)', 'O*C': 'O*C_t (H without tanh)'}
    stats = {k: (float(v.min()), float(v.max()),
                 float((np.abs(v) > 1).mean())) for k, v in values.items()}
    table = Table(('quantity', 'min', 'max', 'share outside [-1, 1]'),
                  [(labels[k], '%.3f' % s[0], '%.3f' % s[1],
                    '%.2f%%' % (100 * s[2])) for k, s in stats.items()])
    top = max(abs(stats['C'][0]), abs(stats['C'][1]))
    top_h = max(abs(stats['O*C'][0]), abs(stats['O*C'][1]))
    answer = ('C~_t stayed in [%.3f, %.3f], but C_t = F*C_{t-1} + I*C~_t '
              'adds up over steps: it reached [%.3f, %.3f], %.2f%% of its '
              'entries outside [-1, 1]. Without the tanh, H_t = O*C_t would '
              'reach |H| = %.3f (%.2f%% outside [-1, 1]) and feed that into '
              'the next gates and the output layer; with it |H| <= %.3f. '
              '(The measured cell reproduces the trained rnn.LSTM: max '
              '|output difference| %.1e.)' % (
                  stats['C~'][0], stats['C~'][1], stats['C'][0],
                  stats['C'][1], 100 * stats['C'][2], top_h,
                  100 * stats['O*C'][2],
                  max(abs(stats['H'][0]), abs(stats['H'][1])), gap))
    verdict, note = judge([(
        'C_t can leave [-1, 1]', top > 1,
        'max |C_t| = %.3f in the trained model' % top)])
    return Result('Gluon rnn.LSTM trained with the book\'s 6.8 settings for '
                  '%d epochs (the book: 160), consecutive sampling; its '
                  'weights run through the book\'s equations on %d x %d '
                  'training characters' % (hp.num_epochs, B, T),
                  [table], answer, verdict, note, dict(stats=stats,
                                                       gap=gap))
