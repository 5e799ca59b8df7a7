"""The exercises of 6.2 循环神经网络, each answered by a run."""
from mxnet import nd

from ..core.data import load_corpus
from ..core.errors import CorpusError
from ..core.models import ModelSpec
from ..core.trainer import BOOK, seed_all
from ..tools.zoo import build_model
from .registry import Result, Table, exercise, judge, ratio


def softmax_rows(outputs):
    """softmax over the vocabulary of (rows, V) outputs."""
    return nd.softmax(outputs, axis=1)




@exercise('6.2-output-size',
          'An RNN predicts the next token of a text: how many outputs '
          'should it have?',
          'as many outputs as inputs')
def output_size(lab):
    corpora = [(lab.corpus, lab.data)]
    other = 'timemachine' if lab.corpus != 'timemachine' else 'jaychou'
    try:
        corpora.append((other, load_corpus(other, 10000, lab.data_dir)))
    except CorpusError:
        pass
    h = lab.hyper().num_hiddens
    rows, measured = [], []
    for name, data in corpora:
        V = data[3]
        X = nd.array([data[0][:5], data[0][5:10]], ctx=lab.ctx)  # (2, 5)
        for impl in ('scratch', 'gluon'):
            seed_all(lab.seed)
            model = build_model(ModelSpec(impl, 'rnn', h), V,
                                lab.ctx).prepare()
            outputs, _ = model(X, model.begin_state(2))
            if impl == 'scratch':
                inputs = model.params[0].shape[0]  # W_xh (in, h)
            else:
                inputs = model.block.rnn.l0_i2h_weight.shape[1]  # (h, in)
            P = softmax_rows(outputs).sum(axis=1)
            rows.append((name, V, model.spec.describe(), inputs,
                         'x'.join(map(str, outputs.shape)),
                         outputs.shape[1],
                         '%.6f' % P.mean().asscalar()))
            measured.append((V, inputs, outputs.shape[1]))
    table = Table(('corpus', 'vocabulary V', 'model', 'input width',
                   'outputs of 2x5 inputs', 'outputs per step',
                   'softmax sum'), rows)
    same = all(out == V for V, _, out in measured)
    answer = ('One output per vocabulary entry: %s. The softmax of the '
              'outputs at step t is the distribution of the next token '
              'given all tokens so far (the rows sum to 1).' % '; '.join(
                  '%d for %s' % (data[3], name) for name, data in corpora)
              if same else 'The outputs per step differ from the '
              'vocabulary size: %s.' % measured)
    equal = all(inp == out for _, inp, out in measured)
    verdict, note = judge([(
        'as many outputs as inputs', equal,
        'the one-hot input width and the outputs per step are both V in '
        'every model' if equal else 'input width vs outputs: %s'
        % [(i, o) for _, i, o in measured])])
    return Result('built the scratch and Gluon RNN (%d hiddens) for each '
                  'corpus and ran a batch of 2 sequences of 5 tokens' % h,
                  [table], answer, verdict, note, dict(measured=measured))


@exercise('6.2-past',
          'Why can an RNN express the probability of a token conditioned '
          'on ALL the tokens before it?',
          'because the hidden state H_t is passed on to the next step')
def past(lab):
    hp = lab.hyper(BOOK, num_epochs=lab.epochs(30))
    run = lab.train(hp, sampling='consecutive')
    T, V = hp.num_steps, lab.vocab_size
    X = list(lab.corpus_indices[:T])
    X2 = [(X[0] + V // 2) % V] + X[1:]  # only the first token changed
    probs = []
    for seq in (X, X2):
        outputs, _ = run.model(nd.array([seq], ctx=lab.ctx),
                               run.model.begin_state(1))
        probs.append(softmax_rows(outputs))  # (T, V): batch 1, time-major
    delta = nd.abs(probs[0] - probs[1]).max(axis=1).asnumpy()  # (T,)
    steps = sorted({1, 2, 3, 4, 5, 10, 20, T} & set(range(1, T + 1)))
    chars = lab.data[2]
    table = Table(('step t', 'input X_t', 'max |change of P(next)|'),
                  [(t, chars[X[t - 1]] if t > 1 else '%s -> %s' % (
                      chars[X[0]], chars[X2[0]]), '%.3e' % delta[t - 1])
                   for t in steps])
    moved = [t for t in range(1, T + 1) if delta[t - 1] > 0]
    last = max(moved) if moved else 0
    if last == T:
        answer = ('Changing only the first character changed the predicted '
                  'distribution at all %d steps (max |change| %.2e at t=1, '
                  '%.2e at t=%d): the state H_t carries X_1 forward, so '
                  'every output depends on every earlier token (an n-gram '
                  'model forgets it after n-1 steps). The influence shrinks '
                  '%.0fx over the %d steps.' % (
                      T, delta[0], delta[-1], T, ratio(delta[0], delta[-1]),
                      T - 1))
    else:
        answer = ('Changing the first character changed the predictions up '
                  'to step %d only; from there the change is below float32 '
                  'resolution: H_t can carry the whole past, but here the '
                  'influence of X_1 vanished after %d steps.' % (last, last))
    verdict, note = judge([
        ('H_t carries X_1 to later steps', last > 1,
         'X_1 moved the output of steps 1..%d' % last),
        ('... to every step', last == T,
         '%d of %d steps moved; in float32 the influence %s' % (
             len(moved), T, 'lasts' if last == T else
             'vanished after step %d' % last))])
    return Result('scratch RNN (%d hiddens) trained %d epochs (consecutive '
                  'sampling, the book\'s other settings); the first %d '
                  'characters fed as one sequence, then again with the '
                  'first character replaced' % (hp.num_hiddens,
                                                hp.num_epochs, T),
                  [table], answer, verdict, note,
                  dict(delta=delta.tolist(), last=last))
