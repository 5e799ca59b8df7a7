"""The exercises of 6.10 双向循环神经网络, each answered by a run."""
from mxnet import nd

from .. import bi_rnn
from ..core.models import to_onehot
from ..core.predict import predict
from ..core.trainer import BOOK, evaluate_perplexity
from .registry import Result, Table, exercise, fmt, speed_ppl, judge


def shapes(vocab_size, num_hiddens, batch_size, num_steps, ctx, cell='rnn',
           num_layers=1):
    """The exercise: shapes of H_t, of the outputs and of the state of a
    scratch bidirectional model with ``num_hiddens`` = (h_f, h_b)."""
    model = bi_rnn.uneven_model(vocab_size, num_hiddens, ctx, cell,
                                num_layers)
    X = nd.zeros((batch_size, num_steps), ctx=ctx)
    Hs, _ = bi_rnn.stack(to_onehot(X, vocab_size),
                         model.begin_state(batch_size), model.params[:-2],
                         bi_rnn.CELLS[cell].step, num_layers,
                         layer=bi_rnn.bi_layer)
    outputs, state = model(X, model.begin_state(batch_size))
    return Hs[0].shape, outputs.shape, [s.shape for s in state]




@exercise('6.10-shapes',
          'If the two directions have different numbers of hidden units, '
          'what is the shape of H_t?',
          'H_t is n x (h1 + h2)')
def bi_shapes(lab):
    h = lab.hyper().num_hiddens
    n, T = 2, 5
    rows, ok = [], True
    for sizes in ((h, h), (h, max(1, h // 2)), (max(1, h // 4), h)):
        H, out, state = shapes(lab.vocab_size, sizes, n, T, lab.ctx)
        W_hq = bi_rnn.get_params(lab.vocab_size, sizes, lab.ctx)[-2]
        ok &= tuple(H) == (n, sizes[0] + sizes[1])
        rows.append(sizes + ('x'.join(map(str, H)),
                             'x'.join(map(str, W_hq.shape)),
                             'x'.join(map(str, out)),
                             ', '.join('x'.join(map(str, s))
                                       for s in state)))
    table = Table(('h_f', 'h_b', 'H_t', 'W_hq', 'outputs (T*n x V)',
                   'states'), rows)
    answer = ('%s; the output layer W_hq reads them: %s.' % ('; '.join(
        'h_f=%d, h_b=%d -> H_t %s' % r[:3] for r in rows), ', '.join(
            r[3] for r in rows)))
    verdict, note = judge([(
        'n x (h1 + h2)', ok, 'measured shapes %s with n=%d' % (
            ', '.join(r[2] for r in rows), n))])
    return Result('scratch bidirectional RNN, batch n=%d of %d steps' % (
        n, T), [table], answer, verdict, note, dict(rows=rows))


@exercise('6.10-deep-bi',
          'Design a bidirectional RNN with several hidden layers.',
          '(no answer in the notes)')
def deep_bi(lab):
    h = lab.hyper().num_hiddens
    rows = []
    for L in (2, 3):
        H, out, state = shapes(lab.vocab_size, (h, h), 2, 5,
                                      lab.ctx, 'rnn', L)
        rows.append(('%d layers' % L, 'x'.join(map(str, H)), len(state)))
    t1 = Table(('layers', 'top H_t (n=2)', 'state arrays'), rows,
               'design: layer l reads [->H, <-H] of layer l-1')
    gaps = {c: bi_rnn.gluon_gap(c, 2, 10, 8, 6, 3, lab.ctx)
            for c in ('rnn', 'gru', 'lstm')}
    t2 = Table(('cell', 'max |output diff|', 'max |state diff|'),
               [(c, '%.1e' % g[0], '%.1e' % g[1]) for c, g in gaps.items()],
               'scratch 2-layer design vs Gluon bidirectional=True, '
               'num_layers=2, same weights')
    hp = lab.hyper(BOOK, num_epochs=lab.epochs(40))
    text = lab.corpus_indices[:1000]
    runs, rows3 = {}, []
    labels = {b: '2-layer %s' % ('bidirectional' if b else 'unidirectional')
              for b in (False, True)}
    trained = lab.train_many([
        dict(hp=hp, impl='gluon', num_layers=2, bidirectional=b,
             sampling='consecutive', label=labels[b]) for b in (False, True)])
    for (bidirectional, label), r in zip(labels.items(), trained):
        chunked = evaluate_perplexity(r.model, text, hp.num_steps, lab.ctx)
        stepwise = evaluate_perplexity(r.model, text, 1, lab.ctx)
        runs[bidirectional] = (r, chunked, stepwise)
        rows3.append((label, r.outcome(), fmt(chunked), fmt(stepwise),
                      predict(r.model, hp.prefixes[0], 20, lab.data[2],
                              lab.data[1])))
    t3 = Table(('model', 'training', 'first 1000 chars in chunks',
                'one char at a time', 'greedy text'), rows3,
               'trained as next-character models')
    uni, bi = runs[False], runs[True]
    worst = max(max(g) for g in gaps.values())
    answer = ('Stack two-direction layers: layer 1 reads X_t, layer l reads '
              'the concatenated [->H_t, <-H_t] of layer l-1 (2h inputs), '
              'the output layer reads the top one. With Gluon\'s weights '
              'this design %s Gluon\'s bidirectional=True, num_layers=2 '
              'for RNN, GRU and LSTM (max difference %.1e). Trained as a '
              'next-character model, the bidirectional one scored %s in '
              'chunks (the future of the chunk visible) and %s one '
              'character at a time (%s), the unidirectional one %s and %s: '
              '%s' % (
                  'reproduces' if worst < 1e-4 else 'does NOT reproduce',
                  worst, fmt(bi[1]), fmt(bi[2]),
                  speed_ppl(bi[1], bi[2]), fmt(uni[1]), fmt(uni[2]),
                  'the bidirectional model reads the answer from the future '
                  'and is no next-token predictor.'
                  if bi[1] < 0.9 * bi[2] else 'it has not learned to read '
                  'the future yet in %d epochs.' % hp.num_epochs))
    return Result('shapes and parity of the scratch design; Gluon 2-layer '
                  'tanh RNNs (%d hiddens) trained %d epochs, consecutive '
                  'sampling' % (hp.num_hiddens, hp.num_epochs),
                  [t1, t2, t3], answer, 'not checked',
                  'The learner left this exercise unanswered.',
                  dict(gaps=gaps, runs={k: v[1:] for k, v in runs.items()}))
