"""6.1 lang_model, interpolated Kneser-Ney: the same probabilities as
NLTK's KneserNeyInterpolated, a distribution over the vocabulary for every
context, the discount chosen on the training text alone, and a lower
held-out perplexity than the best add-k model on the Jay Chou lyrics."""
import math

import pytest

from d2l_ch6 import BadInput
from d2l_ch6 import lang_model as lm

# The training text of the NLTK comparison: '!', '-', ';', 'j', 'q', 'x'
# and 'z' occur once. It starts with 'the', which recurs: without
# padding, NLTK's lower orders count the distinct followers of a context
# on the n-grams (see KneserNeyModel), which differs from the continuation
# counts only for an n-gram seen just at the start of the text.
TRAIN = ('the cat sat on the mat and the dog sat on the log. then the cat '
         'saw the dog, and the dog saw the cat; a bat flew over the mat '
         'and the cat ran after the bat. the old man had a black hat and '
         'a very quick brown fox jumped over the lazy dog. the end of the '
         'day came, and the cat and the dog slept on the mat by the door '
         'while the rain fell on the roof - what a night it was!')
# Read after TRAIN: unseen contexts, and '?', a character TRAIN lacks.
TEST = 'the cat had a hat? then the fox saw a rat sleep by the old log.'


def nltk_model(train, order, discount):
    """NLTK's KneserNeyInterpolated of ``order`` fitted on the characters
    of ``train`` without padding (the everygrams of the one sequence).

    NLTK's lowest order is N1+(. w) / N1+(. .), a distribution over the
    seen characters only. It is replaced, on this instance, by the
    textbook's: discounted like the other orders, with the mass freed
    spread evenly over len(model.vocab) tokens (the characters of
    ``train`` and '<UNK>', NLTK's stand-in for any other), computed from
    NLTK's own continuation counts. Above it every order is NLTK's."""
    from nltk.lm import KneserNeyInterpolated
    from nltk.lm.preprocessing import everygrams

    chars = list(train)
    model = KneserNeyInterpolated(order, discount=discount)
    model.fit([everygrams(chars, max_len=order)], vocabulary_text=chars)
    vocab_size = len(model.vocab)
    cont = {w: model.estimator._continuation_counts(w) for w in model.vocab}
    seen = sum(1 for c, _ in cont.values() if c > 0)
    base = {w: (max(c - discount, 0) + discount * seen / vocab_size) / total
            for w, (c, total) in cont.items()}
    model.estimator.unigram_score = base.__getitem__
    return model


@pytest.mark.parametrize('discount', [0.3, 0.75])
@pytest.mark.parametrize('order', [2, 3, 4])
def test_same_as_nltk(order, discount):
    pytest.importorskip('nltk')
    assert TRAIN[:3] in TRAIN[1:]  # see TRAIN
    assert {c for c in TRAIN if TRAIN.count(c) == 1} >= set('!-;jqxz')
    assert set(TEST) - set(TRAIN) == {'?'}
    # the model of each context length, as KneserNeyModel scores them
    nltk_models = {m: nltk_model(TRAIN, m, discount)
                   for m in range(2, order + 1)}
    vocab_size = len(nltk_models[order].vocab)
    assert vocab_size == len(set(TRAIN)) + 1  # '<UNK>' stands for '?'
    ours = lm.KneserNeyModel(TRAIN, order, discount, vocab_size)
    for text in (TRAIN, TEST):
        for t in range(1, len(text)):
            context = tuple(text[max(t - order + 1, 0):t])
            expected = nltk_models[len(context) + 1].score(text[t], context)
            assert ours.prob(context, text[t]) == pytest.approx(
                expected, rel=1e-9, abs=0), (text[:t], text[t])
    assert ours.prob(tuple('the'[-order + 1:]), '?') > 0


def contexts(tokens, length):
    """The contexts of ``length`` in ``tokens`` (the last one followed by
    nothing) and some never seen: of unseen tokens, and ones whose lower
    orders were seen."""
    seen = {tuple(tokens[i:i + length])
            for i in range(len(tokens) - length + 1)}
    if not length:
        return seen
    unseen = {('<a>',) * length, tuple(tokens[1:length]) + ('<b>',),
              ('<b>',) + tuple(tokens[:length - 1]),
              tuple(tokens[length - 1::-1])}
    return seen | unseen


@pytest.mark.parametrize('discount', [0.1, 0.5, 0.9])
@pytest.mark.parametrize('n', [1, 2, 3, 4])
def test_distribution_over_the_vocabulary(n, discount):
    # starts with an n-gram seen only there; two tokens never seen
    tokens = list('qxthe cat sat on the mat, the mat sat on the cat. ')
    vocab = sorted(set(tokens)) + ['<a>', '<b>']
    model = lm.KneserNeyModel(tokens, n, discount, len(vocab))
    for length in range(n):
        for context in contexts(tokens, length):
            p = [model.prob(context, w) for w in vocab]
            assert min(p) > 0, context
            assert math.fsum(p) == pytest.approx(1, abs=1e-12), context


def test_short_context_is_the_model_of_its_length():
    tokens = 'abracadabra, a cadabra bar'
    model = lm.KneserNeyModel(tokens, 4, 0.6, 12)
    for m in range(3):
        short = lm.KneserNeyModel(tokens, m + 1, 0.6, 12)
        for w in set(tokens) | {'z'}:
            assert model.prob('ra'[2 - m:], w) == short.prob('ra'[2 - m:], w)
    assert model.prob('xyzra', 'c') == model.prob('zra', 'c')


def test_by_hand():
    """'abcab', V = 4, D = 1/2. Continuation counts: a, b, c each follow
    one distinct character among the 3 distinct bigrams, so the lowest
    order is P1(w) = (max(N1+(. w) - D, 0) + D * 3 / 4) / 3."""
    model = lm.KneserNeyModel('abcab', 2, 0.5, 4)
    p1_b = (1 - 0.5 + 0.5 * 3 / 4) / 3
    p1_d = (0 + 0.5 * 3 / 4) / 3  # d is never seen
    # c(a .) = 2, one distinct follower
    assert model.prob('a', 'b') == pytest.approx((2 - 0.5 + 0.5 * p1_b) / 2)
    assert model.prob('c', 'd') == pytest.approx(0.5 * p1_d)
    assert model.prob('b', 'b') == pytest.approx(0.5 * p1_b)
    # 'd' was never followed: its context is left to the lower order
    assert model.prob('d', 'b') == pytest.approx(p1_b)
    # an empty context: the unigram model, raw counts (a, b twice, c once)
    assert model.prob('', 'c') == pytest.approx((1 - 0.5 + 0.5 * 3 / 4) / 5)
    assert lm.kneser_ney_heldout('abcab', 'cd', 2, 4, 0.5) \
        == pytest.approx(1 / (0.5 * p1_d))


def test_bad_arguments():
    for discount in (0, 1, -0.5, 1.5):
        with pytest.raises(BadInput, match='discount'):
            lm.KneserNeyModel('abc', 2, discount, 3)
    with pytest.raises(BadInput, match='vocab_size'):
        lm.KneserNeyModel('abc', 2, 0.5, 2)
    with pytest.raises(BadInput):
        lm.KneserNeyModel('abc', 0, 0.5, 3)
    with pytest.raises(BadInput, match='discount'):
        lm.kneser_ney_discount('abcabcabcabcabcabcabc', 2, 3, (0.5, 1.0))
    with pytest.raises(BadInput, match='held-out text needs at least 2'):
        lm.kneser_ney_discount('abcab', 2, 3)


@pytest.fixture(scope='module')
def jay_split(jay):
    """The first 9,000 characters (as indices) to train on, the next 1,000
    held out, and the vocabulary size (the 10,000 hold every character)."""
    corpus_indices, _, _, vocab_size = jay
    assert len(corpus_indices) == 10000
    assert len(set(corpus_indices)) == vocab_size
    return corpus_indices[:9000], corpus_indices[9000:10000], vocab_size


def test_discount_chosen_on_the_training_text(jay_split, monkeypatch):
    train, heldout, vocab_size = jay_split
    n = 3
    # the validation perplexities, computed here: fit on the first 90%,
    # score the last 10% but its first token, context from the fit part
    cut = 8100
    fit = train[:cut]

    def valid_ppl(d):
        model = lm.KneserNeyModel(fit, n, d, vocab_size)
        nll = [-math.log(model.prob(train[t - n + 1:t], train[t]))
               for t in range(cut + 1, len(train))]
        return math.exp(math.fsum(nll) / len(nll))

    ppl = {d: valid_ppl(d) for d in lm.KN_DISCOUNTS}
    best = min(ppl, key=ppl.get)
    assert max(ppl.values()) > ppl[best] * 1.01  # the choice matters

    # what the chooser counts and scores: the parts of train only
    fitted, scored = [], []

    class Recording(lm.KneserNeyModel):
        def __init__(self, tokens, *args):
            fitted.append(list(tokens))
            super().__init__(tokens, *args)

        def perplexity(self, tokens, start=1):
            scored.append((list(tokens), start))
            return super().perplexity(tokens, start)

    monkeypatch.setattr(lm, 'KneserNeyModel', Recording)
    assert lm.kneser_ney_discount(train, n, vocab_size) == best
    assert fitted == [list(fit)]
    assert scored == [(list(train), cut + 1)] * len(lm.KN_DISCOUNTS)
    # the order of the candidates does not matter
    assert lm.kneser_ney_discount(train, n, vocab_size,
                                  candidates=(best, 0.95, 0.05)) == best


def test_beats_add_k_on_jay(jay_split):
    train, heldout, vocab_size = jay_split
    # held-out characters the model never saw: the uniform floor scores them
    assert set(heldout) - set(train)
    d = lm.kneser_ney_discount(train, 3, vocab_size)
    kn = lm.kneser_ney_heldout(train, heldout, 3, vocab_size, d)
    # add-k's k picked on the held-out text itself: optimistic
    add_k = min(lm.heldout_perplexity(train, heldout, 3, k, vocab_size)
                for k in lm.SMOOTHING_KS)
    assert math.isfinite(kn)
    assert 1 < kn < add_k
