"""6.3 lang_model_dataset: the printed demo checked against the corpus
file and d2lzh's samplers; the gluon.data loaders equal the samplers."""
import io
import random
import zipfile

import d2lzh
import numpy as np
import pytest

from d2l_ch6 import lang_model_dataset as lmd
from d2l_ch6.core.corpus import find_corpus


def book_lines(sampler, seed):
    """What the book's loop prints for d2lzh's ``sampler`` on range(30)."""
    random.seed(seed)
    buf = io.StringIO()
    for X, Y in sampler(list(range(30)), batch_size=2, num_steps=6):
        print('X: ', X, '\nY:', Y, '\n', file=buf)
    return buf.getvalue()


@pytest.fixture(scope='module')
def lyrics():
    with zipfile.ZipFile(find_corpus('jaychou')) as z:
        text = z.read('jaychou_lyrics.txt').decode('utf-8')
    return text.replace('\n', ' ').replace('\r', ' ')[:10000]


@pytest.mark.parametrize('seed', [0, 3])
def test_demo(capsys, lyrics, seed):
    result = lmd.main(['--ctx', 'cpu', '--seed', str(seed)])
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == 'corpus_chars[:40]: ' + lyrics[:40]
    assert lines[1] == 'vocab_size: %d' % len(set(lyrics)) == \
        'vocab_size: 1027'
    assert lines[2] == 'chars: ' + lyrics[:20]
    indices = [int(i) for i in lines[3][len('indices: ['):-1].split(',')]
    assert len(indices) == 20
    # each index names its character in the sorted vocabulary
    vocab = sorted(set(lyrics))
    assert ''.join(vocab[i] for i in indices) == lyrics[:20]
    assert result.indices == indices and result.chars == lyrics[:20]
    # the sampler lines are d2lzh's for the same seed
    random_part = out.split('data_iter_random (random.seed(%d)):\n'
                            % seed)[1].split('data_iter_consecutive:')[0]
    assert random_part == book_lines(d2lzh.data_iter_random, seed)
    consecutive_part = out.split('data_iter_consecutive:\n')[1].split(
        'gluon.data')[0]
    assert consecutive_part == book_lines(d2lzh.data_iter_consecutive,
                                          seed)
    assert all(v for same in result.loaders_equal.values()
               for v in same.values())


def test_demo_batches_are_windows_of_range30(capsys):
    result = lmd.main(['--ctx', 'cpu'])
    capsys.readouterr()
    for X, Y in result.random + result.consecutive:
        assert X.shape == Y.shape == (2, 6)
        np.testing.assert_array_equal(Y, X + 1)  # range: shift = +1
        assert all(row[1:].tolist() == (row[:-1] + 1).tolist() for row in X)
    starts = sorted(int(x) for X, _ in result.random for x in X[:, 0])
    assert starts == [0, 6, 12, 18]  # 4 examples: (30 - 1) // 6
    np.testing.assert_array_equal(result.consecutive[0][0],
                                  [list(range(6)), list(range(15, 21))])


@pytest.mark.parametrize('batch_size, num_steps', [(2, 6), (32, 35),
                                                    (3, 7)])
def test_loaders_are_d2lzh_samplers(jay, batch_size, num_steps):
    corpus_indices = jay[0]
    random.seed(11)
    expected = list(d2lzh.data_iter_random(corpus_indices, batch_size,
                                           num_steps))
    random.seed(11)
    assert lmd.batches_equal(expected, lmd.random_loader(
        corpus_indices, batch_size, num_steps))
    assert lmd.batches_equal(
        d2lzh.data_iter_consecutive(corpus_indices, batch_size, num_steps),
        lmd.consecutive_loader(corpus_indices, batch_size, num_steps))


def test_another_seed_gives_other_batches(jay):
    """The comparison can fail: seeds 11 and 12 shuffle differently."""
    random.seed(11)
    a = list(lmd.random_loader(jay[0], 32, 35))
    random.seed(12)
    assert not lmd.batches_equal(a, lmd.random_loader(jay[0], 32, 35))
    assert not lmd.batches_equal(a, a[:-1])
