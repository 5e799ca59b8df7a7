"""6.1 lang_model: the countings agree with each other and with numpy,
probabilities sum to 1 per context, the storage table is an independent
count, add-k perplexity is the hand computation, 你走先 / 你先走."""
import collections
import math
import re
import zipfile

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import d2l_ch6 as d2l
from d2l_ch6 import lang_model as lm
from d2l_ch6.core.corpus import find_corpus


def numpy_counts(corpus_indices, n):
    """n-gram counts by numpy: unique rows of the sliding windows."""
    windows = sliding_window_view(np.asarray(corpus_indices), n)
    grams, counts = np.unique(windows, axis=0, return_counts=True)
    return {tuple(int(i) for i in g): int(c) for g, c in zip(grams, counts)}


def raw_text(name):
    """The corpus read here, not through d2l_ch6."""
    path = find_corpus(name)
    if path.endswith('.zip'):
        with zipfile.ZipFile(path) as z:
            text = z.read('jaychou_lyrics.txt').decode('utf-8')
    else:
        with open(path, encoding='utf-8') as f:
            text = f.read().lower()
    return text.replace('\n', ' ').replace('\r', ' ')


def occurrences(text, s):
    """Overlapping occurrences of ``s`` in ``text``."""
    return len(re.findall('(?=%s)' % re.escape(s), text))


@pytest.fixture(scope='module')
def result():
    return lm.main(['--ctx', 'cpu', '--k', '1', '0.01'])


@pytest.mark.parametrize('n', [1, 2, 3, 4])
def test_counting_methods_agree(jay, ctx, n):
    corpus_indices, _, idx_to_char, vocab_size = jay
    chars = ''.join(idx_to_char[i] for i in corpus_indices)
    expected = numpy_counts(corpus_indices, n)
    # from scratch (on characters)
    counts = lm.count_ngrams(chars, n)
    assert {tuple(''.join(g)): c for g, c in counts.items()} == {
        tuple(idx_to_char[i] for i in g): c for g, c in expected.items()}
    assert sum(counts.values()) == len(chars) - n + 1
    # NDArray on the device (on indices)
    keys, c_nd = lm.count_ngrams_nd(corpus_indices, n, vocab_size, ctx)
    got = dict(zip(lm.decode_keys(keys, n, vocab_size),
                   c_nd.asnumpy().astype(int).tolist()))
    assert got == expected
    # mxnet.contrib.text
    assert lm.count_ngrams_contrib(chars, n) == counts


@pytest.mark.parametrize('n', [1, 2, 3, 4])
def test_probabilities_sum_to_one_per_context(jay, ctx, n):
    corpus_indices, _, idx_to_char, vocab_size = jay
    chars = ''.join(idx_to_char[i] for i in corpus_indices)
    counts = lm.count_ngrams(chars, n)
    probs = lm.cond_probs(counts)
    sums = collections.defaultdict(float)
    for gram, p in probs.items():
        sums[gram[:-1]] += p
    assert max(abs(s - 1) for s in sums.values()) < 1e-9
    # the NDArray probabilities: same values, same sums
    keys, c_nd = lm.count_ngrams_nd(corpus_indices, n, vocab_size, ctx)
    p_nd = lm.cond_probs_nd(keys, c_nd, vocab_size).asnumpy()
    grams = lm.decode_keys(keys, n, vocab_size)
    sums_nd = collections.defaultdict(float)
    for g, p in zip(grams, p_nd):
        sums_nd[g[:-1]] += p
        assert p == pytest.approx(
            probs[tuple(idx_to_char[i] for i in g)], rel=1e-12)
    assert max(abs(s - 1) for s in sums_nd.values()) < 1e-9
    # a spot check from overlapping string counts: n(ctx, w) / n(ctx),
    # n(ctx) not counting a context at the very end of the text
    gram = max((g for g in probs if probs[g] < 1), key=counts.get)
    ctx_ = ''.join(gram[:-1])
    n_ctx = occurrences(chars, ctx_) - chars.endswith(ctx_) if ctx_ \
        else len(chars)
    assert probs[gram] == pytest.approx(
        occurrences(chars, ''.join(gram)) / n_ctx, rel=1e-12)


def test_bigram_matrix_is_the_bigram_counts(jay, ctx):
    corpus_indices, _, _, vocab_size = jay
    expected = np.zeros((vocab_size, vocab_size))
    np.add.at(expected, (corpus_indices[:-1], corpus_indices[1:]), 1)
    C = lm.bigram_matrix(corpus_indices, vocab_size, ctx, chunk=1000)
    np.testing.assert_array_equal(C.asnumpy(), expected)


def test_ngram_ids_must_fit_float64(ctx):
    with pytest.raises(d2l.BadInput, match='float64'):
        lm.ngram_keys([0, 1, 2, 3, 4], 5, 2 ** 11, ctx)


def test_contrib_vocabulary(jay):
    corpus_indices, _, idx_to_char, vocab_size = jay
    chars = ''.join(idx_to_char[i] for i in corpus_indices)
    vocab = lm.vocabulary(chars)
    assert len(vocab) == vocab_size + 1 == 1028
    assert vocab.idx_to_token[0] == '<unk>'
    freq = collections.Counter(chars)
    order = sorted(freq, key=lambda c: (-freq[c], c))
    assert vocab.idx_to_token[1:] == order


def test_main_agrees_and_counts(result):
    assert all(result.counts_nd[n] == dict(result.counts[n])
               for n in range(1, 5))
    assert max(result.prob_diff.values()) < 1e-12
    assert result.bigram_matrix_equal
    assert all(result.contrib_equal.values())
    assert result.vocabulary_size == 1028


@pytest.mark.parametrize('n, heldout, expected', [
    # train 'abcab', V = 4, k = 0.5; heldout continues the train text and
    # its tokens 1.. are scored
    (1, 'cab', (7 / 2.5) ** 1),  # P(a) = P(b) = (2+.5)/(5+4*.5)
    (2, 'cab', 1 / math.sqrt(1.5 / 3 * 2.5 / 4)),  # P(a|c), P(b|a)
    (3, 'cab', 1 / math.sqrt(1.5 / 3 * 1.5 / 3)),  # P(a|bc), P(b|ca)
    (2, 'cd', 1 / (0.5 / 3)),  # unseen: P(d|c) = (0+.5)/(1+4*.5)
    (2, 'cbd', 1 / math.sqrt(0.5 / 3 * 0.5 / (1 + 2))),  # P(d|b), b once
])
def test_add_k_perplexity_by_hand(n, heldout, expected):
    assert lm.heldout_perplexity('abcab', heldout, n, 0.5, 4) \
        == pytest.approx(expected, rel=1e-12)


def test_heldout_perplexities(result, jay):
    vocab_size = jay[3]
    for n in range(1, 5):
        assert set(result.perplexity[n]) == {1, 0.01}
        k, ppl = result.best[n]
        assert ppl == min(result.perplexity[n].values())
        # a smoothed model can be worse than uniform, but not by much here
        assert 1 < ppl < vocab_size
    # k = 1 drowns the rare bigrams: perplexity is higher than with 0.01
    assert result.perplexity[2][1] > result.perplexity[2][0.01]


def test_you_go_first(result):
    """你走先 / 你先走: the same unigram factors; under the bigram model of
    the whole corpus the order matters. Recomputed from string counts."""
    text = raw_text('jaychou')
    V, T, k = len(set(text)), len(text), result.best[2][0]

    def p1(c):
        return (text.count(c) + k) / (T + k * V)

    def p2(prev, c):
        n_prev = text.count(prev) - text.endswith(prev)
        return (text.count(prev + c) + k) / (n_prev + k * V)
    for phrase in ('你走先', '你先走'):
        got = result.example[phrase]
        assert got[1] == pytest.approx(
            p1(phrase[0]) * p1(phrase[1]) * p1(phrase[2]), rel=1e-12)
        assert got[2] == pytest.approx(
            p1(phrase[0]) * p2(phrase[0], phrase[1]) * p2(*phrase[1:]),
            rel=1e-12)
    a, b = result.example['你走先'], result.example['你先走']
    assert a[1] == pytest.approx(b[1], rel=1e-12)
    assert a[2] > 100 * b[2]  # 你走 occurs in the lyrics, 你先 never


def test_main_prints_the_tables(capsys):
    lm.main(['--ctx', 'cpu', '--max-n', '2', '--k', '1'])
    out = capsys.readouterr().out
    assert out.startswith('6.1 语言模型')
    assert re.search(r'^  1 +10000 +1027 +yes', out, re.M)
    assert re.search(r'unigram: equal\n  bigram: different', out)
