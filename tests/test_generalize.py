"""The tools that make a language model generalize (beyond the book): the
<unk> vocabulary, dropout in both forms, an embedding, weight decay and
Adam (against gluon.Trainer), early stopping and the learning-rate cut,
the best checkpoint, and quick runs of ``heldout``."""
import collections
import json
from dataclasses import replace

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon, nd

from d2l_ch6.core import checkpoint, cli, fast, parity
from d2l_ch6.tools import heldout
from d2l_ch6 import lstm, rnn_gluon
from d2l_ch6.core import trainer as train_mod
from d2l_ch6.core.corpus import read_corpus
from d2l_ch6.core.data import UNK, build_vocab, load_corpus, split_corpus
from d2l_ch6.core.errors import BadInput
from d2l_ch6.core.models import GluonModel, ModelSpec
from d2l_ch6.core.predict import predict
from d2l_ch6.core.optim import Optimizer
from d2l_ch6.core.trainer import Hyper, Trainer, fit, seed_all
from d2l_ch6.tools.zoo import build_model, draw_uniform, restore

V, H, E, B, T = 13, 8, 5, 4, 6


def X_of(shape, ctx, vocab=V):
    return nd.array(np.random.randint(0, vocab, size=shape), ctx=ctx)


# -- the vocabulary --------------------------------------------------------

def test_unk_maps_exactly_the_rare_characters():
    text = 'abracadabra, abc! zzz q' + 'xyq' * 2
    counted = text[:23]  # the training part
    indices, char_to_idx, idx_to_char, size = build_vocab(text, 2, counted)
    counts = collections.Counter(counted)
    kept = sorted(c for c in counts if counts[c] >= 2)
    assert idx_to_char == [UNK] + kept and size == len(kept) + 1
    for c, i in zip(text, indices):  # rare in the training part, or unseen
        assert (i == 0) == (counts[c] < 2)
        assert i == 0 or idx_to_char[i] == c
    assert set(text[23:]) - set(counted) == {'x', 'y'}  # mapped to <unk>


def test_the_books_vocabulary_stays_the_default():
    text = 'the book vocabulary'
    assert build_vocab(text)[2] == sorted(set(text))
    assert UNK not in load_corpus('jaychou', 2000)[2]
    with pytest.raises(BadInput, match='min-freq'):
        build_vocab(text, 0)


def test_min_freq_counts_only_the_training_part():
    data = load_corpus('jaychou', 3000, min_freq=3, valid_frac=0.2)
    corpus_indices, _, idx_to_char, _ = data
    text = read_corpus('jaychou', None, 3000)
    train, _ = split_corpus(text, 0.2)
    counts = collections.Counter(train)
    assert idx_to_char[1:] == sorted(c for c in counts if counts[c] >= 3)
    assert corpus_indices.count(0) == sum(counts[c] < 3 for c in text)


def test_a_prefix_with_a_rare_character_is_read_as_unk(ctx):
    text = 'aaabbbcccaaabbbd'
    _, char_to_idx, idx_to_char, size = build_vocab(text, 2)
    model = build_model(ModelSpec('gluon', 'rnn', H), size, ctx).prepare()
    out = predict(model, 'ad', 5, idx_to_char, char_to_idx)
    assert out.startswith('ad') and len(out) in range(7, 7 + 5 * 5)


# -- dropout and the embedding ---------------------------------------------

def test_inverted_dropout_keeps_1_minus_p_scaled(ctx):
    x = nd.ones((400, 250), ctx=ctx)
    y = fast.dropout(nd, x, 0.3).asnumpy()
    values = np.unique(y)
    assert len(values) == 2 and values[0] == 0
    assert values[1] == pytest.approx(1 / 0.7, rel=1e-6)
    assert abs((y > 0).mean() - 0.7) < 0.01
    assert abs(y.mean() - 1) < 0.02  # the expected value is kept


@pytest.mark.parametrize('impl', ['scratch', 'gluon'])
@pytest.mark.parametrize('cell', ['rnn', 'lstm'])
def test_dropout_is_on_in_training_and_off_at_evaluation(impl, cell, ctx):
    spec = ModelSpec(impl, cell, H, 2, dropout=0.5, embed_size=E)
    model = build_model(spec, V, ctx)
    model.prepare()
    X = X_of((B, T), ctx)
    model(X, model.begin_state(B))  # Gluon's deferred shapes
    for p in model.weights():  # away from N(0, 0.01): visible outputs
        p[:] = nd.random.uniform(-1, 1, shape=p.shape, ctx=ctx)

    def out(training):
        with autograd.record(train_mode=training):
            return model(X, model.begin_state(B))[0].asnumpy()
    e1, e2 = out(False), out(False)
    # evaluation: deterministic (up to the rounding of another graph)
    np.testing.assert_allclose(e1, e2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model(X, model.begin_state(B))[0].asnumpy(),
                               e1, rtol=1e-5, atol=1e-6)  # outside record
    t1, t2 = out(True), out(True)
    assert np.abs(t1 - t2).max() > 1e-3 and np.abs(t1 - e1).max() > 1e-3


@pytest.mark.parametrize('cell', ['rnn', 'lstm'])
def test_the_embedding_forms_agree_with_copied_weights(cell, ctx):
    """The fast form's gathered embedding and layer products equal Gluon's
    nn.Embedding + rnn layer + Dense, fed the same weights (dropout off)."""
    g = build_model(ModelSpec('gluon', cell, H, 2, dropout=0.3,
                              embed_size=E), V, ctx).prepare()
    X = X_of((B, T), ctx)
    g(X, g.begin_state(B))  # Gluon's deferred shapes
    parity.randomize(g.block)
    net = g.block
    arrays = [net.embedding.weight.data(ctx)]
    for layer in range(2):
        arrays += parity.scratch_cell_params(net.rnn, layer)
    arrays += parity.scratch_dense_params(net.dense)
    f = build_model(ModelSpec('scratch', cell, H, 2, dropout=0.3,
                              embed_size=E), V, ctx)
    f.load_state_dict({str(i): a for i, a in enumerate(arrays)})
    state = [nd.random.normal(shape=s.shape, ctx=ctx)
             for s in g.begin_state(B)]
    out_g, state_g = g(X, state)
    out_f, state_f = f(X, parity.to_scratch_state(state))
    np.testing.assert_allclose(out_f.asnumpy(), out_g.asnumpy(),
                               rtol=1e-4, atol=1e-5)
    for a, b in zip(parity.to_gluon_state(state_f, len(state_g)), state_g):
        np.testing.assert_allclose(a.asnumpy(), b.asnumpy(), rtol=1e-4,
                                   atol=1e-5)
    # and the sections' layout round-trips
    for i, a in f.state_dict().items():
        np.testing.assert_array_equal(a.asnumpy(), arrays[int(i)].asnumpy())


def test_dropout_0_keeps_the_books_models(ctx):
    """Without dropout or embedding the specs build the book's models: the
    section's scratch model, the fast form fed its weights, and a Gluon
    RNNModel with neither an Embedding nor a Dropout, equal to d2lzh's."""
    import d2lzh
    spec = ModelSpec('scratch', 'rnn', H, dropout=0.0)
    assert not spec.regularized
    teaching = build_model(spec, V, ctx)
    assert type(teaching).__name__ == 'ScratchModel'
    quick = fast.FastModel(spec, V, ctx, teaching)
    X = X_of((B, T), ctx)
    np.testing.assert_allclose(
        quick(X, quick.begin_state(B))[0].asnumpy(),
        teaching(X, teaching.begin_state(B))[0].asnumpy(), rtol=1e-5,
        atol=1e-6)
    ours = build_model(ModelSpec('gluon', 'rnn', H, activation='relu',
                                 dropout=0.0), V, ctx).prepare()
    assert ours.block.embedding is None and ours.block.drop is None
    ours(X, ours.begin_state(B))  # Gluon's deferred shapes
    parity.randomize(ours.block)
    layer = gluon.rnn.RNN(H)
    book = d2lzh.RNNModel(layer, V)
    book.initialize(ctx=ctx)
    book(X, layer.begin_state(batch_size=B, ctx=ctx))
    for p, q in zip(ours.block.collect_params().values(),
                    book.collect_params().values()):
        q.set_data(p.data(ctx))
    np.testing.assert_allclose(
        ours(X, ours.begin_state(B))[0].asnumpy(),
        book(X, layer.begin_state(batch_size=B, ctx=ctx))[0].asnumpy(),
        rtol=1e-5, atol=1e-6)


# -- the updates -----------------------------------------------------------

def two_models(ctx, spec):
    models = []
    for _ in range(2):
        mx.random.seed(5)
        m = build_model(spec, V, ctx)
        m.prepare()
        m(X_of((B, T), ctx), m.begin_state(B))  # Gluon's deferred init
        models.append(m)
    return models


@pytest.mark.parametrize('wd', [0.0, 1e-2])
def test_written_adam_equals_gluon_trainer(wd, ctx):
    """The Adam written out for every model gives the weights
    gluon.Trainer's Adam gives to a copy of the model, after three
    steps."""
    a, b = two_models(ctx, ModelSpec('gluon', 'lstm', H, embed_size=E))
    X, Y = X_of((B, T), ctx), X_of((B, T), ctx)
    hp = Hyper(optimizer='adam', lr=0.01, wd=wd, clipping_theta=1.0)
    ours = Trainer(a, hp, ctx=ctx)
    gluons = gluon.Trainer(b.params, 'adam', dict(
        learning_rate=0.01, wd=wd, beta1=0.9, beta2=0.999, epsilon=1e-8),
        kvstore=None)
    for _ in range(3):
        ours.step(X, Y, a.begin_state(B))
        Trainer(b, hp, ctx=ctx).step(X, Y, b.begin_state(B), update=False)
        gluons.step(1)  # the loss is already a mean
    assert ours.optimizer.t == 3
    for p, q in zip(a.weights(), b.weights()):
        np.testing.assert_allclose(p.asnumpy(), q.asnumpy(), rtol=1e-5,
                                   atol=1e-7)
    moved = sum(float(nd.abs(p - q).sum().asscalar()) for p, q in zip(
        a.weights(), two_models(ctx, ModelSpec('gluon', 'lstm', H,
                                               embed_size=E))[0].weights()))
    assert moved > 0


def test_sgd_with_weight_decay_is_the_formula(ctx):
    model = build_model(ModelSpec('scratch', 'rnn', H), V, ctx)
    X, Y = X_of((B, T), ctx), X_of((B, T), ctx)
    Trainer(model, Hyper(clipping_theta=None), ctx=ctx).step(
        X, Y, model.begin_state(B), update=False)
    before = [w.asnumpy() for w in model.weights()]
    grads = [g.asnumpy() for g in model.grads()]
    Optimizer('sgd', 0.5, 0.1).update(model.weights(), model.grads())
    for w, w0, g in zip(model.weights(), before, grads):
        np.testing.assert_allclose(w.asnumpy(), w0 - 0.5 * (g + 0.1 * w0),
                                   rtol=1e-5, atol=1e-7)


def test_bad_training_settings_say_what_to_do():
    with pytest.raises(BadInput, match='optimizer'):
        Hyper(optimizer='rmsprop')
    with pytest.raises(BadInput, match='patience'):
        Hyper(patience=0)
    with pytest.raises(BadInput, match='cut'):
        Hyper(lr_decay=1.5)
    with pytest.raises(BadInput, match='validation split'):
        fit(None, [0, 1] * 100, 'ab', {'a': 0, 'b': 1}, Hyper(patience=2),
            ctx=mx.cpu())


# -- the recipe's start -----------------------------------------------------

@pytest.mark.parametrize('impl', ['scratch', 'gluon'])
def test_draw_uniform_draws_the_weights_and_zeros_the_biases(impl, ctx):
    h = 64
    model = draw_uniform(build_model(ModelSpec(impl, 'lstm', h, 2,
                                               dropout=0.3, embed_size=E),
                                     V, ctx))
    state = model.begin_state(B)  # it runs (and Gluon's shapes are known)
    with autograd.predict_mode():
        out, _ = model(X_of((B, T), ctx), state)
    assert out.shape == (T * B, V) and np.isfinite(out.asnumpy()).all()
    a = h ** -0.5
    kinds = collections.Counter()
    for name, w in model.state_dict().items():
        w = w.asnumpy()
        kinds[w.ndim] += 1
        if w.ndim == 2:  # U(-a, a): within a, reaching it, std a/sqrt(3)
            assert 0.9 * a < np.abs(w).max() <= a, name
            if w.size > 1000:
                assert w.std() == pytest.approx(a / 3 ** 0.5, rel=0.1)
        else:
            assert not w.any(), name
    assert kinds[2] and kinds[1]


def test_the_recipes_start_lets_the_plain_rnn_learn(ctx):
    """Under the book's N(0, 0.01^2) the recipe's 2-layer tanh RNN stays at
    the unigram level; from draw_uniform's start it learns."""
    corpus_indices, char_to_idx, idx_to_char, vocab_size = load_corpus(
        'timemachine', 30000, lower=True, min_freq=2)
    counts = np.bincount(corpus_indices, minlength=vocab_size)
    p = counts[counts > 0] / counts.sum()
    unigram = float(np.exp(-(p * np.log(p)).sum()))
    recipe = heldout.RECIPES['timemachine']
    hp = replace(recipe.hyper(('the ',)), num_epochs=3, pred_period=3,
                 patience=None, lr_decay=None)
    ppl = {}
    for start in ('normal', 'uniform'):
        seed_all(0)
        model = build_model(recipe.spec('rnn', 'gluon'), vocab_size, ctx)
        if start == 'uniform':
            draw_uniform(model)
        else:
            model.prepare()
        ppl[start] = fit(model, corpus_indices, idx_to_char, char_to_idx,
                         hp, ctx=ctx, log=lambda *a: None,
                         random_offset=True).perplexity[-1]
    assert ppl['normal'] > 0.95 * unigram, (ppl, unigram)
    assert ppl['uniform'] < 0.7 * unigram, (ppl, unigram)


# -- early stopping and the learning-rate cut ------------------------------

SCRIPT = [5.0, 4.0, 4.5, 6.0, 7.0, 3.0]  # held-out perplexity per epoch


@pytest.fixture
def scripted(monkeypatch):
    """evaluate_perplexity answers SCRIPT, epoch after epoch."""
    answers = iter(SCRIPT)
    monkeypatch.setattr(train_mod, 'evaluate_perplexity',
                        lambda *a, **k: next(answers))


@pytest.mark.parametrize('impl', ['scratch', 'gluon'])
def test_early_stopping_restores_the_best_epoch(impl, scripted, jay, ctx):
    corpus_indices, char_to_idx, idx_to_char, vocab_size = jay
    model = build_model(ModelSpec(impl, 'gru', H, dropout=0.2,
                                  embed_size=E), vocab_size, ctx)
    model.prepare()
    seen = {}

    def on_record(trainer):
        seen[trainer.epoch] = {k: a.asnumpy() for k, a in
                               model.state_dict().items()}
    hp = Hyper(H, 10, 35, 32, 0.01, 1.0, 100, 5, ('分开',), 'adam',
               patience=2, lr_decay=0.5)
    h = Trainer(model, hp, ctx=ctx, log=lambda *a: None).fit(
        corpus_indices[:3000], idx_to_char, char_to_idx,
        valid_indices=corpus_indices[3000:3100], on_record=on_record)
    # epoch 2 is the best; epochs 3 and 4 are not better: stop after 4
    assert h.epochs == [1, 2, 3, 4] and h.best_epoch == 2
    assert h.lr == pytest.approx([0.01, 0.01, 0.005, 0.0025])
    after = model.state_dict()
    assert any(np.abs(seen[4][k] - seen[2][k]).max() > 0 for k in after)
    for k, a in after.items():
        np.testing.assert_array_equal(a.asnumpy(), seen[2][k])


def test_save_keeps_the_best_epoch(scripted, tmp_path, monkeypatch, ctx):
    monkeypatch.setenv('D2L_CH6_QUICK', '1')
    path = tmp_path / 'best.params'
    rnn_gluon.main(['--epochs', '5', '--num-hiddens', '8', '--ctx', 'cpu',
                    '--valid-frac', '0.1', '--patience', '3', '--save',
                    str(path), '--quiet', '--optimizer', 'adam', '--lr',
                    '0.01', '--clip', '1', '--min-freq', '2'])
    ckpt = checkpoint.load(str(path))
    # the last epoch's state, to resume; epoch 2's parameters, to use
    assert ckpt.epoch == 5 and ckpt.history().best_epoch == 2
    assert ckpt.history().valid_perplexity == SCRIPT[:5]
    assert sorted(ckpt.best_arrays) == sorted(ckpt.arrays)
    assert any((ckpt.best_arrays[k] != ckpt.arrays[k]).sum().asscalar()
               for k in ckpt.arrays)
    model, _ = restore(str(path), ctx)
    for k, a in model.state_dict().items():
        np.testing.assert_array_equal(a.asnumpy(),
                                      ckpt.best_arrays[k].asnumpy())
    assert ckpt.idx_to_char[0] == UNK and ckpt.meta['min_freq'] == 2
    assert ckpt.meta['hyper']['optimizer'] == 'adam'


def test_a_section_trains_both_forms_with_dropout_and_an_embedding(
        tmp_path, monkeypatch, ctx):
    monkeypatch.setenv('D2L_CH6_QUICK', '1')
    path = tmp_path / 'reg.params'
    lstm.main(['--epochs', '1', '--num-hiddens', '8', '--ctx', 'cpu',
               '--dropout', '0.3', '--embed-size', '6', '--save', str(path),
               '--quiet'])
    for impl, kind in (('scratch', fast.FastModel),
                      ('gluon', GluonModel)):
        model, ckpt = restore(str(tmp_path / ('reg-%s.params' % impl)), ctx)
        assert (ckpt.spec.impl, ckpt.spec.dropout, ckpt.spec.embed_size) \
            == (impl, 0.3, 6)
        assert isinstance(model, kind)
        text = [predict(model, '分开', 10, ckpt.idx_to_char,
                        ckpt.char_to_idx) for _ in range(2)]
        assert text[0] == text[1] and len(text[0]) == 12  # dropout off


def test_a_dropout_out_of_range_is_refused(capsys):
    with pytest.raises(SystemExit):
        lstm.main(['--dropout', '1.5'])
    assert 'argument --dropout: must be in [0, 1)' in capsys.readouterr().err


def test_patience_without_a_validation_split_is_one_clear_error(capsys):
    with pytest.raises(SystemExit) as e:
        cli.run(rnn_gluon.main, ['--patience', '3', '--ctx', 'cpu'])
    assert e.value.code != 0
    assert '--valid-frac' in capsys.readouterr().err


# -- the heldout command, quick --------------------------------------------

@pytest.fixture
def small(monkeypatch):
    monkeypatch.setenv('D2L_CH6_QUICK', '1')
    small = heldout.Recipe(num_hiddens=16, embed_size=8)
    monkeypatch.setattr(heldout, 'RECIPES', {'jaychou': small,
                                             'timemachine': small})
    monkeypatch.setattr(heldout, 'Recipe', lambda **k: replace(small, **k))


def test_heldout_prints_a_table_per_corpus_and_writes_json(small, tmp_path,
                                                           capsys):
    out_json, out_png = tmp_path / 'h.json', tmp_path / 'h.png'
    rows = heldout.main(['--corpora', 'jaychou,timemachine', '--num-chars',
                         '4000', '--models', 'rnn-gluon,lstm-scratch',
                         '--ctx', 'cpu', '--quiet', '--json', str(out_json),
                         '--plot', str(out_png)])
    out = capsys.readouterr().out
    assert out.count('| model | recipe |') == 2
    saved = json.loads(out_json.read_text(encoding='utf-8'))
    assert len(saved) == len(rows) == 2 * (4 + 5 + 2 * 2)
    for r in saved:
        for key in ('corpus', 'model', 'kind', 'recipe', 'train_perplexity',
                    'heldout_perplexity', 'best_epoch', 'seconds'):
            assert key in r
        assert r['heldout_perplexity'] > 1 and r['train_perplexity'] >= 1
    nets = [r for r in saved if r['kind'] == 'network']
    assert {r['recipe'] for r in nets} == {'book', 'regularized'}
    for r in nets:  # the held-out curve ends where the kept epoch is
        assert len(r['heldout_curve']) == r['epochs']
        if r['recipe'] == 'regularized':
            assert r['heldout_perplexity'] == pytest.approx(
                r['heldout_curve'][r['best_epoch'] - 1], rel=1e-4)
    assert out_png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_heldout_ablations(small, capsys):
    rows = heldout.main(['--corpora', 'jaychou', '--num-chars', '3000',
                         '--models', 'lstm-gluon', '--recipe', 'regularized',
                         '--ablations', '--no-ngrams', '--ctx', 'cpu',
                         '--quiet'])
    recipes = [r['recipe'] for r in rows]
    assert recipes == ['regularized', 'regularized, no dropout',
                       'regularized, no early stopping',
                       'regularized, no <unk>']
    assert rows[1]['spec']['dropout'] == 0 and rows[2]['hyper'][
        'patience'] is None
    assert rows[3]['vocab_size'] > rows[0]['vocab_size']


def test_heldout_tune_reads_only_the_training_part(small, monkeypatch,
                                                   capsys):
    monkeypatch.setattr(heldout, 'CHANGES', [{}, dict(dropout=0.1)])
    seen = []
    real = train_mod.fit

    def spy(model, corpus_indices, *a, valid_indices=None, **k):
        seen.append((len(corpus_indices), len(valid_indices)))
        return real(model, corpus_indices, *a, valid_indices=valid_indices,
                    **k)
    monkeypatch.setattr(heldout, 'fit', spy)
    rows = heldout.main(['--tune', '--corpora', 'jaychou', '--num-chars',
                         '4000', '--ctx', 'cpu', '--quiet'])
    assert len(rows) == 2 and seen == [(3240, 360)] * 2  # 0.9 * 0.9, 0.9*0.1
    assert 'best:' in capsys.readouterr().out


@pytest.mark.parametrize('epochs, expect', [(None, 40), (12, 12), (99, 40)])
def test_heldout_max_epochs_caps_the_recipe(epochs, expect, monkeypatch):
    monkeypatch.setattr(cli, 'quick', lambda: False)
    args = type('Args', (), {'max_epochs': epochs})()
    hp = heldout._capped(heldout.Recipe(num_epochs=40).hyper(['a']), args, 3)
    assert (hp.num_epochs, hp.pred_period) == (expect, expect)
