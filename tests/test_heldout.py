"""The held-out comparison: every model scored on the same held-out tail
of the corpus, beside 6.1's add-k and the Kneser-Ney n-gram baselines."""
import pytest

from d2l_ch6.tools import heldout
from d2l_ch6 import lang_model
from d2l_ch6.core.data import split_corpus
from d2l_ch6.core.trainer import BOOK, BOOK_GATED


def test_ngram_rows_are_the_baselines(jay):
    corpus_indices, _, _, vocab_size = jay
    train, valid = split_corpus(corpus_indices[:4000], 0.1)
    rows = heldout.ngram_rows(train, valid, vocab_size, ks=(1, 0.01),
                              max_add_k=2, max_kn=2)
    assert [r['recipe'] for r in rows] == ['add-k'] * 2 + ['kneser-ney'] * 2
    for n, r in zip((1, 2), rows[:2]):
        best = min(lang_model.heldout_perplexity(train, valid, n, k,
                                                 vocab_size)
                   for k in (1, 0.01))
        assert r['heldout_perplexity'] == pytest.approx(best)
    for n, r in zip((1, 2), rows[2:]):  # the discount from train alone
        d = lang_model.kneser_ney_discount(train, n, vocab_size)
        assert r['discount'] == d and r['heldout_perplexity'] == \
            pytest.approx(lang_model.kneser_ney_heldout(train, valid, n,
                                                        vocab_size, d))
        assert r['train_perplexity'] < r['heldout_perplexity']


@pytest.mark.parametrize('hp', [BOOK, BOOK_GATED])
def test_the_book_schedule_keeps_the_books_number_of_updates(hp):
    # on 10,000 characters (9,000 trained on): the book's epochs
    assert heldout.book_schedule(hp, 9000, 0.1).num_epochs == hp.num_epochs
    # 20 times more text: 160 batches an epoch, not 8 (281 - 1 // 35 columns)
    longer = heldout.book_schedule(hp, 180000, 0.1)
    assert longer.num_epochs == round(hp.num_epochs * 8 / 160)
    assert longer.pred_period == longer.num_epochs


def test_bad_network_names_are_refused(capsys):
    with pytest.raises(SystemExit):
        heldout.main(['--models', 'lstm-torch'])
    assert 'choose from rnn-scratch' in capsys.readouterr().err
