"""A text of any size as a compact array of character indices, encoded
once and memory-mapped afterwards (what nanoGPT's ``prepare.py`` does
with ``train.bin``).

``encode(path)`` reads the file as a stream (:func:`corpus.text_chunks`)
and writes its indices, uint8 where the vocabulary has at most 256
characters, uint16 up to 65,536, else uint32, into the user cache
(``corpus.cache_dir()/encoded``), named after the sha256 of the file's
bytes and the preprocessing, beside a JSON file with the sorted
vocabulary. A later run hashes the file (about 0.3 s for 100 MB) and maps
the array from the cache: no decoding, and only the pages a batch reads
are loaded. A changed file has another hash and is encoded anew. A
stream (a pipe, a FIFO) cannot be read twice: it is encoded in memory,
without a cache.

On the way a text is held as numpy arrays of code points, one chunk at a
time (``np.frombuffer`` of its UTF-32 bytes): no Python list of
characters, whatever the size.
"""
import hashlib
import json
import os
import stat
import warnings

import numpy as np

from .corpus import CHUNK, cache_dir, find_corpus, is_builtin, text_chunks
from .data import UNK
from .errors import BadInput, CorpusError
from .files import atomic_path

FORMAT = 1  # of the cache's files: a change makes the old ones unused


class Encoded:
    """A text encoded: ``indices`` (a numpy array, memory-mapped when it
    came from the cache), ``idx_to_char`` and ``char_to_idx``, and where
    it came from."""

    def __init__(self, indices, idx_to_char, path, sha256=None, cached=False,
                 cache_file=None):
        self.indices, self.idx_to_char = indices, list(idx_to_char)
        self.char_to_idx = {c: i for i, c in enumerate(self.idx_to_char)}
        self.path, self.sha256, self.cached = path, sha256, cached
        self.cache_file = cache_file

    def __len__(self):
        return len(self.indices)

    @property
    def vocab_size(self):
        return len(self.idx_to_char)


def dtype_for(vocab_size):
    """The smallest unsigned integer type that holds the indices."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if vocab_size <= np.iinfo(dtype).max + 1:
            return np.dtype(dtype)
    raise BadInput('a vocabulary of %d characters' % vocab_size)


def code_points(text):
    """The code points of ``text`` as a uint32 array (no per-character
    Python work)."""
    return np.frombuffer(text.encode('utf-32-le'), dtype='<u4')


def file_sha256(path):
    """sha256 of the file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(CHUNK * 4), b''):
            h.update(block)
    return h.hexdigest()


def _is_regular(path):
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _resolve(name):
    """A built-in corpus name (jaychou, timemachine) is its file."""
    return find_corpus(name) if is_builtin(name) else name


def _options(lower, keep_newlines, vocab):
    key = '%s%s' % ('lower-' if lower else '',
                    'lines' if keep_newlines else 'flat')
    if vocab is not None:  # another model's vocabulary (fine-tuning)
        key += '-v' + hashlib.sha256('\0'.join(vocab).encode()
                                     ).hexdigest()[:16]
    return key


def encode(name, lower=False, keep_newlines=True, vocab=None, log=None):
    """The text of file ``name`` (or of a built-in corpus) encoded: see the
    module. ``vocab``: encode with this vocabulary (a checkpoint's), its
    ``<unk>`` standing for a character it lacks (without ``<unk>``, such
    characters are one BadInput that lists them); else the sorted
    characters of the text. ``log(line)`` hears what is done."""
    path = _resolve(name)
    if not os.path.exists(path) or os.path.isdir(path):
        next(text_chunks(path, lower, keep_newlines))  # its one-line error
    if not _is_regular(path):  # a pipe: one pass, in memory
        return _encode_stream(path, lower, keep_newlines, vocab)
    sha = file_sha256(path)
    stem = os.path.join(cache_dir(), 'encoded', '%s-%s-%d' % (
        sha[:32], _options(lower, keep_newlines, vocab), FORMAT))
    found = _load(stem, path, sha)
    if found is not None:
        return found
    if log:
        log('encoding %s once (the next runs map it from %s)'
            % (path, os.path.dirname(stem)))
    idx_to_char = _vocabulary(path, lower, keep_newlines, vocab)
    dtype = dtype_for(len(idx_to_char))
    table = _table(idx_to_char)
    try:
        os.makedirs(os.path.dirname(stem), exist_ok=True)
        with atomic_path(stem + '.bin') as tmp:
            n = _write(path, lower, keep_newlines, table, idx_to_char,
                       dtype, tmp)
        with atomic_path(stem + '.json') as tmp:
            with open(tmp, 'w', encoding='utf-8') as f:
                json.dump(dict(format=FORMAT, sha256=sha, length=n,
                               dtype=dtype.name, vocab=idx_to_char,
                               source=os.path.abspath(path)), f,
                          ensure_ascii=False)
    except OSError as e:  # no room in the cache: encode in memory instead
        warnings.warn('cannot cache the encoded text (%s): it is kept in '
                      'memory for this run' % e, stacklevel=2)
        return _encode_stream(path, lower, keep_newlines, vocab)
    return _load(stem, path, sha)


def _load(stem, path, sha):
    """The cached encoding at ``stem`` (None if absent or not whole)."""
    try:
        with open(stem + '.json', encoding='utf-8') as f:
            meta = json.load(f)
        if meta.get('format') != FORMAT or meta.get('sha256') != sha:
            return None
        indices = np.memmap(stem + '.bin', dtype=meta['dtype'], mode='r',
                            shape=(meta['length'],)) if meta['length'] \
            else np.zeros(0, dtype=meta['dtype'])
    except (OSError, ValueError, KeyError):
        return None
    return Encoded(indices, meta['vocab'], path, sha, cached=True,
                   cache_file=stem + '.bin')


def _vocabulary(path, lower, keep_newlines, vocab):
    """The sorted characters of the text (first pass), or ``vocab``
    checked against them."""
    seen = np.zeros(0, dtype='<u4')
    for text in text_chunks(path, lower, keep_newlines):
        seen = np.union1d(seen, np.unique(code_points(text)))
    chars = [chr(c) for c in seen]
    _check_text(chars, path)
    if vocab is None:
        return sorted(chars)
    missing = [c for c in chars if c not in set(vocab)]
    if missing and UNK not in vocab:
        raise BadInput(
            'the checkpoint\'s vocabulary lacks %d character(s) of %s: %s. '
            'Train the first model with --min-freq (its <unk> then stands '
            'for them), or pick a text of the same characters'
            % (len(missing), path, ' '.join(repr(c) for c in missing[:20])
               + (' ...' if len(missing) > 20 else '')))
    return list(vocab)


def _check_text(chars, path):
    """CorpusError for a text with no character but white space."""
    if not ''.join(chars).strip():
        raise CorpusError('%s is empty%s: a corpus needs text' % (
            path, ' (nothing but white space)' if chars else ''))


def _table(idx_to_char):
    """(sorted code points, their indices): what searchsorted maps."""
    pairs = sorted((ord(c), i) for i, c in enumerate(idx_to_char)
                   if len(c) == 1)
    return (np.array([p for p, _ in pairs], dtype='<u4'),
            np.array([i for _, i in pairs], dtype=np.int64))


def _map(points, table, idx_to_char):
    """Code points -> indices (the vocabulary's <unk> for one it lacks)."""
    keys, values = table
    at = np.searchsorted(keys, points)
    at[at == len(keys)] = 0
    found = keys[at] == points if len(keys) else np.zeros(len(points), bool)
    out = values[at] if len(keys) else np.zeros(len(points), np.int64)
    if not found.all():
        out[~found] = idx_to_char.index(UNK)
    return out


def _write(path, lower, keep_newlines, table, idx_to_char, dtype, tmp):
    """Second pass: the indices into the file ``tmp``; returns how many."""
    n = 0
    with open(tmp, 'wb') as f:
        for text in text_chunks(path, lower, keep_newlines):
            out = _map(code_points(text), table, idx_to_char)
            f.write(out.astype(dtype).tobytes())
            n += len(out)
    return n


def _encode_stream(path, lower, keep_newlines, vocab):
    """One pass over a stream, the text's code points in memory (4 bytes a
    character) while they are counted; no cache."""
    parts = [code_points(t) for t in text_chunks(path, lower,
                                                 keep_newlines)]
    points = np.concatenate(parts) if parts else np.zeros(0, '<u4')
    del parts
    chars = [chr(c) for c in np.unique(points)]
    _check_text(chars, path)
    if vocab is not None:
        missing = [c for c in chars if c not in set(vocab)]
        if missing and UNK not in vocab:
            raise BadInput('the checkpoint\'s vocabulary lacks %d '
                           'character(s) of %s: %s' % (
                               len(missing), path, ' '.join(
                                   repr(c) for c in missing[:20])))
        idx_to_char = list(vocab)
    else:
        idx_to_char = sorted(chars)
    indices = _map(points, _table(idx_to_char), idx_to_char).astype(
        dtype_for(len(idx_to_char)))
    return Encoded(indices, idx_to_char, path)


def with_min_freq(encoded, min_freq, counted_len, log=None):
    """``encoded`` with the characters seen fewer than ``min_freq`` times in
    its first ``counted_len`` indices (the training part) mapped to a new
    ``<unk>``, index 0 (see :func:`data.build_vocab`). The remapped array
    is cached beside the encoding (or made in memory for a stream)."""
    counts = np.zeros(encoded.vocab_size, dtype=np.int64)
    for start in range(0, counted_len, CHUNK * 16):
        part = np.asarray(encoded.indices[start:min(counted_len,
                                                    start + CHUNK * 16)])
        counts += np.bincount(part, minlength=encoded.vocab_size)
    kept = [c for c, n in zip(encoded.idx_to_char, counts) if n >= min_freq
            and c != UNK]
    idx_to_char = [UNK] + kept
    remap = np.zeros(encoded.vocab_size, dtype=np.int64)  # dropped: 0
    new = {c: i for i, c in enumerate(idx_to_char)}
    for i, c in enumerate(encoded.idx_to_char):
        remap[i] = new.get(c, 0)
    dtype = dtype_for(len(idx_to_char))
    if encoded.cache_file is None:
        return Encoded(remap[np.asarray(encoded.indices)].astype(dtype),
                       idx_to_char, encoded.path, encoded.sha256)
    stem = '%s-minfreq%d-%d' % (encoded.cache_file[:-len('.bin')],
                                min_freq, counted_len)
    if not os.path.exists(stem + '.bin'):
        if log:
            log('mapping the characters seen fewer than %d times to %s'
                % (min_freq, UNK))
        with atomic_path(stem + '.bin') as tmp:
            with open(tmp, 'wb') as f:
                for start in range(0, len(encoded), CHUNK * 16):
                    part = np.asarray(encoded.indices[start:start +
                                                      CHUNK * 16])
                    f.write(remap[part].astype(dtype).tobytes())
    indices = np.memmap(stem + '.bin', dtype=dtype, mode='r',
                        shape=(len(encoded),))
    return Encoded(indices, idx_to_char, encoded.path, encoded.sha256,
                   cached=encoded.cached, cache_file=stem + '.bin')
