"""The held-out comparison: every model scored on the same held-out tail
of the corpus, beside 6.1's n-gram baselines."""
import dataclasses

import pytest

from d2l_ch6 import heldout, lang_model
from d2l_ch6.data import split_corpus


def test_ngram_rows_are_6_1s_models(jay):
    corpus_indices, _, _, vocab_size = jay
    rows = heldout.ngram_rows(corpus_indices, vocab_size, 0.1, max_n=2,
                              ks=(1, 0.01))
    train, valid = split_corpus(corpus_indices, 0.1)
    for n, (label, ppl) in zip((1, 2), rows):
        best = min(lang_model.heldout_perplexity(train, valid, n, k,
                                                 vocab_size)
                   for k in (1, 0.01))
        assert label.startswith('%d-gram' % n)
        assert ppl == pytest.approx(best)


def test_main_prints_the_table(monkeypatch, capsys):
    monkeypatch.setenv('D2L_CH6_QUICK', '1')
    monkeypatch.setattr(heldout, 'MODELS', [
        (label, dataclasses.replace(spec, num_hiddens=16), hp)
        for label, spec, hp in heldout.MODELS])
    rows = heldout.main(['--models', '1', '3', '--ctx', 'cpu', '--quiet'])
    out = capsys.readouterr().out
    assert 'training on 9000 characters, held out: the last 1000' in out
    assert len(rows) == 4 + 2  # four n-gram orders, two networks
    for label, train_ppl, last, best, seconds in rows[4:]:
        assert train_ppl > 1 and last > 1 and best[0] <= last and seconds > 0
        assert '| %s |' % label in out
