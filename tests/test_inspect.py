"""``inspect``: the numpy rerun of every kind of model (scratch, fast,
Gluon; RNN, GRU, LSTM; deep, bidirectional, with an embedding) gives the
model's own probabilities and states to 1e-5; the page's figures equal
``score``'s and the model's; the page is one file that fetches nothing;
the units are listed best first by a score that finds what they track;
a long text is cut with a word; mistakes are one line."""
import json
import math
import re

import numpy as np
import pytest
from mxnet import nd

from d2l_ch6.core import checkpoint
from d2l_ch6.core.models import ModelSpec
from d2l_ch6.core.parity import randomize, to_scratch_state
from d2l_ch6.tools import inside as inspect, probe, zoo
from d2l_ch6.tools.inside_page import read_data

from test_decode import (CTX, cli, lyrics, one_error, save_lines_model,
                         subprocess_cli, train)

V = 13  # the vocabulary of the parity checks

# (form, spec): every kind of model of the chapter
KINDS = {
    'scratch-rnn': ('scratch', ModelSpec('scratch', 'rnn', 7)),
    'scratch-rnn-relu': ('scratch', ModelSpec('scratch', 'rnn', 7,
                                              activation='relu')),
    'scratch-gru': ('scratch', ModelSpec('scratch', 'gru', 7)),
    'scratch-lstm': ('scratch', ModelSpec('scratch', 'lstm', 7)),
    'fast-rnn': ('fast', ModelSpec('scratch', 'rnn', 7)),
    'fast-gru': ('fast', ModelSpec('scratch', 'gru', 7)),
    'fast-lstm': ('fast', ModelSpec('scratch', 'lstm', 7)),
    'gluon-rnn': ('gluon', ModelSpec('gluon', 'rnn', 7)),
    'gluon-rnn-relu': ('gluon', ModelSpec('gluon', 'rnn', 7,
                                          activation='relu')),
    'gluon-gru': ('gluon', ModelSpec('gluon', 'gru', 7)),
    'gluon-lstm': ('gluon', ModelSpec('gluon', 'lstm', 7)),
    'scratch-gru-2-layers': ('scratch', ModelSpec('scratch', 'gru', 6, 2)),
    'gluon-lstm-2-layers': ('gluon', ModelSpec('gluon', 'lstm', 6, 2)),
    'scratch-lstm-bi': ('scratch', ModelSpec('scratch', 'lstm', 5,
                                             bidirectional=True)),
    'fast-rnn-bi-2-layers': ('fast', ModelSpec('scratch', 'rnn', 5, 2,
                                               bidirectional=True)),
    'gluon-gru-bi-2-layers': ('gluon', ModelSpec('gluon', 'gru', 5, 2,
                                                 bidirectional=True)),
    'fast-gru-embedding': ('fast', ModelSpec('scratch', 'gru', 6,
                                             embed_size=4, dropout=0.2)),
    'gluon-lstm-embedding': ('gluon', ModelSpec('gluon', 'lstm', 6,
                                                embed_size=4, dropout=0.2)),
}


def random_model(form, spec, scale=0.6):
    """A model of ``spec`` with every weight and bias drawn from
    U(-scale, scale): gates far from 1/2, the parity is not trivial."""
    model = zoo.build_model(spec, V, CTX, fast=form == 'fast')
    if form == 'gluon':
        model.prepare()
        model(nd.zeros((1, 1), ctx=CTX), model.begin_state(1))
        randomize(model.block, scale)
    else:
        model.load_state_dict({
            k: nd.random.uniform(-scale, scale, shape=v.shape, ctx=CTX)
            for k, v in model.state_dict().items()})
    assert (form == 'fast') == (type(model).__name__ == 'FastModel')
    return model


def softmax(Y):
    y = Y.asnumpy().astype(np.float64)
    y = np.exp(y - y.max(axis=1, keepdims=True))
    return y / y.sum(axis=1, keepdims=True)


def probe_states(trace, t, first=True):
    """The probe's flat state after character t (per layer and direction
    H[, C], as the scratch state): forward directions at t, backward ones
    at ``0`` (their last step) unless ``first`` is False."""
    flat = []
    for _, arrow, name, values in trace.series:
        if name in ('H', 'C'):
            flat.append(values[t if arrow == '→' or not first else 0])
    return flat


@pytest.mark.parametrize('kind', sorted(KINDS))
def test_the_probe_computes_what_the_model_computes(kind):
    form, spec = KINDS[kind]
    model = random_model(form, spec)
    indices = np.random.RandomState(1).randint(0, V, size=40)
    trace = probe.Probe(model).run(indices)
    assert len(trace.series) == spec.num_layers * spec.num_directions \
        * len(probe.SERIES[spec.cell])
    state = model.begin_state(1)
    if not spec.bidirectional:  # one character at a time, as generation
        for t, i in enumerate(indices):
            Y, state = model.step(int(i), state)
            assert np.abs(softmax(Y)[0] - np.exp(trace.log_probs[t])).max() \
                < 1e-5
            flat = to_scratch_state(state) if form == 'gluon' else state
            for ours, theirs in zip(probe_states(trace, t), flat):
                assert np.abs(ours - theirs.asnumpy()[0]).max() < 1e-5
    else:  # the whole text at once, as in training
        X = nd.array(indices[None, :], ctx=CTX)
        Y, state = model(X, state)  # (T, vocab): batch 1, time-major
        assert np.abs(softmax(Y) - np.exp(trace.log_probs)).max() < 1e-5
        flat = to_scratch_state(state) if form == 'gluon' else state
        ours = probe_states(trace, len(indices) - 1)
        assert len(ours) == len(flat)
        for a, b in zip(ours, flat):
            assert np.abs(a - b.asnumpy()[0]).max() < 1e-5


def test_gates_are_the_books_formulas():
    """The recorded gates make the recorded states: C = F*C + I*C~ and H
    = O*tanh(C) (LSTM), H = Z*H + (1-Z)*H~ (GRU), at every step."""
    for kind in ('scratch-lstm', 'gluon-gru', 'scratch-gru'):
        form, spec = KINDS[kind]
        model = random_model(form, spec)
        trace = probe.Probe(model).run(np.arange(20) % V)
        s = {name: v for _, _, name, v in trace.series}
        if spec.cell == 'lstm':
            C_prev = np.vstack([np.zeros(spec.num_hiddens), s['C'][:-1]])
            assert np.allclose(s['C'], s['F'] * C_prev + s['I'] * s['C~'])
            assert np.allclose(s['H'], s['O'] * np.tanh(s['C']))
        else:
            H_prev = np.vstack([np.zeros(spec.num_hiddens), s['H'][:-1]])
            assert np.allclose(s['H'], s['Z'] * H_prev
                               + (1 - s['Z']) * s['H~'])
            assert ((s['R'] > 0) & (s['R'] < 1)).all()


# -- the page -----------------------------------------------------------------

TEXT = lyrics(900).replace('\n', ' ')


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    """A trained unidirectional Gluon LSTM and a scratch bidirectional
    GRU, saved; and the text they are shown."""
    folder = tmp_path_factory.mktemp('inspect')
    out = {}
    for name, spec in (('uni', ModelSpec('gluon', 'lstm', 16)),
                       ('bi', ModelSpec('scratch', 'gru', 8,
                                        bidirectional=True))):
        model, idx_to_char, hp, trainer = train(spec, lyrics(1500).replace(
            '\n', ' '), epochs=3)
        path = folder / (name + '.params')
        checkpoint.save(str(path), model, idx_to_char, hp, trainer)
        out[name] = (path, model, idx_to_char)
    text = folder / 'text.txt'
    text.write_text(TEXT, encoding='utf-8')
    out['text'] = text
    return out


@pytest.fixture(scope='module')
def pages(checkpoints, tmp_path_factory):
    folder = tmp_path_factory.mktemp('pages')
    out = {}
    for name in ('uni', 'bi'):
        html = folder / (name + '.html')
        status, stdout, err = cli('inspect', checkpoints[name][0], '--text',
                                  checkpoints['text'], '--html', html,
                                  '--ctx', 'cpu')
        assert status == 0, err
        page = html.read_text(encoding='utf-8')
        out[name] = (page, read_data(page), stdout)
    return out


@pytest.mark.parametrize('name', ['uni', 'bi'])
def test_the_pages_numbers_equal_score_and_the_model(checkpoints, pages,
                                                     name, tmp_path):
    path, model, idx_to_char = checkpoints[name]
    page, d, stdout = pages[name]
    char_to_idx = {c: i for i, c in enumerate(idx_to_char)}
    indices = [char_to_idx[c] for c in TEXT]
    assert d['text'] == TEXT and d['indices'] == indices
    # score reads the text as one stream (a bidirectional model: at once)
    more = ['--num-steps', str(len(TEXT))] if name == 'bi' else []
    status, _, err = cli('score', path, checkpoints['text'], '--batch-size',
                         '1', '--json', tmp_path / 's.json', '--ctx', 'cpu',
                         *more)
    assert status == 0, err
    scored = json.loads((tmp_path / 's.json').read_text())
    assert d['predicted'] == scored['predicted'] == len(TEXT) - 1
    # float64 here, float32 in the model: equal to its rounding
    assert d['bits_per_char'] == pytest.approx(scored['bits_per_char'],
                                               rel=1e-5)
    assert d['perplexity'] == pytest.approx(scored['perplexity'], rel=1e-4)
    assert '%.4f bits per character' % d['bits_per_char'] in stdout
    # the model's own probabilities, character by character
    if name == 'uni':
        state, rows = model.begin_state(1), []
        for i in indices[:-1]:
            Y, state = model.step(i, state)
            rows.append(softmax(Y)[0])
        p = np.array(rows)
    else:
        Y, _ = model(nd.array([indices], ctx=CTX), model.begin_state(1))
        p = softmax(Y)[:-1]
    assert d['surprisal'][0] is None and d['top'][0] is None
    surprisal = -np.log2(p[np.arange(len(p)), indices[1:]])
    assert np.abs(np.array(d['surprisal'][1:]) - surprisal).max() < 1e-5
    assert np.mean(d['surprisal'][1:]) == pytest.approx(
        d['bits_per_char'], rel=1e-6)
    for t in (1, 17, len(TEXT) - 1):
        top = d['top'][t]
        assert len(top) == 10
        assert [top[k] for k in range(0, 10, 2)] == \
            list(np.argsort(-p[t - 1], kind='stable')[:5])
        assert np.allclose(top[1::2], np.sort(p[t - 1])[::-1][:5],
                           atol=1e-5)
    if name == 'bi':
        assert 'bidirectional' in page and 'already read' in page
    else:
        assert 'already read' not in page


def test_the_page_is_one_file_that_fetches_nothing(pages):
    page = pages['uni'][0]
    assert not re.search(r'(src|href)\s*=|url\(|@import|https?://', page)
    assert page.count('<script') == 2 and '<script type="application/json" '\
        'id="data">' in page
    # the data cannot end its script early
    body = page.split('id="data">', 1)[1].split('</script>', 1)[0]
    assert '<' not in body


def test_units_are_listed_best_first_with_every_kind(pages):
    d = pages['bi'][1]
    scores = [u['score'] for u in d['units']]
    assert scores == sorted(scores, reverse=True)
    # every series of every layer and direction has a unit in the list
    assert {(u['direction'], u['series']) for u in d['units']} == {
        (arrow, name) for arrow in '→←' for name in ('H', 'R', 'Z', 'H~')}
    for u in d['units']:
        assert len(u['values']) == len(TEXT)
        assert max(abs(v) for v in u['values']) <= 100
        assert u['feature'] in d['features']
    assert len(pages['uni'][1]['units']) >= 40


def test_the_features_and_the_score_that_finds_a_unit():
    text = 'ab "cd" (e)\nfg h'
    found = probe.features(text)
    assert list(found['line position']) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                                            11, 0, 1, 2, 3, 4]
    assert list(found['inside quotes'][2:8]) == [0, 1, 1, 1, 0, 0]
    assert list(found['inside brackets'][7:12]) == [0, 1, 1, 0, 0]
    assert list(found['after a space'][:4]) == [0, 0, 1, 0]
    assert list(found['line end next'][10:12]) == [1, 0]
    assert 'line position' not in probe.features('no break here')
    # a unit that counts the position in the line scores 1 and leads
    T = len(text)
    trace = probe.Trace(np.zeros((T, 3)), [
        (1, '→', 'H', np.stack([np.sin(np.arange(T)),
                                found['line position'] * 0.1 - 0.2],
                               axis=1))])
    listed, _ = inspect.units(trace, text, 2)
    assert listed[0]['index'] == 1 and listed[0]['feature'] == \
        'line position' and listed[0]['score'] == pytest.approx(1)


def test_a_long_text_is_cut_with_a_word(checkpoints, tmp_path):
    html = tmp_path / 'cut.html'
    status, out, err = cli('inspect', checkpoints['uni'][0], '--text',
                           checkpoints['text'], '--html', html,
                           '--max-chars', '100', '--ctx', 'cpu')
    assert status == 0, err
    page = html.read_text(encoding='utf-8')
    d = read_data(page)
    assert d['text'] == TEXT[:100] and d['cut'] and d['predicted'] == 99
    assert 'Cut: only the first 100 characters' in out
    assert 'Cut: only the first 100 characters' in page


def test_lines_kept_and_a_string(tmp_path):
    path = tmp_path / 'lines.params'
    save_lines_model(path)
    html = tmp_path / 'lines.html'
    status, out, err = cli('inspect', path, '--string',
                           '想要有直升机\\n想要和你', '--html', html,
                           '--ctx', 'cpu')
    assert status == 0, err
    d = read_data(html.read_text(encoding='utf-8'))
    assert d['text'] == '想要有直升机\n想要和你'
    assert 'line position' in d['features']
    assert math.isfinite(d['bits_per_char'])


@pytest.mark.parametrize('content, message', [
    ('', 'is empty'), ('abc☃', "'☃'")])
def test_text_errors_are_one_line(checkpoints, tmp_path, content, message):
    f = tmp_path / 'bad.txt'
    f.write_text(content, encoding='utf-8')
    line = one_error(*cli('inspect', checkpoints['uni'][0], '--text', f,
                          '--html', tmp_path / 'p.html', '--ctx', 'cpu'))
    assert message in line
    assert not (tmp_path / 'p.html').exists()


def test_the_page_is_checked_before_any_work(tmp_path):
    """A page that cannot be written is refused before the checkpoint is
    even read (a missing one here)."""
    (tmp_path / 'file').write_text('x')
    line = one_error(*cli('inspect', tmp_path / 'none.params', '--string',
                          'ab', '--html', tmp_path / 'file' / 'p.html'))
    assert '--html' in line


def test_from_a_shell(checkpoints, tmp_path):
    html = tmp_path / 'shell.html'
    r = subprocess_cli('inspect', checkpoints['uni'][0], '--string',
                       TEXT[:60], '--html', html, '--ctx', 'cpu')
    assert r.returncode == 0, r.stderr
    assert read_data(html.read_text(encoding='utf-8'))['predicted'] == 59
    r = subprocess_cli('inspect', checkpoints['uni'][0], '--text',
                       tmp_path / 'none.txt', '--html', html, '--ctx', 'cpu')
    assert 'no such file' in one_error(r.returncode, r.stderr)
    r = subprocess_cli('inspect', checkpoints['uni'][0], '--html', html)
    assert r.returncode == 2 and 'one of the arguments --text --string' \
        in r.stderr


def test_any_text_survives_the_page():
    """Whatever the text holds (a '</script>', quotes, an emoji beyond the
    BMP, line breaks), the page carries it to its script unchanged."""
    from d2l_ch6.tools.inside_page import render
    text = 'a</script><b>"x" & \'y\'\n😀\u2028z'
    d = dict(text=text, bits_per_char=1.0, perplexity=2.0, predicted=0,
             model='m', checkpoint='c', source='s', features={},
             units=[], surprisal=[None] * len(text))
    page = render(d, ['!a </b> warning', 'a note'])
    assert read_data(page) == d
    assert '&lt;/b&gt; warning' in page and '</script><b>' not in page


def test_plot_unit_shades_each_character_by_its_value(tmp_path):
    # the notebook's figure: positive values red, negative blue, in the
    # cells of the characters that carry them (read back from the PNG)
    import matplotlib.image
    from d2l_ch6.core.plots import plot_unit
    text = '分开 不分开\nab'
    values = [1.0, 1.0, 0, -1.0, -1.0, -1.0, 0, 0, 0]
    path = plot_unit(str(tmp_path / 'unit.png'), text, values, 'unit 7',
                     per_row=3)
    pixels = matplotlib.image.imread(path)[..., :3]
    red = (pixels[..., 0] > 0.5) & (pixels[..., 2] < 0.3)
    blue = (pixels[..., 2] > 0.5) & (pixels[..., 0] < 0.3)
    # three rows of three cells, left of the colour bar: red only in the
    # top row, blue only in the middle one
    cells = slice(0, int(0.7 * pixels.shape[1]))
    rows_red = np.nonzero(red[:, cells].any(axis=1))[0]
    rows_blue = np.nonzero(blue[:, cells].any(axis=1))[0]
    assert len(rows_red) and len(rows_blue)
    assert rows_red.max() < rows_blue.min()
    with pytest.raises(ValueError, match='3 values for 9 characters'):
        plot_unit(str(tmp_path / 'x.png'), text, values[:3], 'x')
