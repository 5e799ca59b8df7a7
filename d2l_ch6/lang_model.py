"""6.1 语言模型 — character n-gram language models counted from the corpus.

An n-gram model reads ``P(w_1, ..., w_T)`` as the product of ``P(w_t |
w_{t-n+1}, ..., w_{t-1})``, each factor a relative count ``n(ctx, w) /
n(ctx)``. The tokens here are characters, the tokens the RNNs of 6.4-6.10
read. The section

* counts the n-grams (n = 1..4) twice, with Python's ``Counter`` (from
  scratch) and with NDArray operations on the device, and a third time with
  ``mxnet.contrib.text`` (the concise version), and shows they agree;
* scores add-k smoothed n-gram models on held-out text: the baseline the
  RNNs have to beat; interpolated Kneser-Ney models (:class:`KneserNeyModel`,
  the discount chosen on the training text) are a stronger one;
* shows the book's 你走先 / 你先走: equal under a unigram model, different
  under a bigram model.
"""
import argparse
import collections
import math
from dataclasses import dataclass, field

import numpy as np
from mxnet import nd
from mxnet.contrib import text

from .core import cli, flags
from .core.corpus import read_corpus
from .core.data import split_corpus
from .core.errors import BadInput

# --- counting from scratch ------------------------------------------------


def count_ngrams(tokens, n):
    """Counter of the n-grams (tuples) of ``tokens``, one per position."""
    return collections.Counter(
        tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def context_counts(counts):
    """n(ctx): how often each context (an n-gram minus its last token) is
    followed by a token, from the n-gram ``counts``."""
    ctx = collections.Counter()
    for gram, c in counts.items():
        ctx[gram[:-1]] += c
    return ctx


def cond_probs(counts):
    """P(w | ctx) = n(ctx, w) / n(ctx) for every counted n-gram ctx + (w,).

    n(ctx) counts a context only where a token follows it (the last n-1
    tokens of the text are no context), so the probabilities of each
    context sum to 1. For n = 1 the context is () and P(w) = n(w) / T.
    """
    ctx = context_counts(counts)
    return {gram: c / ctx[gram[:-1]] for gram, c in counts.items()}


# --- counting with NDArrays on the device ---------------------------------


def ngram_keys(corpus_indices, n, vocab_size, ctx):
    """Each n-gram's id ``sum_j w_j V^(n-1-j)`` (base-V digits, float64:
    exact below 2^53), shape (T-n+1,)."""
    m = len(corpus_indices) - n + 1
    if m < 1:
        raise BadInput('a text of %d tokens has no %d-gram'
                       % (len(corpus_indices), n))
    if float(vocab_size) ** n >= 2 ** 53:
        raise BadInput('%d-gram ids of a %d-token vocabulary do not fit in '
                       'float64; use a smaller n' % (n, vocab_size))
    X = nd.array(corpus_indices, ctx=ctx, dtype='float64')
    keys = nd.zeros((m,), ctx=ctx, dtype='float64')
    for j in range(n):
        keys = keys * vocab_size + X[j:j + m]
    return keys


def _run_starts(x):
    """1 where a run of equal values of the sorted 1-d ``x`` starts."""
    first = nd.ones((1,), ctx=x.context, dtype=x.dtype)
    if x.size == 1:
        return first
    return nd.concat(first, x[1:] != x[:-1], dim=0)


def count_ngrams_nd(corpus_indices, n, vocab_size, ctx):
    """Count the n-grams with NDArray operations on ``ctx``: sort the
    n-gram ids, mark where each run of equal ids starts, and take the run
    lengths. Returns (keys, counts): the distinct ids, ascending, and their
    counts, both float64 of shape (k,)."""
    keys = nd.sort(ngram_keys(corpus_indices, n, vocab_size, ctx))
    start = _run_starts(keys)
    m = keys.size
    pos = nd.contrib.boolean_mask(
        nd.arange(m, ctx=ctx, dtype='float64'), start)  # run starts
    end = nd.concat(pos[1:], nd.array([m], ctx=ctx, dtype='float64'),
                    dim=0)
    return nd.contrib.boolean_mask(keys, start), end - pos


def cond_probs_nd(keys, counts, vocab_size):
    """P(w | ctx) for the sorted distinct ids of :func:`count_ngrams_nd`.

    The context of id ``key`` is ``key // V``; ids sharing a context are
    adjacent, so n(ctx) is a sum over each run of equal contexts: a
    difference of the running sum of counts at the run's ends.
    """
    contexts = (keys - keys % vocab_size) / vocab_size  # exact
    start = _run_starts(contexts)
    end = nd.concat(start[1:], nd.ones((1,), ctx=keys.context,
                                       dtype=keys.dtype), dim=0) \
        if keys.size > 1 else start
    csum = nd.cumsum(counts)
    before = nd.contrib.boolean_mask(csum - counts, start)
    totals = nd.contrib.boolean_mask(csum, end) - before  # n(ctx), (k_ctx,)
    run = nd.cumsum(start) - 1  # the context run of each id
    return counts / nd.take(totals, run)


def decode_keys(keys, n, vocab_size):
    """The n-grams (tuples of indices) of float64 ids."""
    keys = keys.asnumpy().astype(np.int64)
    digits = [(keys // vocab_size ** (n - 1 - j)) % vocab_size
              for j in range(n)]
    return [tuple(int(d) for d in gram) for gram in zip(*digits)]


def bigram_matrix(corpus_indices, vocab_size, ctx, chunk=4096):
    """C[i, j] = n(i, j): the bigram counts as a (V, V) matrix, the sum of
    ``one_hot(w_t)^T one_hot(w_{t+1})`` over positions (in chunks, so the
    one-hot arrays stay small). Row i divided by its sum is P(. | i)."""
    X = nd.array(corpus_indices, ctx=ctx)
    C = nd.zeros((vocab_size, vocab_size), ctx=ctx)
    for i in range(0, len(corpus_indices) - 1, chunk):
        j = min(i + chunk, len(corpus_indices) - 1)
        C += nd.dot(nd.one_hot(X[i:j], vocab_size),
                    nd.one_hot(X[i + 1:j + 1], vocab_size), transpose_a=True)
    return C


# --- the concise version: mxnet.contrib.text ------------------------------

_SEP = '\x1f'  # joins the n-gram strings for count_tokens_from_str


def count_ngrams_contrib(chars, n):
    """Count character n-grams with ``mxnet.contrib.text``: each n-gram
    is one token of a delimited string. Returns a Counter of tuples."""
    if _SEP in chars:
        raise BadInput('the text holds the separator %r' % _SEP)
    grams = _SEP.join(chars[i:i + n] for i in range(len(chars) - n + 1))
    counter = text.utils.count_tokens_from_str(grams, token_delim=_SEP)
    return collections.Counter({tuple(g): c for g, c in counter.items()})


def vocabulary(chars):
    """``mxnet.contrib.text`` Vocabulary of the characters: '<unk>' first,
    then by falling frequency (ties by character)."""
    return text.vocab.Vocabulary(text.utils.count_tokens_from_str(
        _SEP.join(chars), token_delim=_SEP))


# --- add-k smoothing and perplexity ---------------------------------------


class _Scorer:
    """What a model with ``n`` and ``prob(context, w)`` gives: the
    probability of a sequence and the perplexity of a text."""

    def seq_prob(self, tokens):
        """P(w_1, ..., w_T): the product of the factors."""
        return math.prod(self.prob(tokens[:t], tokens[t])
                         for t in range(len(tokens)))

    def perplexity(self, tokens, start=1):
        """exp(-mean log P(w_t | before)) over tokens[start:], each read
        with the n-1 tokens before it."""
        if len(tokens) <= start:
            raise BadInput('no token to score')
        nll = -sum(math.log(self.prob(
            tokens[max(t - self.n + 1, 0):t], tokens[t]))
            for t in range(start, len(tokens)))
        return math.exp(nll / (len(tokens) - start))


class NGramModel(_Scorer):
    """An add-k smoothed n-gram model counted from ``tokens``:
    ``P_k(w | ctx) = (n(ctx, w) + k) / (n(ctx) + k V)``, V the vocabulary
    size. A context shorter than n-1 (the start of a text) is scored by
    the lower order model of its length."""

    def __init__(self, tokens, n, k, vocab_size):
        if n < 1 or not k > 0:
            raise BadInput('need n >= 1 and k > 0, got n=%r, k=%r' % (n, k))
        self.n, self.k, self.vocab_size = n, k, vocab_size
        self.counts = [count_ngrams(tokens, m) for m in range(1, n + 1)]
        self.contexts = [context_counts(c) for c in self.counts]

    def prob(self, context, w):
        """P_k(w | the last n-1 tokens of ``context``)."""
        m = min(len(context), self.n - 1)
        ctx = tuple(context[len(context) - m:])
        return ((self.counts[m][ctx + (w,)] + self.k)
                / (self.contexts[m][ctx] + self.k * self.vocab_size))


def _score_heldout(model, train, heldout):
    """``model``'s perplexity on heldout[1:], read with context continuing
    from the end of ``train``."""
    if not heldout:
        raise BadInput('the held-out text is empty')
    return model.perplexity(list(train) + list(heldout), len(train) + 1)


def heldout_perplexity(train, heldout, n, k, vocab_size):
    """Perplexity on ``heldout[1:]`` (the tokens 6.4's
    evaluate_perplexity scores) of the add-k n-gram model counted on
    ``train``; ``heldout`` continues ``train``, so the first tokens read
    their context from the end of ``train``."""
    return _score_heldout(NGramModel(train, n, k, vocab_size), train,
                          heldout)


# --- interpolated Kneser-Ney ----------------------------------------------


def _level(counts):
    """One order of a Kneser-Ney model: (counts, {ctx: (the sum of the
    counts after ctx, the number of distinct tokens after ctx)})."""
    stats = {}
    for gram, c in counts.items():
        total, distinct = stats.get(gram[:-1], (0, 0))
        stats[gram[:-1]] = (total + c, distinct + 1)
    return counts, stats


def _check_discount(discount):
    if not 0 < discount < 1:
        raise BadInput('the discount must be in (0, 1), got %r' % discount)
    return discount


class KneserNeyModel(_Scorer):
    """Interpolated Kneser-Ney (Chen & Goodman 1998) counted from
    ``tokens``, one discount D for all orders:

        P(w | ctx) = (max(c(ctx w) - D, 0) + D N1+(ctx .) P(w | ctx')) / c(ctx)

    ctx' is ctx but its first token, c(ctx) = sum_w c(ctx w), N1+(ctx .)
    the number of w with c(ctx w) > 0: D N1+(ctx .) / c(ctx) is the mass the
    discount freed. c counts the n-grams at the highest order and, at the
    lower ones, the continuations N1+(. g), the distinct tokens seen before
    g (a token that follows one context only is a poor guess after an
    unseen one); below the unigrams is 1 / V, so every token of the
    vocabulary, seen or not, has P > 0. A context never seen followed is
    left to the lower order; one shorter than n-1 is scored by the model of
    its length (its highest order counting n-grams), as in NGramModel.

    NLTK's KneserNeyInterpolated fitted on the everygrams of the text (no
    padding) differs in three details and agrees elsewhere
    (tests/test_kneser_ney.py): its unigrams N1+(. w) / N1+(. .) are not
    discounted nor interpolated with 1 / V (an unseen token has P = 0);
    its lower orders free D times the followers of ctx in the n-gram
    counts, so its P sums to more than 1 (or divides by 0) where an n-gram
    is seen only at the start of the text; it reads a short context with
    the lower orders. ``discount`` may be changed after counting.
    """

    def __init__(self, tokens, n, discount, vocab_size):
        if n < 1:
            raise BadInput('need n >= 1, got n=%r' % n)
        self.n, self.discount = n, _check_discount(discount)
        self.counts = [count_ngrams(tokens, m) for m in range(1, n + 1)]
        if vocab_size < max(len(self.counts[0]), 1):
            raise BadInput('vocab_size %r does not cover the %d distinct '
                           'tokens' % (vocab_size, len(self.counts[0])))
        self.vocab_size = vocab_size
        # continuations[m - 1]: N1+(. g) of the m-grams g, m = 1..n-1
        self.continuations = [collections.Counter(g[1:] for g in c)
                              for c in self.counts[1:]]
        self._raw = [_level(c) for c in self.counts]  # by context length
        self._cont = [_level(c) for c in self.continuations]

    def prob(self, context, w):
        """P(w | the last n-1 tokens of ``context``), from the uniform
        distribution up through the orders."""
        m = min(len(context), self.n - 1)
        ctx = tuple(context[len(context) - m:])
        d, p = self.discount, 1 / self.vocab_size
        for j in range(m + 1):  # the context length of the order
            counts, stats = self._raw[j] if j == m else self._cont[j]
            c = ctx[m - j:]
            if c in stats:  # else this order leaves p unchanged
                total, distinct = stats[c]
                p = (max(counts.get(c + (w,), 0) - d, 0)
                     + d * distinct * p) / total
        return p


def kneser_ney_heldout(train, heldout, n, vocab_size, discount):
    """Perplexity on ``heldout[1:]`` of the Kneser-Ney n-gram model
    counted on ``train``, read like :func:`heldout_perplexity`."""
    return _score_heldout(KneserNeyModel(train, n, discount, vocab_size),
                          train, heldout)


KN_DISCOUNTS = tuple(i / 20 for i in range(1, 20))  # 0.05, 0.1, ..., 0.95


def kneser_ney_discount(train, n, vocab_size, candidates=KN_DISCOUNTS,
                        valid_frac=0.1):
    """The candidate discount with the lowest perplexity on the last
    ``valid_frac`` of ``train`` (read like :func:`heldout_perplexity`) of
    the model counted on the rest: chosen on the training text only, the
    held-out perplexity stays honest (add-k's k is picked on it)."""
    fit, valid = split_corpus(train, valid_frac)
    if len(valid) < 2 or not candidates:
        raise BadInput('no candidate discount or no validation token in '
                       'the %d training tokens' % len(train))
    model = KneserNeyModel(fit, n, candidates[0], vocab_size)
    ppl = {}
    for d in candidates:  # the counts do not depend on the discount
        model.discount = _check_discount(d)
        ppl[d] = _score_heldout(model, fit, valid)
    return min(candidates, key=ppl.get)


# --- the section ----------------------------------------------------------


@dataclass
class LangModelResult:
    """What 6.1 found: counts (n -> Counter of character tuples) and
    conditional probabilities, the agreement of the other countings,
    held-out perplexities (n -> {k: ppl}) and the best k of
    each order, and the 你走先 example (phrase -> {order: P})."""
    counts: dict = field(default_factory=dict)
    probs: dict = field(default_factory=dict)
    counts_nd: dict = field(default_factory=dict)
    prob_diff: dict = field(default_factory=dict)
    bigram_matrix_equal: bool = False
    contrib_equal: dict = field(default_factory=dict)
    vocabulary_size: int = 0
    perplexity: dict = field(default_factory=dict)
    best: dict = field(default_factory=dict)
    example: dict = field(default_factory=dict)


def _show(gram):
    return repr(''.join(gram))


def _counting(result, chars, corpus_indices, idx_to_char, vocab_size,
              max_n, ctx):
    """Python vs NDArray vs mxnet.contrib.text counts, n = 1..max_n."""
    print('n-gram counts: Counter vs NDArray (sort + run lengths on %s) '
          'vs mxnet.contrib.text' % ctx)
    print('  n  positions  distinct  Counter==NDArray  max|P diff|  '
          'contrib  most frequent')
    for n in range(1, max_n + 1):
        counts = count_ngrams(chars, n)
        probs = cond_probs(counts)
        keys, c_nd = count_ngrams_nd(corpus_indices, n, vocab_size, ctx)
        p_nd = cond_probs_nd(keys, c_nd, vocab_size).asnumpy()
        grams = [tuple(idx_to_char[i] for i in g)
                 for g in decode_keys(keys, n, vocab_size)]
        counts_nd = dict(zip(grams, c_nd.asnumpy().astype(int).tolist()))
        diff = max(abs(probs.get(g, 0) - p) for g, p in zip(grams, p_nd))
        contrib = count_ngrams_contrib(chars, n) == counts
        result.counts[n], result.probs[n] = counts, probs
        result.counts_nd[n], result.prob_diff[n] = counts_nd, diff
        result.contrib_equal[n] = contrib
        top = ', '.join('%s %d' % (_show(g), c)
                        for g, c in counts.most_common(3))
        print('  %d  %9d  %8d  %-15s  %11.1e  %-7s  %s' % (
            n, len(chars) - n + 1, len(counts),
            'yes' if counts_nd == dict(counts) else 'NO', diff,
            'yes' if contrib else 'NO', top))
    C = bigram_matrix(corpus_indices, vocab_size, ctx).asnumpy()
    dense = np.zeros_like(C)
    for (a, b), c in count_ngrams(corpus_indices, 2).items():
        dense[a, b] = c
    result.bigram_matrix_equal = bool((C == dense).all())
    print('bigram matrix one_hot(w_t)^T one_hot(w_t+1): %d x %d, %d '
          'nonzero, equals the counts: %s' % (
              C.shape + (int((C > 0).sum()),
                         'yes' if result.bigram_matrix_equal else 'NO')))
    vocab = vocabulary(chars)
    result.vocabulary_size = len(vocab)
    print("mxnet.contrib.text Vocabulary: %d tokens = %d characters + "
          "'<unk>'; most frequent: %s" % (
              len(vocab), len(vocab) - 1, ' '.join(
                  repr(t) for t in vocab.idx_to_token[1:6])))
    for n in range(2, max_n + 1):
        ctxs = context_counts(result.counts[n])
        ctx_top, total = ctxs.most_common(1)[0]
        follow = sorted(((p, g[-1]) for g, p in result.probs[n].items()
                         if g[:-1] == ctx_top), reverse=True)
        print('  P(. | %s) (n(ctx) = %d): %s; sum %.6f' % (
            _show(ctx_top), total, ', '.join(
                '%r %.3f' % (w, p) for p, w in follow[:4]),
            sum(p for p, _ in follow)))


def _perplexity(result, train, heldout, vocab_size, max_n, ks):
    print('held-out perplexity of add-k n-gram models: trained on %d '
          'characters, scored on the next %d, vocabulary %d' % (
              len(train), len(heldout) - 1, vocab_size))
    print('  n ' + ''.join('%9s' % ('k=%g' % k) for k in ks) + '   best')
    for n in range(1, max_n + 1):
        result.perplexity[n] = {k: heldout_perplexity(
            train, heldout, n, k, vocab_size) for k in ks}
        k_best = min(ks, key=result.perplexity[n].get)
        result.best[n] = (k_best, result.perplexity[n][k_best])
        print('  %d ' % n + ''.join('%9.1f' % result.perplexity[n][k]
                                    for k in ks)
              + '   %.1f (k=%g)' % (result.perplexity[n][k_best], k_best))
    print('  (k is picked on the held-out text itself: an optimistic '
          'baseline for the RNNs)')


def _example(result, args, phrases, k):
    """The book's 你走先 / 你先走 with models of the whole corpus."""
    whole = read_corpus(args.corpus, args.data_dir)
    vocab = set(whole)
    missing = sorted({c for p in phrases for c in p} - vocab)
    if missing:
        print('phrases %s skipped: %s not in the %s corpus' % (
            ' / '.join(phrases), ''.join(missing), args.corpus))
        return
    models = {n: NGramModel(whole, n, k, len(vocab)) for n in (1, 2)}
    print('%s under add-k (k=%g) models of the whole %s corpus (%d '
          'characters, vocabulary %d):' % (' / '.join(phrases), k,
                                            args.corpus, len(whole),
                                            len(vocab)))
    for phrase in phrases:
        result.example[phrase] = {n: m.seq_prob(phrase)
                                  for n, m in models.items()}
        print('  P(%s): unigram %.6e, bigram %.6e' % (
            phrase, result.example[phrase][1], result.example[phrase][2]))
    for n, name in ((1, 'unigram'), (2, 'bigram')):
        p = [result.example[phrase][n] for phrase in phrases]
        # the unigram factors are the same, multiplied in another order
        same = all(math.isclose(q, p[0], rel_tol=1e-12) for q in p)
        print('  %s: %s' % (name, 'equal' if same else
                            'different (largest / smallest %.1f)'
                            % (max(p) / min(p))))


def _k_list(text_):
    k = float(text_)
    if not k > 0:
        raise argparse.ArgumentTypeError('k must be > 0')
    return k


# the add-k constants scored by default (here and in heldout)
SMOOTHING_KS = (10, 1, 0.1, 0.01, 1e-3, 1e-4)


def main(argv=None):
    p = cli.parser('lang_model', __doc__, train=False, command='6.1')
    p.add_argument('--max-n', type=int, choices=range(1, 6), default=4,
                   metavar='N', help='highest n-gram order (1..5)')
    p.add_argument('--k', nargs='+', type=_k_list,
                   default=list(SMOOTHING_KS),
                   help='add-k smoothing constants to score')
    flags.add(p, '--valid-frac', '6.1')
    p.add_argument('--phrases', nargs='+', default=['你走先', '你先走'])
    args = p.parse_args(argv)
    if not args.valid_frac:
        raise BadInput('--valid-frac must be in (0, 1), got %r'
                       % args.valid_frac)
    ctx = cli.setup(args)
    corpus_indices, char_to_idx, idx_to_char, vocab_size = cli.load(args)
    chars = ''.join(idx_to_char[i] for i in corpus_indices)
    print('%s — %s: %d characters, vocabulary %d' % (
        __doc__.strip().splitlines()[0].split(' — ')[0], args.corpus,
        len(chars), vocab_size))
    result = LangModelResult()
    _counting(result, chars, corpus_indices, idx_to_char, vocab_size,
              args.max_n, ctx)
    train, heldout = split_corpus(chars, args.valid_frac)
    _perplexity(result, train, heldout, vocab_size, args.max_n, args.k)
    _example(result, args, args.phrases,
             result.best[min(2, args.max_n)][0])
    return result


if __name__ == '__main__':
    cli.run(main)
