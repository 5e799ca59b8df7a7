"""6.10 双向循环神经网络 — two directions, from scratch and bidirectional=True.

A forward and a backward recurrent layer read the same sequence: the
forward states run from the first step, the backward ones from the last; at
every step the two are concatenated, and the output layer reads both::

    ->H_t = cell(X_t, ->H_{t-1})      (forward, h_f units)
    <-H_t = cell(X_t, <-H_{t+1})      (backward, h_b units)
    H_t = [->H_t, <-H_t]              (n x (h_f + h_b); n x 2h if equal)
    O_t = H_t W_hq + b_q

The two directions may have different sizes (``num_hiddens`` a pair: H_t
is n x (h_f + h_b)), and a multi-layer bidirectional RNN is 6.9's stack
with this two-direction layer as its layer (layer l reads the concatenated
H_t of layer l-1, of size h_f + h_b): the section's two exercises, run by
:mod:`d2l_ch6.exercises.bi_rnn`. With copied weights the scratch model
reproduces ``rnn.RNN/GRU/LSTM(h, bidirectional=True)`` for one and two
layers (``main`` prints the differences).

The lesson, measured by ``main``: trained as a next-character model, a
bidirectional RNN cheats. The target at step t is X_{t+1}, and the backward
state <-H_t has read X_{t+1} (it runs from the end of the sequence), so the
output layer only has to copy the next input: the training perplexity
collapses toward 1, far below a unidirectional model trained the same way.
Generation has no future to read: the model is fed one character at a time,
its backward layer sees only the current character, and the greedy text is
nonsense. Scoring the training text that way, each character predicted
from the characters before it only, shows the truth: there the
bidirectional model is far worse than the unidirectional one (and read in
chunks, as in training, it still looks better, having seen the answers).
A bidirectional RNN is for tasks where the whole sequence is given
(tagging, encoding), not for predicting the next token.
"""
from dataclasses import replace
from functools import partial

from mxnet import nd

from .core import cli, flags
from .core.errors import BadInput
from .deep_rnn import CELLS, GLUON_STEPS, stack
from .deep_rnn import scratch_model as deep_scratch_model
from .core.models import (ModelSpec, ScratchModel, gluon_model, output_layer,
                          output_params, rnn_layer, unroll)
from .core.parity import gluon_parity, randomize, scratch_cell_params
from .core.predict import predict
from .core.trainer import BOOK, evaluate_perplexity

# the lesson needs few epochs: the bidirectional model collapses quickly
BOOK_BI = replace(BOOK, num_epochs=120, pred_period=40)


def _sizes(num_hiddens):
    """(h_f, h_b) from an int h (both h) or a pair."""
    if isinstance(num_hiddens, int):
        return num_hiddens, num_hiddens
    h_f, h_b = num_hiddens
    return h_f, h_b


def get_params(vocab_size, num_hiddens, ctx, cell='rnn', num_layers=1):
    """Flat list: per layer the forward cell's parameters, then the
    backward cell's (layer 1 reads vocab_size inputs, layer l > 1 reads
    h_f + h_b), then W_hq (h_f + h_b, vocab), b_q. ``num_hiddens`` is h or
    (h_f, h_b)."""
    h_f, h_b = _sizes(num_hiddens)
    make, num_inputs, params = CELLS[cell].params, vocab_size, []
    for _ in range(num_layers):
        params += make(num_inputs, h_f, ctx) + make(num_inputs, h_b, ctx)
        num_inputs = h_f + h_b
    return params + output_params(h_f + h_b, vocab_size, ctx)


def init_bi_state(batch_size, num_hiddens, ctx, cell='rnn', num_layers=1):
    """Flat tuple: per layer the forward zero state (h_f), then the
    backward one (h_b)."""
    h_f, h_b = _sizes(num_hiddens)
    init_state = CELLS[cell].init_state
    return tuple(s for _ in range(num_layers)
                 for h in (h_f, h_b)
                 for s in init_state(batch_size, h, ctx))


def bi_layer(cell, inputs, state, params):
    """One bidirectional layer: ``cell`` forward over ``inputs`` with the
    first half of ``params``/``state``, backward over the reversed inputs
    with the second half. Returns H_t = [->H_t, <-H_t] for every step
    ((batch, h_f + h_b) each) and the final state (forward, backward)."""
    n_p, n_s = len(params) // 2, len(state) // 2
    Hs_f, state_f = unroll(cell, inputs, state[:n_s], params[:n_p])
    Hs_b, state_b = unroll(cell, inputs[::-1], state[n_s:], params[n_p:])
    Hs = [nd.concat(H_f, H_b, dim=1)  # <-H_t is Hs_b[T - 1 - t]
          for H_f, H_b in zip(Hs_f, Hs_b[::-1])]
    return Hs, state_f + state_b


def bi_rnn(inputs, state, params, cell, num_layers=1):
    """The bidirectional RNN: ``num_layers`` two-direction layers of
    ``cell`` (6.9's stack), then ``O_t = H_t W_hq + b_q``; returns the
    outputs (num_steps arrays of (batch, vocab)) and the flat state."""
    W_hq, b_q = params[-2:]
    Hs, state = stack(list(inputs), state, params[:-2], cell, num_layers,
                      layer=bi_layer)
    return output_layer(Hs, W_hq, b_q), state


def scratch_model(spec, vocab_size, ctx):
    """A fresh scratch bidirectional RNN of ``spec`` (``num_layers`` layers
    of its ``cell`` in each direction), new parameters, ready to train."""
    return uneven_model(vocab_size, spec.num_hiddens, ctx, spec.cell,
                        spec.num_layers, spec)


def uneven_model(vocab_size, num_hiddens, ctx, cell='rnn', num_layers=1,
                 spec=None):
    """A scratch bidirectional RNN whose ``num_hiddens`` may be (h_f, h_b),
    the two directions' sizes (the exercise's; no spec can rebuild it)."""
    return ScratchModel(
        partial(bi_rnn, cell=CELLS[cell].step, num_layers=num_layers),
        get_params(vocab_size, num_hiddens, ctx, cell, num_layers),
        partial(init_bi_state, cell=cell, num_layers=num_layers),
        num_hiddens, vocab_size, ctx, spec)


def gluon_gap(cell, num_layers, num_inputs, num_hiddens, num_steps, batch_size,
           ctx, **kwargs):
    """A bidirectional Gluon ``cell`` layer with random weights against the
    scratch model fed its weights: max absolute differences (outputs,
    final state)."""
    layer = rnn_layer(cell, num_hiddens, num_layers=num_layers,
                      bidirectional=True, input_size=num_inputs, **kwargs)
    layer.initialize(ctx=ctx)
    randomize(layer)
    params = [p for k in range(num_layers) for d in 'lr'
              for p in scratch_cell_params(layer, k, d)]
    scratch = partial(stack, params=params, cell=GLUON_STEPS[layer._mode],
                      num_layers=num_layers, layer=bi_layer)
    return gluon_parity(layer, scratch, num_inputs, num_steps, batch_size,
                        ctx)


def leak(data, hp, ctx, cell='rnn', impl='gluon', num_eval=1000,
         opts=None, log=print):
    """Train a unidirectional and a bidirectional model the same way (with
    ``cli.train`` and ``opts``) on the corpus ``data`` (the book's 4-tuple)
    and score both on the first ``num_eval`` training characters, read in
    chunks of num_steps (the future of the chunk visible, as in training)
    and one character at a time (only the past, as generation reads).
    Returns {'uni': ..., 'bi': ...} with the History and the
    perplexities."""
    corpus_indices, char_to_idx, idx_to_char, vocab_size = data
    opts = opts or cli.Options()
    text = corpus_indices[:num_eval]
    results = {}
    for name, bidirectional in (('uni', False), ('bi', True)):
        if impl == 'gluon':
            model = gluon_model(ModelSpec('gluon', cell, hp.num_hiddens,
                                          bidirectional=bidirectional),
                                vocab_size, ctx)
        else:  # uni: 6.9's stack of one layer, the cell of 6.4/6.7/6.8
            spec = ModelSpec('scratch', cell, hp.num_hiddens,
                             bidirectional=bidirectional)
            model = (scratch_model if bidirectional else
                     deep_scratch_model)(spec, vocab_size, ctx)
        log('%s-directional: %s (%s)' % (name, model.spec.describe(), ctx))
        history = cli.train(opts, model, data, hp, ctx, name=name).history
        results[name] = dict(
            history=history, train=history.perplexity[-1],
            chunked=evaluate_perplexity(model, text, hp.num_steps, ctx),
            stepwise=evaluate_perplexity(model, text, 1, ctx),
            text={prefix: predict(model, prefix, hp.pred_len, idx_to_char,
                                  char_to_idx) for prefix in hp.prefixes})
    log('perplexity after %d epochs: training | first %d training chars '
        'read in chunks of %d (future visible) | one char at a time (past '
        'only)' % (hp.num_epochs, len(text), hp.num_steps))
    for name in ('uni', 'bi'):
        r = results[name]
        log('  %-3s  %10.3f  %10.3f  %10.3f' % (
            name, r['train'], r['chunked'], r['stepwise']))
    for name in ('uni', 'bi'):
        for text in results[name]['text'].values():
            log('  %-3s - %s' % (name, text))
    return results


def main(argv=None):
    p = cli.parser('bi_rnn', __doc__, BOOK_BI, command='6.10')
    flags.add(p, '--cell', '6.10')
    flags.add(p, '--impl', '6.10')
    args = p.parse_args(argv)
    if args.impl == 'both':
        raise BadInput('6.10 compares the uni- and bidirectional models of '
                       'one form: give --impl scratch or --impl gluon')
    ctx, hp, opts, data = cli.start(args)
    results = {}
    print('bidirectional Gluon layers with random weights vs the scratch '
          'model fed their weights (max |diff| outputs, final state):')
    results['gluon_gap'] = {}
    for cell in ('gru', 'lstm', 'rnn'):
        for L in (1, 2):
            gap = gluon_gap(cell, L, 10, 8, 6, 3, ctx)
            results['gluon_gap'][cell, L] = gap
            print('  %-4s L=%d  %.2e  %.2e' % ((cell, L) + gap))

    results['leak'] = leak(data, hp, ctx, args.cell, args.impl, opts=opts)
    cli.plot(opts, {name: results['leak'][name]['history']
                    for name in ('uni', 'bi')},
             'unidirectional vs bidirectional %s' % args.cell)
    return results


if __name__ == '__main__':
    cli.run(main)
