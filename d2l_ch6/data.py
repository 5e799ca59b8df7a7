"""Corpora (find, download, sha1-check), the vocabulary and the two samplers
of section 6.3.

A corpus is looked for, in this order, in: an explicit ``data_dir``;
``$D2L_CH6_DATA``; ``./data`` and ``../data`` (the book's layout, notebooks/
beside data/); this checkout's own ``data/``; the user cache
(``$D2L_CH6_CACHE``, else ``$XDG_CACHE_HOME/d2l_ch6`` or ``~/.cache/d2l_ch6``).
A file whose sha1 is wrong is reported and skipped. If none is found, the file
is downloaded into the cache (from ``$D2L_CH6_MIRROR/<file>`` if that is set)
through a temporary file that is renamed only once its sha1 is right.
"""
import collections
import contextlib
import io
import os
import random
import shutil
import sys
import tempfile
import warnings
import zipfile

import numpy as np
from mxnet import nd
from mxnet.gluon import utils as gutils

from .errors import BadInput, CorpusError

Corpus = collections.namedtuple('Corpus', 'file sha1 url member lower')

# name -> where the file comes from and how the book reads it
CORPORA = {
    'jaychou': Corpus(
        'jaychou_lyrics.txt.zip', '9529987e701a4f37048ab778270a5dde9a762a0b',
        'https://raw.githubusercontent.com/d2l-ai/d2l-zh/v1/data/'
        'jaychou_lyrics.txt.zip', 'jaychou_lyrics.txt', False),
    'timemachine': Corpus(
        'timemachine.txt', '090b5e7e70c295757f55df93cb0a180b9691891a',
        'http://d2l-data.s3-accelerate.amazonaws.com/timemachine.txt',
        None, True),
}

_CHECKOUT_DATA = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'data')


def cache_dir():
    """The user cache directory corpora are downloaded into."""
    if os.environ.get('D2L_CH6_CACHE'):
        return os.environ['D2L_CH6_CACHE']
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(
        os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'd2l_ch6')


def search_dirs(data_dir=None):
    """The directories searched for a corpus, in order, without repeats."""
    dirs = [data_dir, os.environ.get('D2L_CH6_DATA'), 'data',
            os.path.join('..', 'data'), _CHECKOUT_DATA, cache_dir()]
    seen, out = set(), []
    for d in dirs:
        if d and os.path.abspath(d) not in seen:
            seen.add(os.path.abspath(d))
            out.append(d)
    return out


def _corpus(name):
    try:
        return CORPORA[name]
    except KeyError:
        raise BadInput('unknown corpus %r: choose one of %s'
                       % (name, ', '.join(CORPORA))) from None


def corpus_url(name):
    """The download URL (``$D2L_CH6_MIRROR/<file>`` when that is set)."""
    c = _corpus(name)
    mirror = os.environ.get('D2L_CH6_MIRROR')
    return mirror.rstrip('/') + '/' + c.file if mirror else c.url


def download(name, dest_dir=None):
    """Download corpus ``name`` into ``dest_dir`` (the cache); return path.

    The bytes go to a temporary file next to the target, renamed only when
    complete and sha1-correct, so an interrupted or corrupt download never
    leaves a file a later run would use.
    """
    c = _corpus(name)
    dest_dir = dest_dir or cache_dir()
    os.makedirs(dest_dir, exist_ok=True)
    path = os.path.join(dest_dir, c.file)
    # a private folder beside the target: whatever gluon's download leaves
    # there (its own <file>.<uuid> when a transfer breaks) goes with it
    part_dir = tempfile.mkdtemp(prefix='.%s.part-' % c.file, dir=dest_dir)
    tmp = os.path.join(part_dir, c.file)
    try:
        print('downloading %s from %s' % (c.file, corpus_url(name)),
              file=sys.stderr)
        with contextlib.redirect_stdout(io.StringIO()):  # its temp names
            gutils.download(corpus_url(name), path=tmp, retries=1)
        if not gutils.check_sha1(tmp, c.sha1):
            raise CorpusError('downloaded %s from %s, but its sha1 is not %s'
                              % (c.file, corpus_url(name), c.sha1))
        os.replace(tmp, path)
    finally:
        shutil.rmtree(part_dir, ignore_errors=True)
    return path


def find_corpus(name='jaychou', data_dir=None, download_ok=True):
    """Return the path of a sha1-correct copy of corpus ``name``.

    Looks in :func:`search_dirs`, then downloads into :func:`cache_dir`.
    Raises CorpusError naming every place searched and what to do.
    """
    c = _corpus(name)
    tried = []
    for d in search_dirs(data_dir):
        # absolute: ./data means nothing to a reader of the message
        path = os.path.abspath(os.path.join(d, c.file))
        if not os.path.isfile(path):
            tried.append(path)
            continue
        if gutils.check_sha1(path, c.sha1):
            return path
        warnings.warn('ignoring %s: its sha1 is not %s (corrupt or another '
                      'version; delete it)' % (path, c.sha1), stacklevel=2)
        tried.append(path + ' (wrong sha1)')
    reason = 'downloads are disabled'
    if download_ok:
        try:
            return download(name)
        except Exception as e:  # no network, HTTP error, bad sha1, ...
            reason = 'download from %s failed: %s' % (corpus_url(name), e)
    raise CorpusError(
        'corpus file %s not found.\n  searched:\n    %s\n  %s.\n'
        '  Download it by hand from %s and put it in one of the places above '
        '(e.g. %s), or point D2L_CH6_DATA (or --data-dir) at its folder.'
        % (c.file, '\n    '.join(tried), reason, c.url, cache_dir()))


def read_corpus(name='jaychou', data_dir=None):
    """The corpus text, preprocessed as the book does (newlines -> spaces,
    lower case for The Time Machine), whole."""
    c = _corpus(name)
    path = find_corpus(name, data_dir)
    try:
        if c.member:
            with zipfile.ZipFile(path) as zin:
                with zin.open(c.member) as f:
                    text = f.read().decode('utf-8')
        else:
            with open(path, encoding='utf-8') as f:
                text = f.read()
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError, OSError) as e:
        raise CorpusError('cannot read %s (%s): delete it and run again to '
                          'download a fresh copy' % (path, e)) from None
    text = text.replace('\n', ' ').replace('\r', ' ')
    return text.lower() if c.lower else text


def build_vocab(corpus_chars):
    """(corpus_indices, char_to_idx, idx_to_char, vocab_size) of a text.

    The book builds ``list(set(chars))``, whose order changes from one Python
    process to the next (hash randomisation); sorting makes the vocabulary,
    and so any saved model, the same in every process.
    """
    if len(corpus_chars) < 2:
        raise BadInput('the corpus has %d character(s); a language model '
                       'needs at least 2' % len(corpus_chars))
    idx_to_char = sorted(set(corpus_chars))
    char_to_idx = {char: i for i, char in enumerate(idx_to_char)}
    corpus_indices = [char_to_idx[char] for char in corpus_chars]
    return corpus_indices, char_to_idx, idx_to_char, len(idx_to_char)


def load_corpus(name='jaychou', num_chars=10000, data_dir=None):
    """The book's 4-tuple for corpus ``name``; ``num_chars=None`` keeps the
    whole corpus."""
    corpus_chars = read_corpus(name, data_dir)
    if num_chars is not None:
        corpus_chars = corpus_chars[:num_chars]
    return build_vocab(corpus_chars)


def load_data_jay_lyrics(num_chars=10000, data_dir=None):
    """Load the Jay Chou lyrics: (corpus_indices, char_to_idx, idx_to_char,
    vocab_size). With no arguments, the book's first 10,000 characters."""
    return load_corpus('jaychou', num_chars, data_dir)


def load_data_time_machine(num_chars=10000, data_dir=None):
    """Load The Time Machine (lower case), like load_data_jay_lyrics."""
    return load_corpus('timemachine', num_chars, data_dir)


def _check_sizes(n, batch_size, num_steps, epoch_size, how):
    if num_steps <= 0 or batch_size <= 0:
        raise BadInput('batch_size and num_steps must be positive (got %d '
                       'and %d)' % (batch_size, num_steps))
    if epoch_size < 1:
        raise BadInput(
            '%s sampling of a corpus of %d tokens with batch_size=%d and '
            'num_steps=%d yields no batch at all: lower --batch-size or '
            '--num-steps, or use more of the corpus'
            % (how, n, batch_size, num_steps))


def data_iter_random(corpus_indices, batch_size, num_steps, ctx=None):
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
    """
    num_examples = (len(corpus_indices) - 1) // num_steps \
        if num_steps > 0 else 0
    epoch_size = num_examples // batch_size if batch_size > 0 else 0
    _check_sizes(len(corpus_indices), batch_size, num_steps, epoch_size,
                 'random')
    corpus = np.asarray(corpus_indices, dtype=np.float32)

    def batches():
        example_indices = list(range(num_examples))
        random.shuffle(example_indices)  # lazily, as the book's generator
        offsets = np.arange(num_steps)
        for i in range(epoch_size):
            starts = np.array(
                example_indices[i * batch_size:(i + 1) * batch_size]
            ) * num_steps
            rows = starts[:, None] + offsets  # (batch_size, num_steps)
            yield nd.array(corpus[rows], ctx=ctx), \
                nd.array(corpus[rows + 1], ctx=ctx)
    return batches()


def data_iter_consecutive(corpus_indices, batch_size, num_steps, ctx=None):
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
    """
    batch_len = len(corpus_indices) // batch_size if batch_size > 0 else 0
    epoch_size = (batch_len - 1) // num_steps if num_steps > 0 else 0
    _check_sizes(len(corpus_indices), batch_size, num_steps, epoch_size,
                 'consecutive')

    def batches():
        corpus = nd.array(corpus_indices[:batch_size * batch_len], ctx=ctx)
        indices = corpus.reshape((batch_size, batch_len))
        for i in range(epoch_size):
            i = i * num_steps
            yield (indices[:, i:i + num_steps],
                   indices[:, i + 1:i + num_steps + 1])
    return batches()


def num_batches(corpus_len, batch_size, num_steps, is_random_iter):
    """How many batches one epoch of a sampler yields."""
    if is_random_iter:
        return (corpus_len - 1) // num_steps // batch_size
    return (corpus_len // batch_size - 1) // num_steps


def split_corpus(corpus_indices, valid_frac):
    """(train, valid): the last ``valid_frac`` of the corpus is held out."""
    if not 0 <= valid_frac < 1:
        raise BadInput('valid_frac must be in [0, 1), got %r' % valid_frac)
    n_valid = int(round(len(corpus_indices) * valid_frac))
    cut = len(corpus_indices) - n_valid
    return corpus_indices[:cut], corpus_indices[cut:]


if __name__ == '__main__':  # python -m d2l_ch6.data: find or fetch both
    for _name in CORPORA:
        print(_name, find_corpus(_name))
