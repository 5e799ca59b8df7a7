"""--resume continues exactly: N epochs straight and N/2 + N/2 resumed give
the same perplexities and the same parameters, for sgd and Adam, in the
scratch (the book's cells), fast and Gluon forms, with the learning-rate
cut and early stopping on; also from a checkpoint written within an
epoch. The held-out perplexities are scripted (so that the schedule cuts
and stops at known epochs); the training is real."""
import json
import warnings

import numpy as np
import pytest
from mxnet import nd

from d2l_ch6 import lstm
from d2l_ch6.core import checkpoint, cli, optim
from d2l_ch6.core import trainer as train_mod
from d2l_ch6.core.hyper import Hyper, seed_all
from d2l_ch6.core.models import ModelSpec
from d2l_ch6.core.trainer import Trainer
from d2l_ch6.tools.zoo import build_model

# held-out perplexity per record: best at 2, then worse: cuts at 3 and 4,
# and patience 3 stops after 5 (6 is never reached)
SCRIPT = [5.0, 4.0, 4.5, 6.0, 7.0, 3.0]
BASE = ['--num-hiddens', '16', '--num-chars', '1500', '--batch-size', '4',
        '--num-steps', '8', '--pred-len', '3', '--pred-period', '1',
        '--ctx', 'cpu', '--quiet', '--valid-frac', '0.1', '--patience', '3',
        '--lr-decay', '0.5']
FORMS = {'scratch': ['--impl', 'scratch'],
         'fast': ['--impl', 'scratch', '--dropout', '0.2'],
         'gluon': ['--impl', 'gluon', '--dropout', '0.2']}
OPTIMIZERS = {'sgd': ['--optimizer', 'sgd', '--lr', '5', '--clip', '1'],
              'adam': ['--optimizer', 'adam', '--lr', '0.01', '--clip',
                       '1']}


@pytest.fixture
def scripted(monkeypatch):
    """A fresh SCRIPT for each run: ``restart()`` begins it again."""
    state = {}

    def restart():
        state['it'] = iter(SCRIPT)
    restart()
    monkeypatch.setattr(train_mod, 'evaluate_perplexity',
                        lambda *a, **k: next(state['it']))
    return restart


def params(path):
    return {k: v.asnumpy() for k, v in checkpoint.load(path).arrays.items()}


def straight_and_resumed(tmp_path, scripted, args, epochs=6):
    """(the straight run's trainer, its checkpoint; the resumed run's
    trainer, its checkpoint)."""
    whole, half = str(tmp_path / 'whole.params'), str(tmp_path / 'h.params')
    scripted()
    a = lstm.main(args + ['--epochs', str(epochs), '--save', whole])
    scripted()
    lstm.main(args + ['--epochs', str(epochs // 2), '--save', half])
    b = lstm.main(args + ['--epochs', str(epochs), '--resume', half,
                          '--save', half, '--seed', '7'])
    return a, whole, b, half


def same_run(a, whole, b, half, rel=1e-6):
    ha, hb = a.history, b.history
    assert hb.epochs == ha.epochs
    assert hb.perplexity == pytest.approx(ha.perplexity, rel=rel)
    assert hb.valid_perplexity == ha.valid_perplexity
    assert hb.lr == pytest.approx(ha.lr, rel=rel)
    pa, pb = params(whole), params(half)
    for k in pa:
        np.testing.assert_allclose(pb[k], pa[k], rtol=rel, atol=1e-7)
    for k, v in a.model.state_dict().items():  # early stopping's restore
        np.testing.assert_allclose(b.model.state_dict()[k].asnumpy(),
                                   v.asnumpy(), rtol=rel, atol=1e-7)


@pytest.mark.parametrize('optimizer', sorted(OPTIMIZERS))
@pytest.mark.parametrize('form', sorted(FORMS))
def test_half_and_half_is_the_straight_run(tmp_path, scripted, form,
                                            optimizer, capsys):
    args = BASE + FORMS[form] + OPTIMIZERS[optimizer]
    a, whole, b, half = straight_and_resumed(tmp_path, scripted, args)
    a, b = list(a.values())[0], list(b.values())[0]
    same_run(a, whole, b, half)
    # the schedule ran: two cuts, then the early stop after epoch 5
    assert a.history.epochs == [1, 2, 3, 4, 5] and a.stopped
    assert a.history.lr[-1] == pytest.approx(a.hp.lr * 0.5 ** 3)
    assert 'restored the parameters of epoch 2' in capsys.readouterr().out


def test_without_the_optimizer_state_adam_would_not_resume(
        tmp_path, scripted, monkeypatch):
    """What the test above rests on: were Adam's moments and step count
    left out of the checkpoint, the resumed run would differ."""
    monkeypatch.setattr(optim.Optimizer, 'state_dict', lambda self: (
        dict(name=self.name, lr=self.lr, wd=self.wd, t=0), {}))
    args = BASE + FORMS['gluon'] + OPTIMIZERS['adam']
    a, whole, b, half = straight_and_resumed(tmp_path, scripted, args)
    a, b = list(a.values())[0], list(b.values())[0]
    with pytest.raises(AssertionError):
        same_run(a, whole, b, half)


def test_a_checkpoint_within_an_epoch_resumes_exactly(jay, ctx, tmp_path):
    """Records every 3 batches: stopped after 5 batches (within the first
    epoch, the state carried), the run resumes where it stood."""
    corpus_indices, char_to_idx, idx_to_char, vocab_size = jay
    text, valid = corpus_indices[:2000], corpus_indices[2000:2200]
    hp = Hyper(16, 2, 8, 4, 0.01, 1.0, 1, 3, ('分开',), 'adam')
    spec = ModelSpec('gluon', 'gru', 16, dropout=0.2)
    path = str(tmp_path / 'm.params')

    def trainer():
        seed_all(0)
        model = build_model(spec, vocab_size, ctx).prepare()
        return Trainer(model, hp, ctx=ctx, eval_every=3,
                       log=lambda *a: None)

    def fit(t, **kwargs):
        return t.fit(text, idx_to_char, char_to_idx, valid_indices=valid,
                     **kwargs)
    a = trainer()
    fit(a)
    b = trainer()
    fit(b, max_batches=5)
    assert b.epoch == 0 and b.batch == 5  # within the first epoch
    checkpoint.save(path, b.model, idx_to_char, hp, b)
    c = trainer()
    seed_all(123)  # what the resumed run draws must come from the file
    cli.resume_from(c, checkpoint.load(path))
    fit(c)
    assert c.history.batches == a.history.batches
    assert c.history.perplexity == pytest.approx(a.history.perplexity,
                                                 rel=1e-6)
    assert c.history.valid_perplexity == pytest.approx(
        a.history.valid_perplexity, rel=1e-6)
    for k, v in a.model.state_dict().items():
        np.testing.assert_allclose(c.model.state_dict()[k].asnumpy(),
                                   v.asnumpy(), rtol=1e-6, atol=1e-7)


def _as_version_2(path):
    """Rewrite a checkpoint as d2l_ch6 wrote it before trainer states: the
    parameters only, their digest keyed by name, version 2."""
    arrays = nd.load(path)
    meta = json.loads(bytes(arrays.pop('meta').asnumpy()).decode())
    meta.pop('trainer')
    meta['version'] = 2
    meta['random_state'] = list(__import__('random').getstate())
    params = {k: v for k, v in arrays.items() if k.startswith('param:')}
    meta['digest'] = dict(
        algorithm='sha256', arrays={k[len('param:'):]:
                                    checkpoint.array_digest(v)
                                    for k, v in params.items()})
    meta['digest']['meta'] = checkpoint.meta_digest(meta)
    params['meta'] = nd.array(np.frombuffer(json.dumps(meta).encode(),
                                            dtype=np.uint8), dtype='uint8')
    nd.save(path, params)


def test_an_older_checkpoint_resumes_and_says_what_it_lacks(tmp_path,
                                                           capsys):
    path = str(tmp_path / 'old.params')
    args = ['--impl', 'gluon', '--num-hiddens', '8', '--num-chars', '1500',
            '--ctx', 'cpu', '--quiet', '--pred-period', '1']
    lstm.main(args + ['--epochs', '1', '--save', path])
    _as_version_2(path)
    assert checkpoint.load(path).trainer is None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        t = lstm.main(args + ['--epochs', '2', '--resume', path])['gluon']
    assert any("no optimizer state (Adam's moments" in str(w.message)
               for w in caught)
    assert t.history.epochs == [1, 2]
