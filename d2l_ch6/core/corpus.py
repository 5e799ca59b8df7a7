"""Where the text comes from (section 6.3's corpus): the built-in corpora,
found on disk or downloaded with a sha1 check, or any UTF-8 text file of
the user's (or a .zip holding one), read with the book's preprocessing.

``--corpus jaychou`` and ``--corpus timemachine`` name the built-in
corpora; anything else is the path of a file. A user file is read as a
stream, so ``--num-chars N`` reads only what it needs and a large file is
never held in several copies; a file that cannot serve (missing, empty,
binary, not UTF-8, a zip with no or several text members) is one
CorpusError that says why.

A corpus is looked for, in this order, in: an explicit ``data_dir``;
``$D2L_CH6_DATA``; ``./data`` and ``../data`` (the book's layout, notebooks/
beside data/); this checkout's own ``data/``; the user cache
(``$D2L_CH6_CACHE``, else ``$XDG_CACHE_HOME/d2l_ch6`` or ``~/.cache/d2l_ch6``).
A file whose sha1 is wrong is reported and skipped. If none is found, the file
is downloaded into the cache (from ``$D2L_CH6_MIRROR/<file>`` if that is set)
through a temporary file that is renamed only once its sha1 is right.
"""
import codecs
import collections
import contextlib
import io
import lzma
import os
import shutil
import sys
import tempfile
import warnings
import zipfile
import zlib

from mxnet.gluon import utils as gutils

from .files import remove_stale, temp_prefix
from .errors import ArgumentParser, BadInput, CorpusError

Corpus = collections.namedtuple('Corpus',
                                'file sha1 url member lower prefixes')

# name -> where the file comes from, how the book reads it and the prefixes
# its lines are predicted from
CORPORA = {
    'jaychou': Corpus(
        'jaychou_lyrics.txt.zip', '9529987e701a4f37048ab778270a5dde9a762a0b',
        'https://raw.githubusercontent.com/d2l-ai/d2l-zh/v1/data/'
        'jaychou_lyrics.txt.zip', 'jaychou_lyrics.txt', False,
        ('分开', '不分开')),
    'timemachine': Corpus(
        'timemachine.txt', '090b5e7e70c295757f55df93cb0a180b9691891a',
        'http://d2l-data.s3-accelerate.amazonaws.com/timemachine.txt',
        None, True, ('traveller', 'time traveller')),
}

# d2l_ch6/core/corpus.py -> the checkout's data/
_CHECKOUT_DATA = os.path.join(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))), 'data')


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
    remove_stale(dest_dir, c.file)  # what a killed download left
    part_dir = tempfile.mkdtemp(prefix=temp_prefix(c.file), dir=dest_dir)
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


def is_builtin(name):
    """True for the names of the built-in corpora (else: a file's path)."""
    return name in CORPORA


def default_prefixes(name):
    """The prefixes a run on built-in corpus ``name`` predicts from when
    none are given (the book's 分开 / 不分开 for the lyrics)."""
    return _corpus(name).prefixes


def prefixes_from_text(text, k=2):
    """``k`` short prefixes drawn from a text of the user's: its most
    frequent words (runs of 2-12 characters between white space), or, for
    a text mostly of CJK characters (no spaces between words), its most
    frequent pairs of characters within a line. Ties go to the earlier
    one."""
    words = collections.Counter()
    letters = [c for c in text if not c.isspace()]
    # CJK (U+2E80-U+9FFF): no spaces between words, whatever the lines
    if sum('\u2e80' <= c <= '\u9fff' for c in letters) <= len(letters) / 2:
        words.update(w for w in text.split() if 2 <= len(w) <= 12)
    if len(words) < k:
        words = collections.Counter(
            text[i:i + 2] for i in range(len(text) - 1)
            if not (text[i].isspace() or text[i + 1].isspace()))
    if len(words) < k:
        words = collections.Counter(c for c in text if not c.isspace())
    return tuple(w for w, _ in words.most_common(k))


def lines(text, keep_newlines=False):
    """The book's preprocessing of line ends: newlines and carriage
    returns to spaces; or, ``keep_newlines``, every line end (\\r\\n, \\r,
    \\n) one newline, a character of the vocabulary."""
    if keep_newlines:
        return text.replace('\r\n', '\n').replace('\r', '\n')
    return text.replace('\n', ' ').replace('\r', ' ')


def read_corpus(name='jaychou', data_dir=None, num_chars=None, lower=None,
                keep_newlines=False):
    """The text of corpus ``name`` (a built-in name or a file's path),
    preprocessed as the book does: newlines to spaces (unless
    ``keep_newlines``), lower case for The Time Machine or where ``lower``
    asks; its first ``num_chars`` characters (None: all)."""
    if not is_builtin(name):
        return read_text(name, num_chars, bool(lower), keep_newlines)
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
    text = lines(text, keep_newlines)
    if c.lower if lower is None else lower:
        text = text.lower()
    return text[:num_chars] if num_chars is not None else text


CHUNK = 1 << 20  # bytes read at a time from a user's file
ZIP_MAGIC = (b'PK\x03\x04', b'PK\x05\x06')
# a byte-order mark names its encoding (UTF-32's before UTF-16's: FF FE
# starts both)
BOMS = ((codecs.BOM_UTF32_LE, 'utf-32'), (codecs.BOM_UTF32_BE, 'utf-32'),
        (codecs.BOM_UTF8, 'utf-8-sig'), (codecs.BOM_UTF16_LE, 'utf-16'),
        (codecs.BOM_UTF16_BE, 'utf-16'))
# what a damaged or unusual zip member raises while it is read: a bad
# CRC (BadZipFile), damaged deflate data (zlib.error), a password
# (RuntimeError), an unknown compression (NotImplementedError), a cut
# stream (EOFError), damaged bzip2/lzma data (OSError, LZMAError)
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, RuntimeError,
              NotImplementedError, EOFError, OSError, lzma.LZMAError)


def _one_member(zin, path):
    """The one file inside the open zip ``zin`` (CorpusError if it holds
    none, several or an encrypted one)."""
    members = [m for m in zin.infolist() if not m.is_dir()]
    if len(members) != 1:
        raise CorpusError(
            '%s holds %s: a corpus zip must hold exactly one text file%s'
            % (path, 'no file' if not members else '%d files (%s%s)' % (
                len(members), ', '.join(m.filename for m in members[:4]),
                ', ...' if len(members) > 4 else ''),
               '' if not members else '; zip just one, or unzip it and '
               'give the file'))
    if members[0].flag_bits & 0x1:
        raise CorpusError('%s holds %s encrypted: unzip it with its '
                          'password and give the text file'
                          % (path, members[0].filename))
    return members[0]


@contextlib.contextmanager
def _open_bytes(path):
    """A binary stream of a user's file, or of the one file of a zip. The
    file is opened once, so a pipe (``<(cat file)``, a FIFO) loses nothing:
    its first bytes are peeked at, not read away."""
    with open(path, 'rb') as raw:
        if raw.peek(4)[:4] not in ZIP_MAGIC:
            yield raw
            return
        # zipfile seeks; a pipe's zip is read into memory first
        source = raw if raw.seekable() else io.BytesIO(raw.read())
        try:
            with zipfile.ZipFile(source) as zin:
                with zin.open(_one_member(zin, path)) as f:
                    yield f
        except zipfile.BadZipFile as e:  # its directory: before any read
            raise CorpusError('%s is a damaged zip (%s): zip the text '
                              'again, or give the text file' % (path, e)
                              ) from None


def _encoding(head, path):
    """The codec of a file that starts with the bytes ``head``: the one its
    byte-order mark names, else UTF-8 (its BOM, if any, is dropped). A
    file with NUL bytes and no BOM is refused: UTF-16 without a BOM (said
    as such) or binary."""
    for bom, codec in BOMS:
        if head.startswith(bom):
            return codec
    nul = head.find(b'\0')
    if nul >= 0:
        even, odd = head[0::2].count(0), head[1::2].count(0)
        if len(head) >= 8 and max(even, odd) >= len(head) // 4 \
                and min(even, odd) == 0:
            raise CorpusError(
                '%s looks like UTF-16 without a byte-order mark: convert '
                'it first (e.g. iconv -f UTF-16%s -t UTF-8)'
                % (path, 'LE' if odd else 'BE'))
        raise CorpusError('%s is a binary file, not text (a NUL byte at '
                          'offset %d): give a UTF-8 text file' % (path, nul))
    return 'utf-8-sig'


def text_chunks(path, lower=False, keep_newlines=False):
    """The text of a user's file (UTF-8, or UTF-16/32 with a byte-order
    mark; or the one file of a .zip), chunk by chunk, with the book's
    preprocessing (see :func:`lines`): newlines and carriage returns to
    spaces (or, ``keep_newlines``, each line end one newline), lower case
    if asked. A file cut inside its last character yields all but that
    character, with a warning. CorpusError for a file that cannot serve
    (not found, a folder, binary, not UTF-8, a damaged zip)."""
    if not os.path.exists(path):
        raise CorpusError(
            'no corpus %r: not a built-in corpus (%s) and no such file'
            % (path, ', '.join(CORPORA)))
    if os.path.isdir(path):
        raise CorpusError('%s is a folder: give a text file (or a .zip '
                          'holding one) as --corpus' % path)
    try:
        with _open_bytes(path) as f:
            yield from _decoded(f, path, lower, keep_newlines)
    except CorpusError:
        raise
    except ZIP_ERRORS as e:
        if isinstance(e, OSError) and not isinstance(e, zipfile.BadZipFile) \
                and e.errno is not None:  # the file itself, not the zip
            raise CorpusError('cannot read %s: %s' % (
                path, e.strerror or e)) from None
        raise CorpusError('%s is a damaged zip (%s: %s): zip the text again, '
                          'or give the text file'
                          % (path, type(e).__name__, e)) from None


def _decoded(f, path, lower, keep_newlines=False):
    """The decoded, preprocessed chunks of the binary stream ``f``."""
    held = ''  # a chunk's last \r: the next may start with its \n
    decoder, offset, utf8 = None, 0, True  # bytes read
    while True:
        raw = f.read(CHUNK)
        if decoder is None:
            codec = _encoding(raw[:CHUNK], path)
            decoder = codecs.getincrementaldecoder(codec)()
            utf8 = codec.startswith('utf-8')
        elif utf8:
            nul = raw.find(b'\0')
            if nul >= 0:
                raise CorpusError(
                    '%s is a binary file, not text (a NUL byte at offset '
                    '%d): give a UTF-8 text file' % (path, offset + nul))
        pending = len(decoder.getstate()[0])
        try:
            text = decoder.decode(raw, final=not raw)
        except UnicodeDecodeError as e:
            if not raw:  # the last bytes end inside a character
                warnings.warn('%s ends inside a character (a cut file?): '
                              'its last %d byte(s) are left out'
                              % (path, len(e.object)), stacklevel=3)
                if held:
                    yield lines(held, keep_newlines)
                return
            at = offset - pending + e.start
            raise CorpusError(
                '%s is not %s text: the byte 0x%02x at offset %d cannot be '
                'decoded. Convert it first (e.g. iconv -f GB18030 -t UTF-8 '
                'for Chinese text)' % (path, 'UTF-8' if utf8 else
                                       codec.upper(), e.object[e.start], at)
            ) from None
        offset += len(raw)
        text = held + text
        held = ''
        if keep_newlines and raw and text.endswith('\r'):
            text, held = text[:-1], '\r'
        text = lines(text, keep_newlines)
        yield text.lower() if lower else text
        if not raw:
            return


def read_text(path, num_chars=None, lower=False, keep_newlines=False):
    """The text of a user's file (see :func:`text_chunks`) with the book's
    preprocessing; with ``num_chars``, reading stops once it has them.
    CorpusError for a file that cannot serve as a corpus."""
    chunks, n = [], 0
    reader = text_chunks(path, lower, keep_newlines)
    for text in reader:
        if num_chars is not None:
            text = text[:num_chars - n]
        chunks.append(text)
        n += len(text)
        if num_chars is not None and n >= num_chars:
            reader.close()  # the file too
            break
    text = ''.join(chunks)  # the text once (and its chunks, until now)
    del chunks
    if not text or text.isspace():
        raise CorpusError('%s is empty%s: a corpus needs text' % (
            path, '' if not text else ' (nothing but white space)'))
    return text


def main(argv=None):
    """``python -m d2l_ch6 corpus``: find (or fetch) the built-in corpora
    and print where they are."""
    ArgumentParser(
        prog='python -m d2l_ch6 corpus',
        description='find or download the built-in corpora').parse_args(argv)
    for name in CORPORA:
        print(name, find_corpus(name))
