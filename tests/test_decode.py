"""Decoding beyond greedy, each by its defining property: nucleus
sampling never emits a character outside the nucleus of the model's own
probabilities; beam search is never less likely than greedy (both texts
scored again by the model) and, with a beam as wide as the vocabulary,
finds the best two characters; every line of an acrostic starts with its
character; ``--lines N`` prints N lines; ``\\n`` in a prefix is a line
break. Also the helpers other test files share: a model trained with
lines kept, and a checkpoint of it."""
import contextlib
import io
import math
import os
import subprocess
import sys
import zipfile

import mxnet as mx
import numpy as np
import pytest
from mxnet import nd

from d2l_ch6.core import checkpoint, data
from d2l_ch6.core.hyper import Hyper
from d2l_ch6.core.models import ModelSpec
from d2l_ch6.core.predict import (acrostic, beam_search, greedy, predict,
                                  sampler, unescape)
from d2l_ch6.core.predict import generate as generate_text
from d2l_ch6.core.trainer import Trainer
from d2l_ch6.tools import zoo

CTX = mx.cpu()


def lyrics(num_chars=3000):
    """The first characters of the Jay Chou lyrics with their lines (the
    book's reading turns them into spaces)."""
    path = os.path.join(os.environ['D2L_CH6_DATA'], 'jaychou_lyrics.txt.zip')
    with zipfile.ZipFile(path) as z:
        text = z.open('jaychou_lyrics.txt').read().decode('utf-8')
    return text.replace('\r\n', '\n')[:num_chars]


def train(spec, text, epochs=30, min_freq=None):
    """(model, idx_to_char, hp): ``spec`` trained briefly on ``text``
    (Adam: a second or two)."""
    corpus_indices, _, idx_to_char, vocab_size = data.build_vocab(
        text, min_freq)
    model = zoo.build_model(spec, vocab_size, CTX).prepare()
    hp = Hyper(num_hiddens=spec.num_hiddens, num_epochs=epochs,
               num_steps=20, batch_size=16, lr=0.01, optimizer='adam',
               clipping_theta=1.0, pred_period=1000, prefixes=('想要',))
    trainer = Trainer(model, hp, ctx=CTX, log=lambda *args: None)
    trainer.fit(corpus_indices)
    return model, idx_to_char, hp, trainer


LINES_SPEC = ModelSpec('gluon', 'lstm', 32)


def save_lines_model(path, spec=LINES_SPEC, epochs=30):
    """A checkpoint of a model trained with lines kept; returns the
    model and its vocabulary."""
    model, idx_to_char, hp, trainer = train(spec, lyrics(), epochs)
    checkpoint.save(str(path), model, idx_to_char, hp, trainer,
                    keep_newlines=True, lower=False)
    return model, idx_to_char


def cli(*argv):
    """(status, stdout, stderr) of ``python -m d2l_ch6 ARGV`` run in this
    process (as __main__ runs it: a mistake is one line, status 2)."""
    from d2l_ch6.__main__ import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main([str(a) for a in argv])
        except SystemExit as e:
            status = e.code
    return status, out.getvalue(), err.getvalue()


def subprocess_cli(*argv):
    """The same in a new process (what a user's shell runs)."""
    return subprocess.run([sys.executable, '-m', 'd2l_ch6'] +
                          [str(a) for a in argv], capture_output=True,
                          text=True, timeout=120)


def one_error(status, *outputs):
    """The one line of a refused command (status 2, no traceback), from
    (status, stderr) or (status, stdout, stderr)."""
    err = outputs[-1]
    assert status == 2, err
    lines = err.strip().split('\n')
    assert len(lines) == 1 and lines[0].startswith('error: '), err
    return lines[0]


@pytest.fixture(scope='module')
def lines_ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp('lines') / 'lines.params'
    model, idx_to_char = save_lines_model(path)
    return path, model, idx_to_char


@pytest.fixture(scope='module')
def scratch_model():
    """A scratch GRU (the state's batch axis 0, Gluon's is 1)."""
    model, idx_to_char, _, _ = train(ModelSpec('scratch', 'gru', 24),
                                     lyrics(1500), epochs=5)
    return model, idx_to_char


def log_probability(model, prefix, text, char_to_idx):
    """ln p(text | prefix), scored anew one character at a time."""
    state = model.begin_state(1)
    total = 0.0
    whole = prefix + text
    for t, c in enumerate(whole[:-1]):
        Y, state = model.step(char_to_idx[c], state)
        if t >= len(prefix) - 1:
            y = Y[0].asnumpy().astype(np.float64)
            y -= y.max()
            total += y[char_to_idx[whole[t + 1]]] - np.log(np.exp(y).sum())
    return total


# -- the prefix's escapes -----------------------------------------------------

@pytest.mark.parametrize('typed, meant', [
    ('分开\\n', '分开\n'), ('a\\tb', 'a\tb'), ('a\\\\nb', 'a\\nb'),
    ('C:\\x', 'C:\\x'), ('end\\', 'end\\'), ('plain', 'plain')])
def test_backslash_escapes(typed, meant):
    assert unescape(typed) == meant


def test_a_prefix_may_hold_a_line_break(lines_ckpt):
    path = lines_ckpt[0]
    status, out, err = cli('generate', path, '--prefix', '想要\\n',
                           '--length', '10', '--ctx', 'cpu')
    assert status == 0, err
    assert out.startswith('想要\n')


# -- nucleus sampling ---------------------------------------------------------

def nucleus_of(Y, top_p):
    """The nucleus, computed here from the outputs: the fewest most likely
    indices whose probabilities reach top_p."""
    y = Y[0].asnumpy().astype(np.float64)
    p = np.exp(y - y.max())
    p /= p.sum()
    order = np.argsort(-p, kind='stable')
    kept, total = set(), 0.0
    for i in order:
        kept.add(int(i))
        total += p[i]
        if total >= top_p:
            break
    return kept


@pytest.mark.parametrize('top_p', [0.2, 0.5, 0.9])
def test_top_p_never_leaves_the_nucleus(lines_ckpt, top_p):
    _, model, idx_to_char = lines_ckpt
    char_to_idx = {c: i for i, c in enumerate(idx_to_char)}
    seen = []

    def step(index, state):
        Y, state = model.step(index, state)
        seen.append(Y)
        return Y, state

    for seed in range(3):
        pick = sampler(top_p=top_p, seed=seed)
        chosen = []

        def recording(Y, pick=pick, chosen=chosen):
            chosen.append((Y, pick(Y)))
            return chosen[-1][1]
        generate_text(step, model.begin_state(1), '想要', 60, idx_to_char,
                      char_to_idx, recording)
        assert len(chosen) == 60
        for Y, i in chosen:
            assert i in nucleus_of(Y, top_p)
        sizes = [len(nucleus_of(Y, top_p)) for Y, _ in chosen]
        assert max(sizes) > 1 or top_p < 0.5  # it does sample


def test_top_p_one_samples_from_everything(lines_ckpt):
    """P = 1 keeps every character: the same text as plain sampling."""
    _, model, idx_to_char = lines_ckpt
    char_to_idx = {c: i for i, c in enumerate(idx_to_char)}
    a = predict(model, '想要', 40, idx_to_char, char_to_idx,
                sampler(seed=7))
    b = predict(model, '想要', 40, idx_to_char, char_to_idx,
                sampler(seed=7, top_p=1.0))
    assert a == b


def test_top_p_is_checked(lines_ckpt):
    status, _, err = cli('generate', lines_ckpt[0], '--top-p', '1.5',
                         '--ctx', 'cpu')
    assert status == 2 and 'must be in (0, 1]' in err


# -- beam search --------------------------------------------------------------

@pytest.mark.parametrize('kind', ['gluon', 'scratch'])
@pytest.mark.parametrize('K', [1, 3, 8])
def test_the_beam_is_never_less_likely_than_greedy(lines_ckpt,
                                                   scratch_model, kind, K):
    model, idx_to_char = (lines_ckpt[1:] if kind == 'gluon'
                          else scratch_model)
    char_to_idx = {c: i for i, c in enumerate(idx_to_char)}
    for prefix in ('想要', '我', '让我'):
        n = 25
        beam = beam_search(model, prefix, n, idx_to_char, char_to_idx, K)
        text = predict(model, prefix, n, idx_to_char, char_to_idx)
        assert beam.greedy_text == text
        beam_lp = log_probability(model, prefix, beam.text[len(prefix):],
                                  char_to_idx)
        greedy_lp = log_probability(model, prefix, text[len(prefix):],
                                    char_to_idx)
        assert beam_lp >= greedy_lp - 1e-4
        # what it reports is what the model says
        assert beam.log_prob == pytest.approx(beam_lp, abs=1e-3)
        assert beam.greedy_log_prob == pytest.approx(greedy_lp, abs=1e-3)
        if K == 1:
            assert beam.text == text


def test_a_beam_as_wide_as_the_vocabulary_finds_the_best_pair(
        scratch_model):
    """Two characters with K = V: every pair is a candidate, so the beam
    finds the most likely pair (found here by brute force, one batch)."""
    model, idx_to_char = scratch_model
    char_to_idx = {c: i for i, c in enumerate(idx_to_char)}
    V = len(idx_to_char)
    state = model.begin_state(1)
    for c in '想要':
        Y, state = model.step(char_to_idx[c], state)
    first = Y[0].asnumpy().astype(np.float64)
    first = first - first.max() - np.log(np.exp(first - first.max()).sum())
    states = [nd.repeat(s, V, axis=0) for s in state]  # scratch: batch 0
    Y2, _ = model(nd.arange(V).reshape((V, 1)), states)
    second = Y2.asnumpy().astype(np.float64)
    second -= second.max(axis=1, keepdims=True)
    second -= np.log(np.exp(second).sum(axis=1, keepdims=True))
    total = first[:, None] + second
    a, b = np.unravel_index(np.argmax(total), total.shape)
    beam = beam_search(model, '想要', 2, idx_to_char, char_to_idx, V)
    assert beam.text == '想要' + idx_to_char[a] + idx_to_char[b]
    assert beam.log_prob == pytest.approx(total[a, b], abs=1e-4)


def test_generate_prints_the_beam_beside_greedy(lines_ckpt):
    status, out, err = cli('generate', lines_ckpt[0], '--prefix', '想要',
                           '--beam', '4', '--length', '20', '--ctx', 'cpu')
    assert status == 0, err
    *text, line = out.rstrip('\n').split('\n')
    assert '\n'.join(text).startswith('想要')
    assert 'beam search (K=4)' in line and 'greedy' in line
    numbers = [float(x) for x in line.replace(',', ' ').split()
               if x.lstrip('-').replace('.', '').isdigit()]
    beam_lp, greedy_lp = numbers[-2:]
    assert beam_lp >= greedy_lp and beam_lp <= 0


# -- the acrostic and lines ---------------------------------------------------

def test_every_acrostic_line_starts_with_its_character(lines_ckpt):
    _, model, idx_to_char = lines_ckpt
    char_to_idx = {c: i for i, c in enumerate(idx_to_char)}
    heads = '想我你的爱'
    assert all(c in char_to_idx for c in heads)
    for pick in (greedy, sampler(0.8, seed=1), sampler(seed=2, top_p=0.9)):
        poem = acrostic(model.step, model.begin_state(1), heads,
                        idx_to_char, char_to_idx, pick, max_line=30)
        lines = poem.split('\n')
        assert len(lines) == len(heads)
        for head, line in zip(heads, lines):
            assert line.startswith(head) and len(line) <= 31


def test_acrostic_from_the_command_line(lines_ckpt):
    status, out, err = cli('generate', lines_ckpt[0], '--acrostic', '想我你',
                           '--temperature', '0.8', '--ctx', 'cpu')
    assert status == 0, err
    lines = out.rstrip('\n').split('\n')
    assert [line[0] for line in lines] == list('想我你')


def test_acrostic_refusals(lines_ckpt, tmp_path):
    path = lines_ckpt[0]
    line = one_error(*cli('generate', path, '--acrostic', '想☃',
                          '--ctx', 'cpu'))
    assert "'☃'" in line
    line = one_error(*cli('generate', path, '--acrostic', '想', '--beam',
                          '3', '--ctx', 'cpu'))
    assert '--beam' in line
    # a model trained with its lines turned into spaces
    flat = tmp_path / 'flat.params'
    model, idx_to_char, hp, trainer = train(ModelSpec('gluon', 'rnn', 8),
                                            lyrics(800).replace('\n', ' '),
                                            epochs=1)
    checkpoint.save(str(flat), model, idx_to_char, hp, trainer)
    line = one_error(*cli('generate', flat, '--acrostic', '想我',
                          '--ctx', 'cpu'))
    assert 'lines kept' in line
    line = one_error(*cli('generate', flat, '--lines', '2', '--ctx', 'cpu'))
    assert 'lines kept' in line


@pytest.mark.parametrize('num_lines', [1, 3])
def test_lines_stops_after_n_lines(lines_ckpt, num_lines):
    status, out, err = cli('generate', lines_ckpt[0], '--prefix', '想要',
                           '--lines', num_lines, '--length', '500',
                           '--temperature', '1', '--seed', '3',
                           '--ctx', 'cpu')
    assert status == 0, err
    text = out[:-1]  # print's own line break
    assert text.count('\n') == num_lines - 1, text
    assert text.startswith('想要')
    # the model wrote the breaks: generation keeps them, it stopped at
    # the num_lines-th, and more characters would have made more lines
    status, longer, _ = cli('generate', lines_ckpt[0], '--prefix', '想要',
                            '--length', '500', '--temperature', '1',
                            '--seed', '3', '--ctx', 'cpu')
    assert longer.startswith(text + '\n')


def test_combinations_that_make_no_sense_are_one_line_errors(lines_ckpt):
    r = subprocess_cli('generate', lines_ckpt[0], '--beam', '3',
                       '--temperature', '0.5', '--ctx', 'cpu')
    line = one_error(r.returncode, r.stderr)
    assert '--beam' in line and '--temperature' in line
    line = one_error(*cli('generate', lines_ckpt[0], '--beam', '2',
                          '--lines', '2', '--ctx', 'cpu'))
    assert '--lines' in line


def test_the_library_refuses_a_bad_beam(scratch_model):
    model, idx_to_char = scratch_model
    char_to_idx = {c: i for i, c in enumerate(idx_to_char)}
    with pytest.raises(Exception, match='beam size'):
        beam_search(model, '想', 3, idx_to_char, char_to_idx, 0)
    beam = beam_search(model, '想', 0, idx_to_char, char_to_idx, 3)
    assert beam.text == '想' and beam.log_prob == 0.0
    assert math.isfinite(beam_search(model, '想', 3, idx_to_char,
                                     char_to_idx, 2).log_prob)

