"""Your own text, done properly (``python -m d2l_ch6 train FILE``): the
encoded cache (rebuilt when the file changes, not otherwise), samplers
that read an array batch for batch as they read a list (and as d2lzh
does), lines kept from training to generation, checkpoints that keep the
best evaluation, fine-tuning with and without ``<unk>``, and the memory a
large text costs."""
import os
import random
import subprocess
import sys

import d2lzh
import numpy as np
import pytest
from mxnet import nd

from d2l_ch6.core import checkpoint, encode
from d2l_ch6.core import trainer as train_mod
from d2l_ch6.core.data import (UNK, data_iter_consecutive, data_iter_random,
                               epoch_batches)
from d2l_ch6.core.errors import BadInput
from d2l_ch6.tools import train
from d2l_ch6.tools.zoo import restore

POEM = ('床前明月光\n疑是地上霜\n举头望明月\n低头思故乡\n'
        '春眠不觉晓\n处处闻啼鸟\n夜来风雨声\n花落知多少\n') * 40
TINY = ['--num-hiddens', '16', '--num-layers', '1', '--embed-size', '8',
        '--batch-size', '4', '--num-steps', '12', '--ctx', 'cpu', '--quiet',
        '--pred-len', '10']


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv('D2L_CH6_CACHE', str(tmp_path / 'cache'))
    return tmp_path / 'cache' / 'encoded'


def test_the_cache_is_rebuilt_when_the_file_changes_only(tmp_path, cache):
    path = tmp_path / 'poem.txt'
    path.write_text(POEM, encoding='utf-8')
    first = encode.encode(str(path))
    assert first.cached and ''.join(first.idx_to_char[i]
                                    for i in first.indices) == POEM
    files = sorted(os.listdir(str(cache)))
    stamp = os.path.getmtime(first.cache_file)
    again = encode.encode(str(path))
    assert isinstance(again.indices, np.memmap)
    assert sorted(os.listdir(str(cache))) == files  # nothing new
    assert os.path.getmtime(again.cache_file) == stamp
    path.write_text(POEM + '新的一行\n', encoding='utf-8')  # changed
    changed = encode.encode(str(path))
    assert changed.cache_file != first.cache_file
    assert '新' in changed.idx_to_char and len(changed) == len(POEM) + 5


def test_a_stream_is_encoded_without_a_cache(tmp_path, cache):
    r, w = os.pipe()
    os.write(w, POEM.encode('utf-8'))
    os.close(w)
    try:
        e = encode.encode('/dev/fd/%d' % r)
    finally:
        os.close(r)
    assert not e.cached and e.cache_file is None
    assert ''.join(e.idx_to_char[i] for i in e.indices) == POEM


def test_small_dtypes(tmp_path, cache):
    for text, dtype in (('abc\n' * 50, np.uint8),
                        (''.join(chr(0x4e00 + i) for i in range(300)),
                         np.uint16)):
        path = tmp_path / ('t%d.txt' % len(text))
        path.write_text(text, encoding='utf-8')
        assert encode.encode(str(path)).indices.dtype == dtype


@pytest.mark.parametrize('random_offset', [False, True])
@pytest.mark.parametrize('is_random', [True, False])
def test_an_array_gives_the_books_batches(jay, is_random, random_offset,
                                          ctx):
    """A list, a numpy array, a memory-mapped one: the same batches, and
    (without the offset) d2lzh's, batch for batch; the trainer's staged
    batches are the same, Y time-major."""
    corpus_indices = jay[0]
    ours = data_iter_random if is_random else data_iter_consecutive
    theirs = d2lzh.data_iter_random if is_random \
        else d2lzh.data_iter_consecutive
    array = np.asarray(corpus_indices, dtype=np.uint16)
    runs = []
    for source in ([corpus_indices, array] + ([] if random_offset else
                                              ['d2lzh', 'staged'])):
        random.seed(3)
        if isinstance(source, str) and source == 'd2lzh':
            batches = theirs(corpus_indices, 32, 35, ctx)
        elif isinstance(source, str):  # the trainer's, staged
            batches = ((X, y.reshape((35, 32)).T) for X, y in epoch_batches(
                array, 32, 35, ctx, is_random, random_offset, block=3))
        else:
            batches = ours(source, 32, 35, ctx, random_offset)
        runs.append([(X.asnumpy(), Y.asnumpy()) for X, Y in batches])
    for run in runs[1:]:
        assert len(run) == len(runs[0])
        for (X, Y), (X0, Y0) in zip(run, runs[0]):
            np.testing.assert_array_equal(X, X0)
            np.testing.assert_array_equal(Y, Y0)


def test_lines_kept_from_training_to_generation(tmp_path, cache):
    path = tmp_path / 'poem.txt'
    path.write_text(POEM, encoding='utf-8')
    save = tmp_path / 'poem.params'
    trainer = train.main([str(path), '--save', str(save), '--max-batches',
                          '60', '--lr', '0.01'] + TINY)
    ckpt = checkpoint.load(str(save))
    assert '\n' in ckpt.idx_to_char and ckpt.meta['keep_newlines']
    assert trainer.history.batches
    r = subprocess.run([sys.executable, '-m', 'd2l_ch6', 'generate',
                        str(save), '--length', '300', '--temperature', '1',
                        '--ctx', 'cpu'], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count('\n') > 3  # the model's lines, printed as lines


def test_a_smoke_run_scores_only_the_first_held_out_characters(tmp_path,
                                                               cache,
                                                               capsys):
    # --max-batches: the last evaluation reads --eval-chars, not the whole
    # held-out part (minutes on a large text); a full run reads it all
    path = tmp_path / 'poem.txt'
    path.write_text(POEM, encoding='utf-8')
    args = [str(path), '--valid-frac', '0.5', '--eval-chars', '300',
            '--epochs', '1'] + TINY
    smoke = train.main(args + ['--save', str(tmp_path / 'a.params'),
                               '--max-batches', '2'])
    assert smoke.final['chars'] == 300
    assert 'reads the first 300 of its' in capsys.readouterr().out
    full = train.main(args + ['--save', str(tmp_path / 'b.params')])
    assert full.final['chars'] == len(POEM) - len(POEM) // 2 > 300


def test_the_checkpoint_keeps_the_best_evaluation(tmp_path, cache,
                                                 monkeypatch, ctx):
    """Evaluations scripted best at the 2nd: the checkpoint's model (what
    generate uses) is the 2nd evaluation's, the run's state the last's."""
    script = iter([5.0, 4.0, 4.5, 4.8, 6.0, 7.0])
    monkeypatch.setattr(train_mod, 'evaluate_perplexity',
                        lambda *a, **k: next(script))
    seen = {}
    real_save = checkpoint.save

    def spy(path, model, *args, **kwargs):
        trainer = args[2]
        seen[trainer.batches] = {k: v.asnumpy() for k, v in
                                 model.state_dict().items()}
        return real_save(path, model, *args, **kwargs)
    monkeypatch.setattr(checkpoint, 'save', spy)
    path = tmp_path / 'poem.txt'
    path.write_text(POEM, encoding='utf-8')
    save = tmp_path / 'best.params'
    train.main([str(path), '--save', str(save), '--eval-every', '5',
                '--max-batches', '20', '--patience', '9'] + TINY)
    ckpt = checkpoint.load(str(save))
    assert ckpt.history().batches == [5, 10, 15, 20]
    assert ckpt.history().best == 1
    model, _ = restore(str(save), ctx)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.asnumpy(), seen[10][k])
        np.testing.assert_array_equal(ckpt.arrays[k].asnumpy(), seen[20][k])


def test_fine_tuning_maps_new_characters_to_unk(tmp_path, cache):
    first, second = tmp_path / 'a.txt', tmp_path / 'b.txt'
    first.write_text(POEM, encoding='utf-8')
    second.write_text('明月光照地上霜，新字\n' * 60, encoding='utf-8')
    base = tmp_path / 'base.params'
    train.main([str(first), '--save', str(base), '--max-batches', '5',
                '--min-freq', '2'] + TINY)
    assert checkpoint.load(str(base)).idx_to_char[0] == UNK
    tuned = tmp_path / 'tuned.params'
    t = train.main([str(second), '--init-from', str(base), '--save',
                    str(tuned), '--max-batches', '5'] + TINY)
    ckpt = checkpoint.load(str(tuned))
    assert ckpt.idx_to_char == checkpoint.load(str(base)).idx_to_char
    assert t.history.batches  # it trained on the new text
    before = checkpoint.load(str(base)).best_arrays
    moved = max(float(nd.abs(ckpt.arrays[k] - before[k]).max().asscalar())
                for k in before)
    assert moved > 0


def test_fine_tuning_without_unk_lists_the_new_characters(tmp_path, cache):
    first, second = tmp_path / 'a.txt', tmp_path / 'b.txt'
    first.write_text(POEM, encoding='utf-8')
    second.write_text('明月光，新字！\n' * 60, encoding='utf-8')
    base = tmp_path / 'base.params'
    train.main([str(first), '--save', str(base), '--max-batches', '3']
               + TINY)
    with pytest.raises(BadInput) as e:
        train.main([str(second), '--init-from', str(base), '--save',
                    str(tmp_path / 't.params')] + TINY)
    message = str(e.value)
    for c in '，新字！':
        assert repr(c) in message
    assert '--min-freq' in message


def _peak_rss(args, cwd, env):
    """Peak resident memory (bytes) of ``python -m d2l_ch6 ARGS``."""
    code = ('import resource, subprocess, sys; '
            'r = subprocess.run([sys.executable, "-m", "d2l_ch6"] + '
            'sys.argv[1:]); '
            'print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); '
            'sys.exit(r.returncode)')
    r = subprocess.run([sys.executable, '-c', code] + args, cwd=str(cwd),
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return int(r.stdout.strip().splitlines()[-1]) * 1024  # Linux: KiB


@pytest.mark.skipif(sys.platform != 'linux', reason='ru_maxrss in KiB')
def test_a_large_text_costs_little_memory(tmp_path):
    """24 MB of text train with about the memory of 240 KB of it: the
    text is an array of bytes, memory-mapped, never a Python list (which
    would cost about 24 bytes a character, 0.6 GB here)."""
    rng = np.random.RandomState(0)
    words = ['%s ' % w for w in ('the time traveller smiled and said it '
                                 'was a strange machine').split()]
    line = ''.join(words[i] for i in rng.randint(0, len(words), 12)) + '\n'
    env = dict(os.environ, D2L_CH6_CACHE=str(tmp_path / 'cache'))
    args = ['--max-batches', '3', '--eval-chars', '2000', '--valid-frac',
            '0.001'] + TINY
    peaks = {}
    for name, repeat in (('small', 3000), ('large', 300000)):
        path = tmp_path / (name + '.txt')
        path.write_text(line * repeat, encoding='utf-8')
        size = path.stat().st_size
        peaks[name] = _peak_rss(['train', str(path)] + args, tmp_path, env)
    assert size > 20e6
    assert peaks['large'] - peaks['small'] < 80e6, peaks


def test_a_built_in_text_samples_from_its_own_prefix(tmp_path, cache):
    # the lyrics from the book's 分开, not from a pair of characters the
    # text happens to repeat most
    trainer = train.main(['jaychou', '--save', str(tmp_path / 'j.params'),
                          '--max-batches', '1', '--eval-chars', '200']
                         + TINY)
    assert trainer.hp.prefixes == ('分开',)
