"""The exercises of 6.3 语言模型数据集（周杰伦专辑歌词）, each answered by a
run."""
import math
import random
import statistics

from ..core.data import num_batches
from ..core.trainer import BOOK
from .lab import SAMPLINGS
from .registry import Result, Table, compare, exercise, fmt



SAMPLER_NAMES = {
    'random': 'random (the book)',
    'consecutive': 'consecutive (the book)',
    'random-offset': 'random, random offset per epoch',
    'consecutive-offset': 'consecutive, random offset per epoch',
}


@exercise('6.3-sampling',
          'What other ways of sampling minibatches of sequence data are '
          'there, and how do they train?',
          'reverse order; by sentence')
def sampling(lab):
    hp = lab.hyper(BOOK, num_epochs=lab.epochs(100))
    runs = dict(zip(SAMPLINGS, lab.train_many([
        dict(hp=hp, sampling=s, label=SAMPLER_NAMES[s]) for s in SAMPLINGS])))
    n = len(lab.corpus_indices)
    table = Table(
        ('sampler', 'batches per epoch', 's/epoch',
         'perplexity after %d epochs' % hp.num_epochs,
         'held-out perplexity'),
        [(SAMPLER_NAMES[s], num_batches(n, hp.batch_size, hp.num_steps,
                                        s.startswith('random')),
          fmt(r.seconds_per_epoch), fmt(r.final), fmt(r.heldout))
         for s, r in runs.items()])
    score = 'heldout' if lab.heldout else 'final'
    best = min(runs, key=lambda s: _nan_last(getattr(runs[s], score)))
    parts = []
    for s in ('random', 'consecutive'):
        a, b = runs[s + '-offset'], runs[s]
        parts.append('%s with a random offset: %s %s perplexity (%s vs %s)'
                     % (s, compare(getattr(a, score), getattr(b, score)),
                        'held-out' if score == 'heldout' else 'training',
                        fmt(getattr(a, score)), fmt(getattr(b, score))))
    answer = ('Shifting the start by a random offset each epoch gives the '
              'model other windows of the same text: %s. Best %s: %s. '
              'Whole sentences as samples: see 6.3-sentences.' % (
                  '; '.join(parts), 'held-out perplexity'
                  if score == 'heldout' else 'training perplexity',
                  SAMPLER_NAMES[best]))
    return Result('scratch RNN, the book\'s 6.4 settings, %d epochs per '
                  'sampler; offsets k ~ U{0..num_steps-1} drawn each epoch '
                  '(the corpus without its first k tokens); %s' % (
                      hp.num_epochs, lab.heldout_note()),
                  [table], answer, 'not checked',
                  'The learner proposed reverse order and sentence-wise '
                  'samples: suggestions rather than claims; sentence-wise '
                  'samples are measured in 6.3-sentences.',
                  dict(runs={s: (r.final, r.heldout, r.seconds_per_epoch)
                             for s, r in runs.items()}))


def _nan_last(x):
    """A sort key putting nan last."""
    return math.inf if math.isnan(x) else x


@exercise('6.3-sentences',
          'If a sample must be a whole sentence, what problem does that '
          'bring to minibatch sampling?',
          'the batch size would no longer be fixed')
def sentences(lab):
    hp = lab.hyper(BOOK)
    lines = [s for s in lab.chars.split(' ') if s]
    lengths = [len(s) for s in lines]
    rng = random.Random(lab.seed)
    order = list(range(len(lines)))
    rng.shuffle(order)
    B = hp.batch_size
    batches = [[lengths[i] for i in order[j:j + B]]
               for j in range(0, len(order) - B + 1, B)]
    tokens = [sum(b) for b in batches]
    padded = sum(B * max(b) for b in batches)
    padding = 1 - sum(tokens) / padded
    longer = sum(x > hp.num_steps for x in lengths)
    table = Table(('measure', 'value'), [
        ('phrases (the text split at spaces: the book turned line breaks '
         'into spaces)', len(lines)),
        ('phrase length min / median / max', '%d / %g / %d' % (
            min(lengths), statistics.median(lengths), max(lengths))),
        ('batches of %d whole phrases' % B, len(batches)),
        ('characters per batch min / max', '%d / %d' % (min(tokens),
                                                         max(tokens))),
        ('padding if each batch is padded to its longest phrase',
         '%.1f%%' % (100 * padding)),
        ('phrases longer than num_steps=%d' % hp.num_steps, longer),
    ])
    answer = ('Sentences (here phrases) have %d to %d characters, so a batch '
              'of %d whole phrases holds %d to %d characters: either the '
              'samples are padded to the longest one (%.1f%% of the '
              'computation wasted on padding here) or each batch has its '
              'own length; %d phrases exceed num_steps=%d, and the state '
              'can no longer be carried from batch to batch as consecutive '
              'sampling does.' % (min(lengths), max(lengths), B,
                                  min(tokens), max(tokens), 100 * padding,
                                  longer, hp.num_steps))
    varies = min(tokens) < max(tokens)
    verdict = 'partly confirmed' if varies else 'refuted'
    note = ('the number of samples per batch can stay %d; what varies is '
            'their length, so the characters per batch range from %d to %d '
            '(or padding fills %.1f%%).' % (B, min(tokens), max(tokens),
                                            100 * padding))
    return Result('split the %d training characters at spaces and cut the '
                  'shuffled phrases into batches of %d' % (
                      len(lab.chars), B), [table], answer, verdict,
                  note.capitalize(), dict(lengths=lengths, tokens=tokens,
                                          padding=padding))
