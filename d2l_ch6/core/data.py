"""Section 6.3's data pipeline, shared by every section: the vocabulary
of a corpus, the two samplers of mini-batches, and held-out splits. The
text itself comes from :mod:`d2l_ch6.core.corpus`.

Defined in section 6.3 (语言模型数据集（周杰伦专辑歌词）).
"""
import collections
import random

import numpy as np
from mxnet import nd

from .corpus import read_corpus
from .errors import BadInput


UNK = '<unk>'  # the token of the characters a --min-freq vocabulary drops


def build_vocab(corpus_chars, min_freq=None, counted=None):
    """(corpus_indices, char_to_idx, idx_to_char, vocab_size) of a text.

    The book builds ``list(set(chars))``, whose order changes from one Python
    process to the next (hash randomisation); sorting makes the vocabulary,
    and so any saved model, the same in every process.

    ``min_freq=K`` (beyond the book): the characters seen fewer than K
    times in ``counted`` (the training part; default the whole text) share
    one token, ``<unk>``, index 0, before the sorted others; every other
    character of the text, held-out ones included, maps to it too. So a
    held-out text is scored over all its characters, and the model learns
    what a rare character looks like instead of memorising each one.
    """
    if len(corpus_chars) < 2:
        raise BadInput('the corpus has %d character(s); a language model '
                       'needs at least 2' % len(corpus_chars))
    if min_freq is None:
        idx_to_char = sorted(set(corpus_chars))
        char_to_idx = {char: i for i, char in enumerate(idx_to_char)}
        corpus_indices = [char_to_idx[char] for char in corpus_chars]
    else:
        if min_freq < 1:
            raise BadInput('--min-freq must be at least 1, got %r'
                           % min_freq)
        counts = collections.Counter(corpus_chars if counted is None
                                     else counted)
        idx_to_char = [UNK] + sorted(c for c, n in counts.items()
                                     if n >= min_freq)
        char_to_idx = {char: i for i, char in enumerate(idx_to_char)}
        corpus_indices = [char_to_idx.get(char, 0) for char in corpus_chars]
    return corpus_indices, char_to_idx, idx_to_char, len(idx_to_char)


def load_corpus(name='jaychou', num_chars=10000, data_dir=None, lower=None,
                min_freq=None, valid_frac=0.0, keep_newlines=False):
    """The book's 4-tuple for corpus ``name`` (a built-in name or the path
    of a text file); ``num_chars=None`` keeps the whole corpus, ``lower``
    lower-cases it (None: as the corpus is read by the book);
    ``min_freq`` builds the vocabulary with an ``<unk>`` token from the
    training part, the text without its last ``valid_frac`` (see
    :func:`build_vocab` and :func:`split_corpus`)."""
    text = read_corpus(name, data_dir, num_chars, lower, keep_newlines)
    counted = None if min_freq is None else split_corpus(text, valid_frac)[0]
    return build_vocab(text, min_freq, counted)


def load_data_jay_lyrics(num_chars=10000, data_dir=None):
    """Load the Jay Chou lyrics: (corpus_indices, char_to_idx, idx_to_char,
    vocab_size). With no arguments, the book's first 10,000 characters."""
    return load_corpus('jaychou', num_chars, data_dir)


def load_data_time_machine(num_chars=10000, data_dir=None):
    """Load The Time Machine (lower case), like load_data_jay_lyrics."""
    return load_corpus('timemachine', num_chars, data_dir)


def num_batches(corpus_len, batch_size, num_steps, is_random_iter):
    """How many batches one epoch of a sampler yields (0: none)."""
    if batch_size <= 0 or num_steps <= 0:
        return 0
    if is_random_iter:
        return (corpus_len - 1) // num_steps // batch_size
    return (corpus_len // batch_size - 1) // num_steps


def check_batches(corpus_len, batch_size, num_steps, is_random_iter,
                  advice='lower --batch-size or --num-steps, or use more of '
                  'the corpus'):
    """BadInput unless the sampler yields at least one batch (the message
    ends with ``advice``: what the command's user can change); return the
    number of batches."""
    if num_steps <= 0 or batch_size <= 0:
        raise BadInput('batch_size and num_steps must be positive (got %d '
                       'and %d)' % (batch_size, num_steps))
    n = num_batches(corpus_len, batch_size, num_steps, is_random_iter)
    if n < 1:
        needed = batch_size * num_steps + 1 if is_random_iter \
            else batch_size * (num_steps + 1)
        raise BadInput(
            '%s sampling of a corpus of %d tokens with batch_size=%d and '
            'num_steps=%d yields no batch at all (it needs %d tokens): %s'
            % ('random' if is_random_iter else 'consecutive', corpus_len,
               batch_size, num_steps, needed, advice))
    return n


def as_array(corpus_indices):
    """The indices as a numpy array: an array (a memory-mapped one too)
    as it is, a list converted once."""
    if isinstance(corpus_indices, np.ndarray):
        return corpus_indices
    return np.asarray(corpus_indices, dtype=np.int64)


def _offset(corpus, num_steps, random_offset):
    """The corpus without its first k tokens, k ~ U{0, ..., num_steps-1}
    drawn with Python's ``random`` (or k = 0: the book); a view."""
    if not random_offset or num_steps <= 0:
        return corpus
    return corpus[random.randrange(num_steps):]


def random_rows(corpus_indices, batch_size, num_steps, random_offset=False):
    """(the corpus, after its offset, as an array; a generator of each
    batch's example starts, ``batch_size`` of them): the random sampler's
    order, drawn from Python's ``random`` as the book's (the shuffle at the
    first batch)."""
    corpus = _offset(as_array(corpus_indices), num_steps, random_offset)
    epoch_size = check_batches(len(corpus), batch_size, num_steps, True)
    num_examples = (len(corpus) - 1) // num_steps

    def starts():
        example_indices = list(range(num_examples))
        random.shuffle(example_indices)  # lazily, as the book's generator
        for i in range(epoch_size):
            yield np.array(example_indices[i * batch_size:(i + 1) *
                                           batch_size]) * num_steps
    return corpus, starts()


def consecutive_rows(corpus_indices, batch_size, num_steps,
                     random_offset=False):
    """(the corpus cut into ``batch_size`` rows, a (batch_size, batch_len)
    view; the number of batches): the consecutive sampler's layout."""
    corpus = _offset(as_array(corpus_indices), num_steps, random_offset)
    epoch_size = check_batches(len(corpus), batch_size, num_steps, False)
    batch_len = len(corpus) // batch_size
    return corpus[:batch_size * batch_len].reshape(
        (batch_size, batch_len)), epoch_size


def data_iter_random(corpus_indices, batch_size, num_steps, ctx=None,
                     random_offset=False):
    """Sample mini-batches of random, non-overlapping subsequences.

    The corpus is cut into ``num_examples = (len - 1) // num_steps`` examples
    starting at multiples of ``num_steps``; their order is shuffled with
    Python's ``random`` (so ``random.seed`` gives the book's batches), and
    each batch takes the next ``batch_size`` of them. Y is X shifted by one::

        corpus  |e0    |e1    |e2    |e3    |e4    |...     (num_steps each)
        shuffle  e3, e0, e4, e1, ...
        batch 0  X = [e3; e0]   batch 1  X = [e4; e1]     (batch_size = 2)

    Neighbouring batches do not continue each other, so the trainer starts
    every batch from a fresh hidden state. X, Y: (batch_size, num_steps).

    The examples always start at multiples of ``num_steps`` and the last
    ``(len - 1) % num_steps`` tokens are never read. ``random_offset=True``
    (beyond the book) first drops k tokens, k drawn anew for every call
    (every epoch) from 0..num_steps-1, so over the epochs every position
    starts an example somewhere and the tail is read too::

        k = 0   |e0    |e1    |e2    |...|      (tail)
        k = 2   ..|e0    |e1    |e2    |...|    (other windows, tail read)

    ``corpus_indices`` may be a list or a (memory-mapped) array: a batch
    reads its rows only.
    """
    corpus, starts = random_rows(corpus_indices, batch_size, num_steps,
                                 random_offset)
    offsets = np.arange(num_steps)

    def batches():
        for start in starts:
            rows = start[:, None] + offsets  # (batch_size, num_steps)
            yield (nd.array(corpus[rows], ctx=ctx, dtype='float32'),
                   nd.array(corpus[rows + 1], ctx=ctx, dtype='float32'))
    return batches()


def data_iter_consecutive(corpus_indices, batch_size, num_steps, ctx=None,
                          random_offset=False):
    """Sample mini-batches whose rows continue those of the batch before.

    The corpus is cut into ``batch_size`` equal rows (the tail is dropped);
    batch ``i`` is columns ``[i*num_steps, (i+1)*num_steps)`` of every row::

        row 0  | 0  1  2  3  4  5 | 6  7  8  9 10 11 | 12 13 14
        row 1  |15 16 17 18 19 20 |21 22 23 24 25 26 | 27 28 29
                  batch 0            batch 1
                                   (range(30), batch_size 2, num_steps 6)

    Row r of batch i+1 continues row r of batch i, so the trainer carries the
    hidden state over (detached) from one batch to the next.
    X, Y: (batch_size, num_steps), Y = X shifted by one.

    ``random_offset=True`` (beyond the book) first drops k tokens, k drawn
    anew for every call from 0..num_steps-1: the rows and the batch
    boundaries move from epoch to epoch (above, k = 2 starts row 0 at 2).
    ``corpus_indices`` may be a list or a (memory-mapped) array: a batch
    reads its columns only.
    """
    indices, epoch_size = consecutive_rows(corpus_indices, batch_size,
                                           num_steps, random_offset)

    def batches():
        for i in range(epoch_size):
            i = i * num_steps
            yield (nd.array(indices[:, i:i + num_steps], ctx=ctx,
                            dtype='float32'),
                   nd.array(indices[:, i + 1:i + num_steps + 1], ctx=ctx,
                            dtype='float32'))
    return batches()


def epoch_batches(corpus_indices, batch_size, num_steps, ctx,
                  is_random_iter=False, random_offset=False, block=64):
    """The batches of one epoch of either sampler, as the trainer reads
    them: (X (batch, num_steps), y (num_steps * batch,) time-major, as the
    models' outputs), the same batches as ``data_iter_random`` /
    ``data_iter_consecutive`` draw (the same calls of ``random``). They are
    staged ``block`` batches at a time: one copy to the device for the
    block, each batch a view of it (no operator per batch), and only the
    block's rows of a large (memory-mapped) corpus are read."""
    if is_random_iter:
        corpus, starts = random_rows(corpus_indices, batch_size, num_steps,
                                     random_offset)
        offsets = np.arange(num_steps)
        windows = (start[:, None] + offsets for start in starts)
    else:
        indices, epoch_size = consecutive_rows(corpus_indices, batch_size,
                                               num_steps, random_offset)
        corpus = indices
        windows = ((slice(None), slice(i * num_steps, (i + 1) * num_steps))
                   for i in range(epoch_size))
    while True:
        chunk = [w for _, w in zip(range(block), windows)]
        if not chunk:
            return
        if is_random_iter:
            X = np.stack([corpus[w] for w in chunk])
            Y = np.stack([corpus[w + 1] for w in chunk])
        else:
            X = np.stack([corpus[w] for w in chunk])
            Y = np.stack([corpus[:, slice(w[1].start + 1, w[1].stop + 1)]
                          for w in chunk])
        X = nd.array(X, ctx=ctx, dtype='float32')  # (k, batch, steps)
        # (k, steps * batch): each batch's Y transposed, time-major
        y = nd.array(Y.transpose(0, 2, 1).reshape(len(chunk), -1), ctx=ctx,
                     dtype='float32')
        for k in range(len(chunk)):
            yield X[k], y[k]


def split_corpus(corpus_indices, valid_frac):
    """(train, valid): the last ``valid_frac`` of the corpus is held out
    (``valid_frac=0``: none). A held-out part needs at least 2 tokens: its
    first one is read, the next ones predicted."""
    if not 0 <= valid_frac < 1:
        raise BadInput('valid_frac must be in [0, 1), got %r' % valid_frac)
    n_valid = int(round(len(corpus_indices) * valid_frac))
    if valid_frac and n_valid < 2:
        raise BadInput('--valid-frac %g holds out %d of the %d characters: '
                       'a held-out text needs at least 2 (raise --valid-frac'
                       ', or leave it out)' % (valid_frac, n_valid,
                                              len(corpus_indices)))
    cut = len(corpus_indices) - n_valid
    return corpus_indices[:cut], corpus_indices[cut:]
