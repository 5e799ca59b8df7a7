"""d2l_ch6.core.data: corpus lookup and download, the vocabulary, both
samplers.

Lookup and download run in a sandbox (no D2L_CH6_DATA, an empty working
tree, an empty cache, a mirror on a closed port) so that only the place a
test fills can be found; downloads go to a local HTTP server on 127.0.0.1.
The samplers are checked batch for batch against d2lzh (the book's own
package) and against invariants on corpora whose values are positions.
"""
import functools
import hashlib
import http.server
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import zipfile
from types import SimpleNamespace

import d2lzh
import numpy as np
import pytest

import d2l_ch6 as d2l
from d2l_ch6.core import corpus, data
from d2l_ch6.core.errors import BadInput, CorpusError

JAY = corpus.CORPORA['jaychou']
TM = corpus.CORPORA['timemachine']


# the real corpus files, found the usual way (D2L_CH6_DATA in CI) before
# any test moves the lookup places
SOURCES = {c.file: corpus.find_corpus(name, download_ok=False)
           for name, c in corpus.CORPORA.items()}


def source_file(corpus):
    """The real corpus file."""
    return SOURCES[corpus.file]


def raw_text(corpus):
    """The corpus read independently of d2l_ch6: the book's preprocessing
    (newlines -> spaces), without the cut to 10,000 characters."""
    path = source_file(corpus)
    if corpus.member:
        with zipfile.ZipFile(path) as zin:
            text = zin.read(corpus.member).decode('utf-8')
    else:
        with open(path, encoding='utf-8') as f:
            text = f.read()
    text = text.replace('\n', ' ').replace('\r', ' ')
    return text.lower() if corpus.lower else text


def closed_port_url():
    """An http URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    return 'http://127.0.0.1:%d' % port


def files_in(path):
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


# --- lookup ---------------------------------------------------------------

PLACES = ['explicit', 'env', 'cwd', 'parent', 'checkout', 'cache']


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """Every place of the lookup order as an empty folder of its own; the
    working directory is tree/nb so that ./data and ../data are tree/nb/data
    and tree/data; downloads go to a closed port."""
    tree = tmp_path / 'tree'
    nb = tree / 'nb'
    nb.mkdir(parents=True)
    dirs = {
        'explicit': tmp_path / 'explicit',
        'env': tmp_path / 'env',
        'cwd': nb / 'data',
        'parent': tree / 'data',
        'checkout': tmp_path / 'checkout' / 'data',
        'cache': tmp_path / 'cache',
    }
    monkeypatch.chdir(nb)
    monkeypatch.setenv('D2L_CH6_DATA', str(dirs['env']))
    monkeypatch.setenv('D2L_CH6_CACHE', str(dirs['cache']))
    monkeypatch.setenv('D2L_CH6_MIRROR', closed_port_url())
    monkeypatch.setenv('NO_PROXY', '127.0.0.1,localhost')
    monkeypatch.setattr(corpus, '_CHECKOUT_DATA', str(dirs['checkout']))
    return SimpleNamespace(dirs={k: str(v) for k, v in dirs.items()},
                           tmp=tmp_path)


def put(folder, corpus=JAY, content=None):
    """Put the corpus file (or ``content`` under its name) in ``folder``."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, corpus.file)
    if content is None:
        shutil.copyfile(source_file(corpus), path)
    else:
        with open(path, 'wb') as f:
            f.write(content)
    return path


@pytest.mark.parametrize('place', PLACES)
def test_lookup_order(sandbox, place):
    # the file is in `place` and in every place after it: `place` wins
    k = PLACES.index(place)
    for later in PLACES[k:]:
        put(sandbox.dirs[later])
    data_dir = sandbox.dirs['explicit'] if place == 'explicit' else None
    path = corpus.find_corpus('jaychou', data_dir=data_dir)
    expected = os.path.join(sandbox.dirs[place], JAY.file)
    assert os.path.samefile(path, expected)


def test_lookup_relative_dirs_follow_the_working_directory(sandbox,
                                                            monkeypatch):
    # the book's layout: the notebook's folder beside data/
    put(sandbox.dirs['parent'])
    other = sandbox.tmp / 'elsewhere'
    other.mkdir()
    monkeypatch.chdir(other)
    with pytest.raises(CorpusError):
        corpus.find_corpus('jaychou')


def test_wrong_sha1_is_skipped_with_a_warning(sandbox):
    bad = put(sandbox.dirs['explicit'], content=b'not the lyrics')
    good = put(sandbox.dirs['cache'])
    with pytest.warns(UserWarning, match='sha1') as record:
        path = corpus.find_corpus('jaychou', data_dir=sandbox.dirs['explicit'])
    assert os.path.samefile(path, good)
    assert any(bad in str(w.message) for w in record)


def test_wrong_sha1_alone_is_never_used(sandbox):
    bad = put(sandbox.dirs['env'], content=b'not the lyrics')
    with pytest.warns(UserWarning, match='sha1'):
        with pytest.raises(CorpusError) as e:
            d2l.load_data_jay_lyrics()
    assert bad + ' (wrong sha1)' in str(e.value)
    with open(bad, 'rb') as f:  # reported, not deleted behind our back
        assert f.read() == b'not the lyrics'


def test_not_found_and_not_downloadable(sandbox):
    mirror = os.environ['D2L_CH6_MIRROR']
    with pytest.raises(CorpusError) as e:
        d2l.load_data_jay_lyrics(data_dir=sandbox.dirs['explicit'])
    msg = str(e.value)
    assert JAY.file in msg
    for place in PLACES:  # every place searched (./data may be relative)
        path = os.path.join(sandbox.dirs[place], JAY.file)
        assert path in msg or os.path.relpath(path) in msg, place
    assert JAY.url in msg  # where to get it by hand
    assert mirror + '/' + JAY.file in msg  # the URL that failed
    assert 'D2L_CH6_DATA' in msg and 'put it' in msg
    assert files_in(sandbox.dirs['cache']) == []


def test_download_disabled(sandbox):
    with pytest.raises(CorpusError, match='downloads are disabled'):
        corpus.find_corpus('jaychou', download_ok=False)


# --- download from a local HTTP server ------------------------------------

class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; under /truncated/ it promises the whole file and
    sends half of it, then hangs up (an interrupted download)."""

    def do_GET(self):
        if self.path.startswith('/truncated/'):
            name = self.path.split('/')[-1]
            with open(os.path.join(self.directory, 'good', name),
                      'rb') as f:
                body = f.read()
            self.send_response(200)
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """http://127.0.0.1:PORT serving good/ (the real files) and bad/ (a
    file of the right name and the wrong bytes)."""
    root = tmp_path / 'www'
    (root / 'good').mkdir(parents=True)
    (root / 'bad').mkdir()
    for c in (JAY, TM):
        shutil.copyfile(source_file(c), root / 'good' / c.file)
        (root / 'bad' / c.file).write_bytes(b'tampered ' * 100)
    httpd = http.server.ThreadingHTTPServer(
        ('127.0.0.1', 0), functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,),
                              daemon=True)
    thread.start()
    yield 'http://127.0.0.1:%d' % httpd.server_port
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.mark.parametrize('name', ['jaychou', 'timemachine'])
def test_download_lands_in_the_cache(sandbox, server, monkeypatch, name):
    c = corpus.CORPORA[name]
    monkeypatch.setenv('D2L_CH6_MIRROR', server + '/good')
    path = corpus.find_corpus(name)
    cache = sandbox.dirs['cache']
    assert os.path.samefile(path, os.path.join(cache, c.file))
    assert files_in(cache) == [c.file]  # no temporary file left
    with open(path, 'rb') as f:
        assert hashlib.sha1(f.read()).hexdigest() == c.sha1
    # the next run finds it in the cache, with the server gone
    monkeypatch.setenv('D2L_CH6_MIRROR', closed_port_url())
    assert os.path.samefile(corpus.find_corpus(name), path)


def test_download_then_load_equals_the_book(sandbox, server, monkeypatch):
    monkeypatch.setenv('D2L_CH6_MIRROR', server + '/good')
    corpus_indices, _, idx_to_char, _ = d2l.load_data_jay_lyrics()
    text = raw_text(JAY)[:10000]
    assert ''.join(idx_to_char[i] for i in corpus_indices) == text


def test_download_with_wrong_sha1_leaves_nothing(sandbox, server,
                                                 monkeypatch):
    monkeypatch.setenv('D2L_CH6_MIRROR', server + '/bad')
    cache = sandbox.dirs['cache']
    with pytest.raises(CorpusError, match='sha1'):
        corpus.download('jaychou')
    assert files_in(cache) == []
    with pytest.raises(CorpusError) as e:
        d2l.load_data_jay_lyrics()
    assert server + '/bad/' + JAY.file in str(e.value)
    assert files_in(cache) == []


def test_interrupted_download_leaves_nothing(sandbox, server, monkeypatch):
    monkeypatch.setenv('D2L_CH6_MIRROR', server + '/truncated')
    with pytest.raises(CorpusError):
        corpus.find_corpus('jaychou')
    assert files_in(sandbox.dirs['cache']) == []


# --- reading and the vocabulary ---------------------------------------------

def test_corrupt_zip_is_a_corpus_error(sandbox, monkeypatch):
    junk = b'PK this is not a zip archive'
    monkeypatch.setitem(corpus.CORPORA, 'jaychou', JAY._replace(
        sha1=hashlib.sha1(junk).hexdigest()))
    path = put(sandbox.dirs['explicit'], content=junk)
    with pytest.raises(CorpusError) as e:
        d2l.load_data_jay_lyrics(data_dir=sandbox.dirs['explicit'])
    assert path in str(e.value)


def test_zip_without_the_member_is_a_corpus_error(sandbox, monkeypatch):
    path = os.path.join(str(sandbox.tmp), JAY.file)
    with zipfile.ZipFile(path, 'w') as zout:
        zout.writestr('something_else.txt', 'abc')
    with open(path, 'rb') as f:
        sha1 = hashlib.sha1(f.read()).hexdigest()
    monkeypatch.setitem(corpus.CORPORA, 'jaychou', JAY._replace(sha1=sha1))
    with pytest.raises(CorpusError):
        d2l.load_data_jay_lyrics(data_dir=str(sandbox.tmp))


def test_unknown_corpus_is_a_clear_error(tmp_path, monkeypatch):
    """Not a built-in name and no such file: the message names both."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CorpusError, match='not a built-in corpus '
                       r'\(jaychou, timemachine\) and no such file'):
        data.load_corpus('shakespeare')


def test_jay_lyrics_as_the_book(jay):
    corpus_indices, char_to_idx, idx_to_char, vocab_size = jay
    text = raw_text(JAY)[:10000]
    assert len(corpus_indices) == 10000
    assert vocab_size == len(set(text)) == 1027  # the book's number
    assert idx_to_char == sorted(set(text))
    assert all(char_to_idx[c] == i for i, c in enumerate(idx_to_char))
    assert ''.join(idx_to_char[i] for i in corpus_indices) == text


def test_whole_corpus():
    corpus_indices, _, idx_to_char, vocab_size = d2l.load_data_jay_lyrics(
        num_chars=None)
    text = raw_text(JAY)
    assert len(text) == 63282  # SPEC.md
    assert ''.join(idx_to_char[i] for i in corpus_indices) == text
    assert vocab_size == len(set(text)) > 1027


def test_time_machine_lower_case():
    corpus_indices, _, idx_to_char, vocab_size = d2l.load_data_time_machine()
    with open(source_file(TM), encoding='utf-8') as f:
        text = f.read().replace('\n', ' ').replace('\r', ' ').lower()
    text = text[:10000]
    assert ''.join(idx_to_char[i] for i in corpus_indices) == text
    assert not any(c.isupper() for c in idx_to_char)
    assert vocab_size == len(set(text))


@pytest.mark.parametrize('num_chars', [0, 1])
def test_too_short_corpus(num_chars):
    with pytest.raises(BadInput, match='at least 2'):
        d2l.load_data_jay_lyrics(num_chars=num_chars)


VOCAB_SCRIPT = r'''
import json, d2l_ch6
_, _, idx_to_char, _ = d2l_ch6.load_data_jay_lyrics()
print(json.dumps([idx_to_char, list(set(idx_to_char))]))
'''


def test_vocabulary_is_the_same_in_every_process(jay):
    procs = [subprocess.Popen(
        [sys.executable, '-c', VOCAB_SCRIPT], stdout=subprocess.PIPE,
        env=dict(os.environ, PYTHONHASHSEED=hash_seed), text=True)
        for hash_seed in ('1', '2')]
    outs = []
    for proc in procs:
        stdout, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        outs.append(json.loads(stdout.splitlines()[-1]))
    (ours1, book1), (ours2, book2) = outs
    assert ours1 == ours2 == jay[2]
    # the book's list(set(...)) does change: the check above could fail
    assert book1 != book2


# --- samplers ---------------------------------------------------------------

def batches(it):
    return [(X.asnumpy(), Y.asnumpy()) for X, Y in it]


def assert_same_batches(ours, book):
    assert len(ours) == len(book) > 0
    for (X, Y), (bX, bY) in zip(ours, book):
        np.testing.assert_array_equal(X, bX)
        np.testing.assert_array_equal(Y, bY)


@pytest.mark.parametrize('sampler', ['data_iter_random',
                                     'data_iter_consecutive'])
@pytest.mark.parametrize('corpus, batch_size, num_steps', [
    ('range30', 2, 6), ('jay', 32, 35), ('jay', 5, 13)])
def test_samplers_equal_the_book(jay, sampler, corpus, batch_size,
                                 num_steps):
    corpus_indices = list(range(30)) if corpus == 'range30' else jay[0]
    ours_fn, book_fn = getattr(d2l, sampler), getattr(d2lzh, sampler)
    runs = []
    for fn in (ours_fn, book_fn):
        random.seed(7)
        # two epochs, the second created before the first is consumed: the
        # random stream must be drawn when the book draws it (lazily)
        first = fn(corpus_indices, batch_size, num_steps)
        second = fn(corpus_indices, batch_size, num_steps)
        runs.append((batches(second), batches(first), random.random()))
    (s, f, r), (bs, bf, br) = runs
    assert_same_batches(s, bs)
    assert_same_batches(f, bf)
    assert r == br  # as many draws from python's random as the book


def test_samplers_put_batches_on_ctx(ctx):
    for fn in (d2l.data_iter_random, d2l.data_iter_consecutive):
        X, Y = next(fn(list(range(30)), 2, 6, ctx))
        assert X.context == Y.context == ctx
        assert X.shape == Y.shape == (2, 6)


def test_consecutive_on_range30_as_spec():
    got = batches(d2l.data_iter_consecutive(list(range(30)), 2, 6))
    assert len(got) == 2
    np.testing.assert_array_equal(
        got[0][0], [list(range(0, 6)), list(range(15, 21))])
    np.testing.assert_array_equal(
        got[1][0], [list(range(6, 12)), list(range(21, 27))])


POSITIONS = [(30, 2, 6), (1000, 4, 7), (1000, 5, 35), (500, 1, 1),
             (101, 3, 10)]


@pytest.mark.parametrize('n, batch_size, num_steps', POSITIONS)
def test_consecutive_invariants(n, batch_size, num_steps):
    corpus = list(range(n))  # a value is its position
    got = batches(d2l.data_iter_consecutive(corpus, batch_size, num_steps))
    batch_len = n // batch_size
    assert len(got) == (batch_len - 1) // num_steps
    for X, Y in got:
        assert X.shape == Y.shape == (batch_size, num_steps)
        np.testing.assert_array_equal(Y[:, :-1], X[:, 1:])  # shifted by one
        np.testing.assert_array_equal(Y[:, -1], X[:, -1] + 1)
    for (X, _), (X_next, _) in zip(got, got[1:]):
        # row r of the next batch continues row r of this one
        np.testing.assert_array_equal(X_next[:, 0], X[:, -1] + 1)
    # X's concatenated with the last Y re-encode the covered corpus
    covered = np.concatenate([X for X, _ in got] + [got[-1][1][:, -1:]],
                             axis=1)
    length = len(got) * num_steps + 1
    expected = np.array([corpus[r * batch_len:r * batch_len + length]
                         for r in range(batch_size)])
    np.testing.assert_array_equal(covered, expected)


@pytest.mark.parametrize('n, batch_size, num_steps', POSITIONS)
def test_random_invariants(n, batch_size, num_steps):
    corpus = list(range(n))
    got = batches(d2l.data_iter_random(corpus, batch_size, num_steps))
    num_examples = (n - 1) // num_steps
    assert len(got) == num_examples // batch_size
    starts = []
    for X, Y in got:
        assert X.shape == Y.shape == (batch_size, num_steps)
        np.testing.assert_array_equal(Y[:, :-1], X[:, 1:])
        for row_x, row_y in zip(X, Y):
            start = int(row_x[0])
            # a row is corpus[start:start+num_steps], shifted by one in Y
            np.testing.assert_array_equal(
                np.append(row_x, row_y[-1]),
                corpus[start:start + num_steps + 1])
            starts.append(start)
    assert all(s % num_steps == 0 for s in starts)
    assert len(set(starts)) == len(starts)  # never repeat in an epoch


def test_random_differs_between_seeds():
    random.seed(1)
    a = batches(d2l.data_iter_random(list(range(1000)), 4, 7))
    random.seed(2)
    b = batches(d2l.data_iter_random(list(range(1000)), 4, 7))
    assert any((x != y).any() for (x, _), (y, _) in zip(a, b))


@pytest.mark.parametrize('fn', [d2l.data_iter_random,
                                d2l.data_iter_consecutive])
@pytest.mark.parametrize('n, batch_size, num_steps', [
    (30, 2, 15), (30, 31, 1), (10, 4, 5), (0, 1, 1), (30, 2, 100)])
def test_no_batch_is_bad_input_at_call_time(fn, n, batch_size, num_steps):
    with pytest.raises(BadInput, match='no batch'):
        fn(list(range(n)), batch_size, num_steps)  # not iterated


@pytest.mark.parametrize('fn', [d2l.data_iter_random,
                                d2l.data_iter_consecutive])
@pytest.mark.parametrize('batch_size, num_steps', [(2, 0), (2, -3), (0, 5),
                                                   (-1, 5)])
def test_nonpositive_sizes_are_bad_input(fn, batch_size, num_steps):
    with pytest.raises(BadInput, match='positive'):
        fn(list(range(30)), batch_size, num_steps)


def test_edge_sizes_that_leave_one_batch():
    # the smallest corpora that still give one batch (from the formulas)
    assert len(batches(d2l.data_iter_random(list(range(13)), 2, 6))) == 1
    assert len(batches(d2l.data_iter_consecutive(list(range(14)), 2, 6))) \
        == 1


def test_num_batches_matches_the_samplers(jay):
    for n, batch_size, num_steps in POSITIONS + [(10000, 32, 35)]:
        corpus = list(range(n))
        for is_random in (True, False):
            fn = d2l.data_iter_random if is_random \
                else d2l.data_iter_consecutive
            assert data.num_batches(n, batch_size, num_steps, is_random) \
                == len(batches(fn(corpus, batch_size, num_steps)))


def test_split_corpus():
    train, valid = data.split_corpus(list(range(100)), 0.1)
    assert train == list(range(90)) and valid == list(range(90, 100))
    assert data.split_corpus(list(range(10)), 0) == (list(range(10)), [])
    for bad in (-0.1, 1, 1.5):
        with pytest.raises(BadInput):
            data.split_corpus(list(range(10)), bad)
