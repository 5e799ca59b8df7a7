"""6.3 语言模型数据集（周杰伦专辑歌词） — the corpus, its vocabulary and the
two ways of sampling mini-batches.

The book's demo: the first 40 characters, the vocabulary size (1027 for
the first 10,000 characters), the first 20 characters with their indices,
and both samplers on ``range(30)`` with batch size 2 and 6 time steps.
The samplers themselves live in :mod:`d2l_ch6.core.data`, shared by every
section. The concise version reads the same windows through ``gluon.data``:
a Dataset of windows and a DataLoader that batches them in the samplers'
order, shown equal batch for batch.
"""
import random
from dataclasses import dataclass, field

import numpy as np
from mxnet.gluon import data as gdata

from .core import cli
from .core.data import check_batches, data_iter_consecutive, data_iter_random


class Windows(gdata.Dataset):
    """Windows of ``num_steps`` tokens: item i is (X, Y) with X =
    corpus[s:s+num_steps] and Y the same shifted by one, s = starts[i]."""

    def __init__(self, corpus_indices, starts, num_steps):
        self._corpus = np.asarray(corpus_indices, dtype=np.float32)
        self._starts, self._num_steps = list(starts), num_steps

    def __len__(self):
        return len(self._starts)

    def __getitem__(self, i):
        s = self._starts[i]
        return (self._corpus[s:s + self._num_steps],
                self._corpus[s + 1:s + self._num_steps + 1])


class PythonShuffle(gdata.Sampler):
    """0..length-1 shuffled with Python's ``random`` at every pass, as the
    book's sampler does (gluon's RandomSampler shuffles with numpy)."""

    def __init__(self, length):
        self._length = length

    def __iter__(self):
        order = list(range(self._length))
        random.shuffle(order)
        return iter(order)

    def __len__(self):
        return self._length


def random_loader(corpus_indices, batch_size, num_steps):
    """data_iter_random as a DataLoader: the windows starting at multiples
    of ``num_steps``, in a shuffled order, ``batch_size`` at a time."""
    check_batches(len(corpus_indices), batch_size, num_steps, True)
    num_examples = (len(corpus_indices) - 1) // num_steps
    windows = Windows(corpus_indices,
                      range(0, num_examples * num_steps, num_steps),
                      num_steps)
    return gdata.DataLoader(windows, batch_size,
                            sampler=PythonShuffle(len(windows)),
                            last_batch='discard')


def consecutive_loader(corpus_indices, batch_size, num_steps):
    """data_iter_consecutive as a DataLoader: the corpus cut into
    ``batch_size`` rows of ``batch_len``; batch i holds window i of every
    row, so the windows are listed batch by batch, row by row."""
    epoch_size = check_batches(len(corpus_indices), batch_size, num_steps,
                               False)
    batch_len = len(corpus_indices) // batch_size
    starts = [r * batch_len + i * num_steps
              for i in range(epoch_size) for r in range(batch_size)]
    return gdata.DataLoader(Windows(corpus_indices, starts, num_steps),
                            batch_size, shuffle=False)


def batches_equal(a, b):
    """True if two iterables of (X, Y) give the same arrays."""
    a, b = list(a), list(b)
    return len(a) == len(b) and all(
        np.array_equal(X1.asnumpy(), X2.asnumpy())
        and np.array_equal(Y1.asnumpy(), Y2.asnumpy())
        for (X1, Y1), (X2, Y2) in zip(a, b))


def loaders_equal(corpus_indices, batch_size, num_steps, seed, ctx=None):
    """{'random': ..., 'consecutive': ...}: does each DataLoader give the
    sampler's batches (random: both drawn after ``random.seed(seed)``)?"""
    random.seed(seed)
    sampled = list(data_iter_random(corpus_indices, batch_size, num_steps,
                                    ctx))
    random.seed(seed)
    same_random = batches_equal(sampled, random_loader(
        corpus_indices, batch_size, num_steps))
    same_consecutive = batches_equal(
        data_iter_consecutive(corpus_indices, batch_size, num_steps, ctx),
        consecutive_loader(corpus_indices, batch_size, num_steps))
    return {'random': same_random, 'consecutive': same_consecutive}


@dataclass
class DatasetResult:
    """The demo's facts: the first 40 characters, the vocabulary size, the
    first 20 characters and their indices, the batches (X, Y as numpy) of
    both samplers on range(30), and whether the DataLoaders agree
    ({setting: {'random': bool, 'consecutive': bool}})."""
    first_40: str = ''
    vocab_size: int = 0
    chars: str = ''
    indices: list = field(default_factory=list)
    random: list = field(default_factory=list)
    consecutive: list = field(default_factory=list)
    loaders_equal: dict = field(default_factory=dict)


def _demo(sampler, my_seq, ctx):
    """Print the book's 'X: ... Y: ...' lines; return the batches."""
    out = []
    for X, Y in sampler(my_seq, batch_size=2, num_steps=6, ctx=ctx):
        print('X: ', X, '\nY:', Y, '\n')
        out.append((X.asnumpy(), Y.asnumpy()))
    return out


def main(argv=None):
    args = cli.parser('lang_model_dataset', __doc__,
                      train=False).parse_args(argv)
    ctx = cli.setup(args)
    corpus_indices, char_to_idx, idx_to_char, vocab_size = cli.load(args)
    result = DatasetResult(vocab_size=vocab_size)
    result.first_40 = ''.join(idx_to_char[i] for i in corpus_indices[:40])
    print('corpus_chars[:40]:', result.first_40)
    print('vocab_size:', vocab_size)
    sample = corpus_indices[:20]
    result.chars = ''.join([idx_to_char[idx] for idx in sample])
    result.indices = list(sample)
    print('chars:', result.chars)
    print('indices:', sample)

    my_seq = list(range(30))
    print('\ndata_iter_random (random.seed(%d)):' % args.seed)
    random.seed(args.seed)
    result.random = _demo(data_iter_random, my_seq, ctx)
    print('data_iter_consecutive:')
    result.consecutive = _demo(data_iter_consecutive, my_seq, ctx)

    print('gluon.data: Windows dataset + DataLoader, same batches as the '
          'samplers?')
    for name, seq, batch_size, num_steps in (
            ('range(30)', my_seq, 2, 6),
            ('the corpus', corpus_indices, 32, 35)):
        same = loaders_equal(seq, batch_size, num_steps, args.seed, ctx)
        result.loaders_equal[name] = same
        print('  %s, batch_size %d, num_steps %d: random %s, consecutive %s'
              % (name, batch_size, num_steps,
                 *('yes' if same[k] else 'NO'
                   for k in ('random', 'consecutive'))))
    return result


if __name__ == '__main__':
    cli.run(main)
