"""Checkpoints, generation in a new process, --resume, --valid-frac, --plot
and the progress bar: each checked against an independent computation (the
model in memory, an uninterrupted run, the corpus itself)."""
import os
import subprocess
import sys

import matplotlib.image
import pytest

import d2l_ch6
from d2l_ch6.core import checkpoint, cli
from d2l_ch6 import gru, rnn_gluon, rnn_scratch
from d2l_ch6.core.predict import predict

TINY = ['--epochs', '2', '--pred-period', '1', '--pred-len', '5',
        '--num-hiddens', '16', '--ctx', 'cpu', '--quiet']


def run(*args):
    """``python -m d2l_ch6 ARGS`` in a new process."""
    return subprocess.run([sys.executable, '-m', 'd2l_ch6', *args],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope='module')
def saved(tmp_path_factory):
    """Tiny trained models of each kind with their checkpoints."""
    folder = tmp_path_factory.mktemp('ckpt')
    out = {}
    h = rnn_gluon.main(TINY + ['--save', str(folder / 'rnn.params')])
    out['gluon-rnn'] = (folder / 'rnn.params', h)
    hs = gru.main(TINY + ['--save', str(folder / 'gru.params')])
    out['scratch-gru'] = (folder / 'gru-scratch.params', hs['scratch'])
    out['gluon-gru'] = (folder / 'gru-gluon.params', hs['gluon'])
    return out


@pytest.mark.parametrize('kind', ['gluon-rnn', 'scratch-gru', 'gluon-gru'])
def test_generation_in_a_new_process_equals_the_model_in_memory(saved,
                                                                kind, jay):
    path, trainer = saved[kind]
    _, char_to_idx, idx_to_char, _ = jay
    expected = predict(trainer.model, '分开', 30, idx_to_char, char_to_idx)
    r = run('generate', str(path), '--prefix', '分开', '--length', '30',
            '--ctx', 'cpu')
    assert r.returncode == 0, r.stderr
    # greedy text may end in spaces: strip the newline only
    assert r.stdout.rstrip('\n') == expected


def test_checkpoint_holds_what_rebuilds_the_model(saved, jay):
    path, trainer = saved['scratch-gru']
    ckpt = checkpoint.load(str(path))
    assert ckpt.spec.impl == 'scratch' and ckpt.spec.cell == 'gru'
    assert ckpt.idx_to_char == jay[2]
    assert ckpt.epoch == 2 and ckpt.history().perplexity == \
        trainer.history.perplexity
    assert ckpt.meta['hyper']['num_hiddens'] == 16
    for i, p in enumerate(trainer.model.params):  # the trained values
        assert (ckpt.arrays[str(i)].asnumpy() == p.asnumpy()).all()


def test_seeded_sampling_is_reproducible(saved):
    path = str(saved['gluon-rnn'][0])
    args = ('generate', path, '--length', '40', '--temperature', '1.5',
            '--ctx', 'cpu')
    a, b = run(*args, '--seed', '3'), run(*args, '--seed', '3')
    c = run(*args, '--seed', '4', '--top-k', '3')
    assert a.returncode == b.returncode == c.returncode == 0
    assert a.stdout == b.stdout and a.stdout != c.stdout


@pytest.mark.parametrize('argv, message', [
    (['6.4', '--sampling', 'random'], 'holds a rnn.RNN'),  # another model
    (['6.5', '--num-chars', '5000'], 'another vocabulary'),
])
def test_resume_refuses_another_model_or_vocabulary(saved, argv, message):
    path = str(saved['gluon-rnn'][0])
    r = run(*argv, *TINY, '--resume', path)
    assert r.returncode == 2
    assert message in r.stderr and 'Traceback' not in r.stderr


def test_truncated_or_foreign_files_are_clear_errors(saved, tmp_path):
    good = saved['gluon-rnn'][0].read_bytes()
    (tmp_path / 'cut.params').write_bytes(good[:len(good) // 2])
    (tmp_path / 'text.params').write_text('not a checkpoint')
    for name in ('cut.params', 'text.params', 'missing.params'):
        r = run('generate', str(tmp_path / name), '--ctx', 'cpu')
        assert r.returncode == 2, name
        assert r.stderr.startswith('error: ') and 'Traceback' not in \
            r.stderr, r.stderr


def test_unknown_prefix_characters_are_a_clear_error(saved):
    r = run('generate', str(saved['gluon-rnn'][0]), '--prefix', '分开☃Ж',
            '--ctx', 'cpu')
    assert r.returncode == 2 and "'☃', 'Ж'" in r.stderr


def test_a_failed_save_keeps_the_previous_checkpoint(saved, tmp_path,
                                                     monkeypatch):
    path, trainer = saved['gluon-rnn']
    target = tmp_path / 'keep.params'
    target.write_bytes(path.read_bytes())

    def broken(fname, arrays):
        with open(fname, 'wb') as f:
            f.write(b'half')
        raise KeyboardInterrupt  # as if Ctrl-C came in the middle

    monkeypatch.setattr(checkpoint.nd, 'save', broken)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(str(target), trainer.model, ['a'], d2l_ch6.BOOK,
                        trainer)
    assert target.read_bytes() == path.read_bytes()
    assert os.listdir(tmp_path) == ['keep.params']


def test_resume_continues_as_if_never_interrupted(tmp_path):
    # random sampling: the shuffles after the resume must be those an
    # uninterrupted run would draw, so the sampler state must be restored
    argv = TINY[2:] + ['--sampling', 'random', '--pred-period', '1']
    whole = rnn_scratch.main(argv + ['--epochs', '4'])['random']
    path = str(tmp_path / 'r.params')
    rnn_scratch.main(argv + ['--epochs', '2', '--save', path])
    resumed = rnn_scratch.main(argv + ['--epochs', '4', '--resume', path,
                                       '--seed', '99'])['random']
    assert resumed.history.epochs == [1, 2, 3, 4]
    assert resumed.history.perplexity == pytest.approx(
        whole.history.perplexity, rel=1e-5)


def test_validation_text_never_overlaps_training(monkeypatch, jay):
    seen, fit = {}, cli.Trainer.fit

    def spy(self, corpus_indices, *args, valid_indices=None, **kwargs):
        seen['train'], seen['valid'] = corpus_indices, valid_indices
        return fit(self, corpus_indices, *args,
                   valid_indices=valid_indices, **kwargs)

    monkeypatch.setattr(cli.Trainer, 'fit', spy)
    history = rnn_gluon.main(TINY + ['--valid-frac', '0.2']).history
    corpus_indices = jay[0]
    assert len(seen['valid']) == 2000 and len(seen['train']) == 8000
    # the held-out part is the corpus's last 20 %, the rest is training
    assert seen['train'] == corpus_indices[:8000]
    assert seen['valid'] == corpus_indices[8000:]
    assert len(history.valid_perplexity) == len(history.perplexity) == 2


def test_plot_is_a_png(tmp_path):
    path = tmp_path / 'ppl.png'
    rnn_scratch.main(TINY + ['--plot', str(path), '--valid-frac', '0.1'])
    assert path.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert matplotlib.image.imread(str(path)).ndim == 3


def test_no_progress_bar_when_not_a_terminal(capsys):
    rnn_gluon.main(TINY[:-1])  # without --quiet, but stderr is no tty
    assert 'epoch/s' not in capsys.readouterr().err
