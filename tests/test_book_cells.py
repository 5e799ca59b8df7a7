"""`import d2l_ch6 as d2l` runs code written the way the book's chapter-6
cells are, and prints what `import d2lzh as d2l` prints.

BOOK_CELLS below is a script in the style of the book's 6.3, 6.4, 6.5 and
6.7 cells, written for this test (2 epochs and 20 predicted characters
instead of the book's 250/160 and 50). It calls `d2l.` exactly as the
book's cells do, defines its own scratch RNN reading globals, and its own
plain nn.Block RNNModel. It runs twice, as a
reader would run it: from a notebooks/ folder with the corpus in ../data,
once with each package; the two outputs must have the same shape line for
line (numbers and generated text aside).
"""
import os
import re
import shutil
import subprocess
import sys

import pytest

from d2l_ch6.core import corpus

# two trainings of four models at the book's 256 hidden units (1.5 min)
pytestmark = pytest.mark.slow

BOOK_CELLS = r'''
import math
import time

from mxnet import autograd, nd
from mxnet.gluon import loss as gloss, nn

IMPORT_D2L

# 6.3: the corpus and the two samplers
(corpus_indices, char_to_idx, idx_to_char,
 vocab_size) = d2l.load_data_jay_lyrics()
print('vocab_size', vocab_size, 'chars', len(corpus_indices))

my_seq = list(range(30))
for X, Y in d2l.data_iter_random(my_seq, batch_size=2, num_steps=6):
    print('X: ', X, '\nY:', Y, '\n')
for X, Y in d2l.data_iter_consecutive(my_seq, batch_size=2, num_steps=6):
    print('X: ', X, '\nY:', Y, '\n')

# 6.4: from scratch
X = nd.arange(10).reshape((2, 5))
inputs = d2l.to_onehot(X, vocab_size)
print(len(inputs), inputs[0].shape)

num_inputs, num_hiddens, num_outputs = vocab_size, 256, vocab_size
ctx = d2l.try_gpu()
print('will use', ctx)


def get_params():
    def _one(shape):
        return nd.random.normal(scale=0.01, shape=shape, ctx=ctx)

    # hidden layer
    W_xh = _one((num_inputs, num_hiddens))
    W_hh = _one((num_hiddens, num_hiddens))
    b_h = nd.zeros(num_hiddens, ctx=ctx)
    # output layer
    W_hq = _one((num_hiddens, num_outputs))
    b_q = nd.zeros(num_outputs, ctx=ctx)
    params = [W_xh, W_hh, b_h, W_hq, b_q]
    for param in params:
        param.attach_grad()
    return params


def init_rnn_state(batch_size, num_hiddens, ctx):
    return (nd.zeros(shape=(batch_size, num_hiddens), ctx=ctx), )


def rnn(inputs, state, params):
    W_xh, W_hh, b_h, W_hq, b_q = params
    H, = state
    outputs = []
    for X in inputs:  # one (batch, vocab) array per time step
        H = nd.tanh(nd.dot(X, W_xh) + nd.dot(H, W_hh) + b_h)
        outputs.append(nd.dot(H, W_hq) + b_q)
    return outputs, (H, )


state = init_rnn_state(X.shape[0], num_hiddens, ctx)
inputs = d2l.to_onehot(X.as_in_context(ctx), vocab_size)
params = get_params()
outputs, state_new = rnn(inputs, state, params)
print(len(outputs), outputs[0].shape, state_new[0].shape)

print('untrained:', d2l.predict_rnn(
    '分开', 10, rnn, params, init_rnn_state, num_hiddens, vocab_size, ctx,
    idx_to_char, char_to_idx))

# one step by hand: the clipping and sgd the book trains with
loss = gloss.SoftmaxCrossEntropyLoss()
for X, Y in d2l.data_iter_consecutive(corpus_indices, 32, 35, ctx):
    with autograd.record():
        outputs, _ = rnn(d2l.to_onehot(X, vocab_size),
                         init_rnn_state(32, num_hiddens, ctx), params)
        l = loss(nd.concat(*outputs, dim=0), Y.T.reshape((-1,))).mean()
    l.backward()
    d2l.grad_clipping(params, 1e-2, ctx)
    d2l.sgd(params, 1e2, 1)
    print('one step, loss %.4f' % l.asscalar())
    break

num_epochs, num_steps, batch_size, lr, clipping_theta = 2, 35, 32, 1e2, 1e-2
pred_period, pred_len, prefixes = 1, 20, ['分开', '不分开']

d2l.train_and_predict_rnn(rnn, get_params, init_rnn_state, num_hiddens,
                          vocab_size, ctx, corpus_indices, idx_to_char,
                          char_to_idx, True, num_epochs, num_steps, lr,
                          clipping_theta, batch_size, pred_period, pred_len,
                          prefixes)
d2l.train_and_predict_rnn(rnn, get_params, init_rnn_state, num_hiddens,
                          vocab_size, ctx, corpus_indices, idx_to_char,
                          char_to_idx, False, num_epochs, num_steps, lr,
                          clipping_theta, batch_size, pred_period, pred_len,
                          prefixes)

# 6.5: concise, with the notebook's own RNNModel
from mxnet.gluon import rnn

rnn_layer = rnn.RNN(num_hiddens)
rnn_layer.initialize()
batch_size = 2
state = rnn_layer.begin_state(batch_size=batch_size)
print(state[0].shape)
X = nd.random.uniform(shape=(num_steps, batch_size, vocab_size))
Y, state_new = rnn_layer(X, state)
print(Y.shape, len(state_new), state_new[0].shape)


class RNNModel(nn.Block):
    def __init__(self, rnn_layer, vocab_size, **kwargs):
        super(RNNModel, self).__init__(**kwargs)
        self.rnn = rnn_layer
        self.vocab_size = vocab_size
        self.dense = nn.Dense(vocab_size)

    def forward(self, inputs, state):
        # (batch, num_steps) -> one-hot (num_steps, batch, vocab)
        X = nd.one_hot(inputs.T, self.vocab_size)
        Y, state = self.rnn(X, state)
        # every time step's hidden state -> (num_steps * batch, vocab)
        return self.dense(Y.reshape((-1, Y.shape[-1]))), state

    def begin_state(self, *args, **kwargs):
        return self.rnn.begin_state(*args, **kwargs)


ctx = d2l.try_gpu()
model = RNNModel(rnn_layer, vocab_size)
model.initialize(force_reinit=True, ctx=ctx)
print('untrained:', d2l.predict_rnn_gluon(
    '分开', 10, model, vocab_size, ctx, idx_to_char, char_to_idx))

num_epochs, batch_size, lr, clipping_theta = 2, 32, 1e2, 1e-2
pred_period, pred_len, prefixes = 1, 20, ['分开', '不分开']
d2l.train_and_predict_rnn_gluon(model, num_hiddens, vocab_size, ctx,
                                corpus_indices, idx_to_char, char_to_idx,
                                num_epochs, num_steps, lr, clipping_theta,
                                batch_size, pred_period, pred_len, prefixes)

# 6.7: concise GRU, with the package's RNNModel
gru_layer = rnn.GRU(num_hiddens)
model = d2l.RNNModel(gru_layer, vocab_size)
d2l.train_and_predict_rnn_gluon(model, num_hiddens, vocab_size, ctx,
                                corpus_indices, idx_to_char, char_to_idx,
                                num_epochs, num_steps, lr, clipping_theta,
                                batch_size, pred_period, pred_len, prefixes)
print('done')
'''

IMPORTS = {'d2l_ch6': 'import d2l_ch6 as d2l', 'd2lzh': 'import d2lzh as d2l'}
EPOCH_LINE = re.compile(
    r'^epoch (\d+), perplexity \d+\.\d{6}, time \d+\.\d\d sec$')
PREFIXES = ['分开', '不分开']


@pytest.fixture(scope='module')
def outputs(tmp_path_factory):
    """package -> stdout of BOOK_CELLS run from book/notebooks/ with the
    corpus in book/data/ and nowhere else."""
    book = tmp_path_factory.mktemp('book')
    (book / 'notebooks').mkdir()
    (book / 'data').mkdir()
    jay = corpus.CORPORA['jaychou']
    shutil.copyfile(corpus.find_corpus('jaychou', download_ok=False),
                    book / 'data' / jay.file)
    env = {k: v for k, v in os.environ.items()
           if k not in ('D2L_CH6_DATA', 'D2L_CH6_QUICK')}
    # only ../data can hold the corpus: an empty cache, no download
    env.update(D2L_CH6_CACHE=str(book / 'cache'), MPLBACKEND='Agg',
               D2L_CH6_MIRROR='http://127.0.0.1:9/', NO_PROXY='127.0.0.1')
    procs = {}
    for package, line in IMPORTS.items():
        script = book / 'notebooks' / ('cells_%s.py' % package)
        script.write_text(BOOK_CELLS.replace('IMPORT_D2L', line),
                          encoding='utf-8')
        # d2lzh imports mxnet itself, which needs numpy < 1.24 unless
        # d2l_ch6's alias fix ran first: run the script after that fix
        runner = ('import d2l_ch6.core.compat, runpy; '
                  'runpy.run_path(%r, run_name="__main__")' % script.name)
        procs[package] = subprocess.Popen(
            [sys.executable, '-c', runner], cwd=str(book / 'notebooks'),
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
    out = {}
    for package, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=600)
        out[package] = (proc.returncode, stdout, stderr)
    return out


def skeleton(text):
    """The shape of an output: epoch lines without their numbers,
    prediction lines as (prefix, length), every other number as #."""
    lines = []
    for line in text.splitlines():
        m = EPOCH_LINE.match(line)
        if m:
            lines.append('epoch %s' % m.group(1))
        elif line.startswith(' - '):
            prefix = max((p for p in PREFIXES if line[3:].startswith(p)),
                         key=len, default=None)
            lines.append((' - ', prefix, len(line)))
        elif line.startswith('untrained:'):
            lines.append(('untrained', len(line)))
        else:
            # numpy pads printed arrays to the widest value: drop spaces
            lines.append(re.sub(r'\d+(\.\d+)?(e[-+]?\d+)?', '#',
                                line).replace(' ', ''))
    return lines


@pytest.mark.parametrize('package', list(IMPORTS))
def test_book_cells_run(outputs, package):
    rc, stdout, stderr = outputs[package]
    assert rc == 0, stderr
    assert 'Traceback' not in stderr
    lines = stdout.splitlines()
    assert lines[0] == 'vocab_size 1027 chars 10000'
    assert lines[-1] == 'done'
    epochs = [int(m.group(1)) for m in map(EPOCH_LINE.match, lines) if m]
    # scratch random, scratch consecutive, Gluon RNN, Gluon GRU
    assert epochs == [1, 2] * 4
    for i, line in enumerate(lines):
        if EPOCH_LINE.match(line):
            for k, prefix in enumerate(PREFIXES):
                pred = lines[i + 1 + k]
                assert pred.startswith(' - ' + prefix)
                assert len(pred) == len(' - ') + len(prefix) + 20


def test_book_cells_print_alike(outputs):
    ours, book = skeleton(outputs['d2l_ch6'][1]), skeleton(
        outputs['d2lzh'][1])
    assert len(ours) == len(book)
    for a, b in zip(ours, book):
        assert a == b
