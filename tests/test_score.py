"""``score CKPT FILE``: one stream (``--batch-size 1``) is the model's own
loss of each character given all before it, summed step by step here;
B streams are B independent readings of B parts; the text is read as the
checkpoint's training text was (line breaks, lower case), streamed in
chunks that may cut a character or a CR LF; ``<unk>`` where the
vocabulary has it, one clear error listing the characters where not."""
import json
import math

import numpy as np
import pytest
from mxnet import nd

from d2l_ch6.core import checkpoint, corpus, data
from d2l_ch6.core.hyper import Hyper
from d2l_ch6.core.models import ModelSpec
from d2l_ch6.core.parity import randomize
from d2l_ch6.tools import score, zoo

from test_decode import CTX, cli, lyrics, one_error, subprocess_cli

TEXT = lyrics(1200).replace('\n', ' ')


def random_model(spec, vocab_size):
    """A model of ``spec`` with random weights (biases too): enough to
    score with, no training needed."""
    model = zoo.build_model(spec, vocab_size, CTX).prepare()
    if spec.impl == 'gluon':
        model(nd.zeros((1, 1), ctx=CTX), model.begin_state(1))
        randomize(model.block, 0.3)
    else:
        model.load_state_dict({
            k: nd.random.uniform(-0.3, 0.3, shape=v.shape, ctx=CTX)
            for k, v in model.state_dict().items()})
    return model


def save(path, spec, text, min_freq=None, **meta):
    """A checkpoint of a random model of ``spec`` over the vocabulary of
    ``text``; returns (model, char_to_idx)."""
    _, char_to_idx, idx_to_char, vocab_size = data.build_vocab(text,
                                                               min_freq)
    model = random_model(spec, vocab_size)
    hp = Hyper(num_hiddens=spec.num_hiddens, num_steps=7, batch_size=4)
    checkpoint.save(str(path), model, idx_to_char, hp, **meta)
    return model, char_to_idx


@pytest.fixture(scope='module')
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp('score')
    out = {}
    for name, spec in (('gluon', ModelSpec('gluon', 'gru', 12)),
                       ('scratch', ModelSpec('scratch', 'lstm', 12))):
        out[name] = (folder / (name + '.params'),) + save(
            folder / (name + '.params'), spec, TEXT)
    return out


def stream_loss(model, indices):
    """Summed -ln p of indices[1:], each given all before it, fed one
    character at a time."""
    state, total = model.begin_state(1), 0.0
    for t in range(len(indices) - 1):
        Y, state = model.step(int(indices[t]), state)
        y = Y[0].asnumpy().astype(np.float64)
        y -= y.max()
        total -= y[indices[t + 1]] - np.log(np.exp(y).sum())
    return total


def write(path, text, newline=None):
    path.write_text(text, encoding='utf-8', newline=newline)
    return path


@pytest.mark.parametrize('kind', ['gluon', 'scratch'])
def test_one_stream_is_the_models_own_loss(saved, kind, tmp_path):
    path, model, char_to_idx = saved[kind]
    text = TEXT[100:400]
    f = write(tmp_path / 'a.txt', text)
    status, out, err = cli('score', path, f, '--batch-size', '1', '--json',
                           tmp_path / 'a.json', '--ctx', 'cpu')
    assert status == 0, err
    result = json.loads((tmp_path / 'a.json').read_text())
    loss = stream_loss(model, [char_to_idx[c] for c in text]) / (
        len(text) - 1)
    assert result['predicted'] == len(text) - 1
    assert result['loss'] == pytest.approx(loss, rel=1e-5)
    assert result['bits_per_char'] == pytest.approx(loss / math.log(2),
                                                    rel=1e-5)
    assert result['perplexity'] == pytest.approx(math.exp(loss), rel=1e-5)
    assert '%.4f bits/char' % result['bits_per_char'] in out


def test_streams_are_parts_read_side_by_side(saved, tmp_path):
    """B streams: the text cut into B equal parts (the tail left out),
    each read from the zero state, its first character not predicted."""
    path, model, char_to_idx = saved['gluon']
    text = TEXT[:203]
    f = write(tmp_path / 'b.txt', text)
    result = score.main([str(path), str(f), '--batch-size', '4', '--ctx',
                         'cpu'])
    indices = [char_to_idx[c] for c in text]
    length = len(text) // 4
    parts = [indices[b * length:(b + 1) * length] for b in range(4)]
    total = sum(stream_loss(model, part) for part in parts)
    assert result['predicted'] == 4 * (length - 1)
    assert result['loss'] == pytest.approx(total / (4 * (length - 1)),
                                           rel=1e-5)


def test_unknown_characters_without_unk_are_listed(saved, tmp_path):
    f = write(tmp_path / 'c.txt', TEXT[:50] + '☃Ж☃')
    line = one_error(*cli('score', saved['gluon'][0], f, '--ctx', 'cpu'))
    assert "'☃', 'Ж'" in line and '--min-freq' in line


def test_unknown_characters_become_unk_where_there_is_one(tmp_path):
    path = tmp_path / 'unk.params'
    model, char_to_idx = save(path, ModelSpec('gluon', 'lstm', 8), TEXT,
                              min_freq=3)
    assert data.UNK in char_to_idx
    text = TEXT[:80] + '☃Ж' + TEXT[80:120]
    f = write(tmp_path / 'd.txt', text)
    result = score.main([str(path), str(f), '--batch-size', '1',
                         '--ctx', 'cpu'])
    unk = char_to_idx[data.UNK]
    indices = [char_to_idx.get(c, unk) for c in text]
    assert result['unknown'] == sum(c not in char_to_idx for c in text)
    assert result['unknown'] >= 2
    assert result['loss'] == pytest.approx(
        stream_loss(model, indices) / (len(text) - 1), rel=1e-5)


def test_the_checkpoints_preprocessing(tmp_path):
    """Line breaks are spaces to a model trained the book's way, one
    character to one trained with lines kept (CR LF and CR as LF); a
    lower-cased model reads the text lower-cased."""
    text = 'the time machine\nby h. g. wells\n\nthe time traveller'
    spec = ModelSpec('gluon', 'rnn', 8)
    flat = tmp_path / 'flat.params'
    save(flat, spec, text.replace('\n', ' '), lower=True)
    kept = tmp_path / 'kept.params'
    save(kept, spec, text, keep_newlines=True, lower=False)

    def bits(ckpt, content, newline=None):
        f = write(tmp_path / 'x.txt', content, newline)
        return score.main([str(ckpt), str(f), '--batch-size', '1',
                           '--ctx', 'cpu'])['bits_per_char']
    assert bits(flat, text) == bits(flat, text.replace('\n', ' '))
    assert bits(flat, text.upper()) == bits(flat, text)
    assert bits(kept, text, newline='\r\n') == bits(kept, text)
    assert bits(kept, text.replace('\n', '\r')) == bits(kept, text)
    assert bits(kept, text) != bits(kept, text.replace('\n', ' '))
    ckpt = checkpoint.load(str(kept))
    assert score.preprocess('A\r\nB', ckpt.meta) == 'A\nB'


def test_the_file_is_streamed(saved, tmp_path, monkeypatch):
    """Read in chunks of a few bytes (a chunk ends inside a character and
    between CR and LF): the same figure as one chunk."""
    path = saved['scratch'][0]
    f = write(tmp_path / 'e.txt', TEXT[:300].replace(' ', '\r\n'))
    whole = score.main([str(path), str(f), '--ctx', 'cpu'])
    monkeypatch.setattr(corpus, 'CHUNK', 5)
    parts = score.main([str(path), str(f), '--ctx', 'cpu'])
    assert parts['loss'] == whole['loss']
    assert parts['characters'] == whole['characters'] == 300 + TEXT[
        :300].count(' ')  # CR LF: two spaces to this model


@pytest.mark.parametrize('content, message', [
    ('', 'is empty'), ('分', 'at least 2')])
def test_too_short_a_text(saved, tmp_path, content, message):
    f = write(tmp_path / 'f.txt', content)
    assert message in one_error(*cli('score', saved['gluon'][0], f,
                                     '--ctx', 'cpu'))


def test_outputs_are_checked_before_any_work(saved, tmp_path):
    f = write(tmp_path / 'g.txt', TEXT[:100])
    line = one_error(*cli('score', tmp_path / 'missing.params', f,
                          '--json', f))
    assert '--json' in line and 'destroy' in line
    assert f.read_text(encoding='utf-8') == TEXT[:100]


def test_a_missing_file_in_a_new_process(saved, tmp_path):
    r = subprocess_cli('score', saved['gluon'][0], tmp_path / 'none.txt',
                       '--ctx', 'cpu')
    line = one_error(r.returncode, r.stderr)
    assert 'no such file' in line
