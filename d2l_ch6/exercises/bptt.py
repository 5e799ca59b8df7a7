"""The exercises of 6.6 通过时间反向传播, each answered by a run."""
from dataclasses import replace

from ..core.trainer import BOOK
from .registry import Result, Table, exercise, fmt, judge




@exercise('6.6-remedies',
          'Besides clipping, what else can be done about exploding '
          'gradients in an RNN?',
          'ReLU-like activations (LReLU, ELU, maxout); batch normalization')
def remedies(lab):
    base = lab.hyper(BOOK, num_epochs=lab.epochs(50), clipping_theta=None)
    plans = [
        ('none (tanh RNN, lr 100, no clipping)', {}, 'rnn', 'tanh'),
        ('clipping theta=0.01 (the book)',
         dict(clipping_theta=BOOK.clipping_theta), 'rnn', 'tanh'),
        ('smaller lr 10, no clipping', dict(lr=10.0), 'rnn', 'tanh'),
        ('smaller lr 1, no clipping', dict(lr=1.0), 'rnn', 'tanh'),
        ('shorter BPTT: num_steps 5, no clipping', dict(num_steps=5),
         'rnn', 'tanh'),
        ('gated cell: GRU, no clipping', {}, 'gru', 'tanh'),
        ('ReLU activation, no clipping', {}, 'rnn', 'relu'),
    ]
    runs = dict(zip([plan[0] for plan in plans], lab.train_many([
        dict(hp=replace(base, **changes), cell=cell, activation=act,
             sampling='random', label=label)
        for label, changes, cell, act in plans])))
    V = lab.vocab_size

    def state(r):
        # a perplexity above V is worse than guessing uniformly
        return ('diverged' if r.diverged else
                'learned' if r.final < V else 'worse than uniform')

    table = Table(('remedy', 'result', 'outcome', 's/epoch',
                   'held-out perplexity'),
                  [(label, r.outcome(), state(r), fmt(r.seconds_per_epoch),
                    fmt(r.heldout)) for label, r in runs.items()])
    groups = {k: [(label, r) for label, r in runs.items() if state(r) == k]
              for k in ('learned', 'worse than uniform', 'diverged')}
    parts = []
    if groups['learned']:
        parts.append('Learned (perplexity below the %d of uniform guessing,'
                     ' best first): %s.' % (V, '; '.join(
                         '%s %s' % (label, fmt(r.final)) for label, r in
                         sorted(groups['learned'],
                                key=lambda lr: lr[1].final))))
    if groups['worse than uniform']:
        parts.append('Finite but worse than uniform guessing: %s.' % '; '.join(
            '%s %s' % (label, fmt(r.final))
            for label, r in groups['worse than uniform']))
    if groups['diverged']:
        parts.append('Diverged: %s.' % '; '.join(
            '%s at epoch %d' % (label, r.diverged.epoch)
            for label, r in groups['diverged']))
    answer = ' '.join(parts)
    r = runs[plans[-1][0]]
    verdict, note = judge([(
        'ReLU against exploding gradients', state(r) == 'learned',
        'the ReLU RNN without clipping %s%s' % (
            r.outcome(), '' if r.diverged else ', ' + state(r)))])
    note += ' Batch normalization was not run (it needs a normalised ' \
        'recurrent cell, which the chapter does not build).'
    return Result('scratch models, the book\'s settings but no clipping '
                  'unless stated, random sampling, %d epochs each (the '
                  'book: 250)' % base.num_epochs, [table], answer, verdict,
                  note, dict(runs=runs))
