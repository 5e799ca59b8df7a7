"""The exercises of 6.9 深度循环神经网络, each answered by a run."""
from ..core.trainer import BOOK
from .registry import (TOLERANCE, Result, Table, compare, exercise, fmt, judge,
                       speed)




@exercise('6.9-two-layers',
          'Change the 6.4 model to two hidden layers: what happens?',
          'slower, and the perplexity is a bit higher than one layer\'s at '
          'first')
def two_layers(lab):
    hp = lab.hyper(BOOK, num_epochs=lab.epochs(100))
    runs = dict(zip((1, 2), lab.train_many([
        dict(hp=hp, num_layers=L, sampling='random',
             label='%d layer%s' % (L, 's' if L > 1 else ''))
        for L in (1, 2)])))
    E = hp.num_epochs
    early = max(1, E // 10)
    marks = sorted({1, early, max(1, E // 4), max(1, E // 2), E})
    t1 = Table(('epoch', '1 layer', '2 layers'), [
        (e, fmt(runs[1].at(e)), fmt(runs[2].at(e))) for e in marks],
        'training perplexity')
    prefix = hp.prefixes[0]
    t2 = Table(('model', 's/epoch', 'result', 'held-out perplexity',
                'lyrics'),
               [(r.label, fmt(r.seconds_per_epoch), r.outcome(),
                 fmt(r.heldout), r.text(prefix)) for r in runs.values()])
    one, two = runs[1], runs[2]
    answer = ('Two layers ran %s per epoch; perplexity at epoch %d: %s vs '
              '%s (%s), at epoch %d: %s vs %s (%s); held-out %s vs %s.' % (
                  speed(two.seconds_per_epoch, one.seconds_per_epoch,
                        'one layer'),
                  early, fmt(two.at(early)), fmt(one.at(early)),
                  compare(two.at(early), one.at(early)), E, fmt(two.final),
                  fmt(one.final), compare(two.final, one.final),
                  fmt(two.heldout), fmt(one.heldout)))
    verdict, note = judge([
        ('slower', two.seconds_per_epoch > one.seconds_per_epoch
         * (1 + TOLERANCE), speed(two.seconds_per_epoch,
                                  one.seconds_per_epoch)),
        ('perplexity higher at first', two.at(early) > one.at(early),
         'epoch %d: %s vs %s' % (early, fmt(two.at(early)),
                                 fmt(one.at(early)))),
    ])
    note += ' (The learner\'s two-layer code used ReLU; this run keeps ' \
        '6.4\'s tanh in both models.)'
    return Result('scratch RNN, the book\'s 6.4 settings, random sampling, '
                  '%d epochs (the book: 250), 1 vs 2 tanh layers of %d '
                  'units from the same seed' % (E, hp.num_hiddens),
                  [t1, t2], answer, verdict, note, dict(runs=runs))
