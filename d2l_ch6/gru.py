"""6.7 门控循环单元（GRU） — the GRU from scratch and as Gluon's rnn.GRU.

The book's GRU, with reset gate R and update gate Z::

    R = sigmoid(X W_xr + H W_hr + b_r)
    Z = sigmoid(X W_xz + H W_hz + b_z)
    H~ = tanh(X W_xh + (R * H) W_hh + b_h)
    H = Z * H + (1 - Z) * H~

trained with the shared routine (consecutive sampling, 160 epochs, a
prediction every 40), then the concise ``rnn.GRU`` in ``RNNModel``.

Gluon's GRU (cuDNN's) is not quite the book's: its candidate is
``tanh(X W_xh + b_xh + R * (H W_hh + b_hh))`` -- the reset gate multiplies
``H W_hh + b_hh`` AFTER the matrix product, and the candidate keeps two
biases. ``gru_cell_gluon`` is that form; fed the weights of an ``rnn.GRU``
it reproduces the layer, while the book's ``gru_cell`` with the same
weights does not, and ``main`` prints how far apart the two are: on random
weights, and as the perplexity of a trained ``rnn.GRU`` run in each form
(the weights a Gluon GRU learns are useless in the book's form).

The exercise on ideal gate values is answered by :func:`ideal_gates`: to
predict step t from the input of step t' < t alone, take R = 0 and Z = 0
at t' (the state restarts from X_t' alone) and Z = 1 at every later step
(the state is copied, R does not matter); the run perturbs every other
input and the initial state and shows H_t does not move.
"""
from functools import partial

from mxnet import nd
from mxnet.gluon import rnn

from . import cli
from .models import (ModelSpec, RNNModel, gluon_parity, randomize, run_cell,
                     scratch_cell_params, scratch_dense_params)
from .rnn_scratch import output_params
from .train import (BOOK_GATED, GluonModel, ScratchModel,
                    evaluate_perplexity, new_params, unroll, x_dot)


def _three(num_inputs, num_hiddens):
    """The shapes of one gate: W_x (in, h), W_h (h, h), b (h,)."""
    return [(num_inputs, num_hiddens), (num_hiddens, num_hiddens),
            (num_hiddens,)]


def cell_params(num_inputs, num_hiddens, ctx):
    """[W_xz, W_hz, b_z, W_xr, W_hr, b_r, W_xh, W_hh, b_h] for inputs of
    size ``num_inputs`` (the vocabulary, or the layer below in 6.9)."""
    return new_params(_three(num_inputs, num_hiddens) * 3, ctx)


def get_params(vocab_size, num_hiddens, ctx):
    """The book's GRU parameters [W_xz, W_hz, b_z, W_xr, W_hr, b_r, W_xh,
    W_hh, b_h, W_hq, b_q]: weights ~ N(0, 0.01^2) drawn in that order, zero
    biases, gradients attached."""
    return (cell_params(vocab_size, num_hiddens, ctx)
            + output_params(num_hiddens, vocab_size, ctx))


def init_gru_state(batch_size, num_hiddens, ctx):
    """The initial state: a tuple holding zeros H (batch, hiddens)."""
    return (nd.zeros(shape=(batch_size, num_hiddens), ctx=ctx), )


def gru_cell(X, state, params, R=None, Z=None):
    """One step of the book's GRU: X (batch, in), state (H,); ``params``
    starts with the 9 cell parameters. ``R``/``Z`` force the gates to given
    values (the exercise); None computes them. Returns (H,)."""
    W_xz, W_hz, b_z, W_xr, W_hr, b_r, W_xh, W_hh, b_h = params[:9]
    H, = state
    if Z is None:
        Z = nd.sigmoid(x_dot(X, W_xz) + nd.dot(H, W_hz) + b_z)
    if R is None:
        R = nd.sigmoid(x_dot(X, W_xr) + nd.dot(H, W_hr) + b_r)
    H_tilda = nd.tanh(x_dot(X, W_xh) + nd.dot(R * H, W_hh) + b_h)
    return (Z * H + (1 - Z) * H_tilda, )


def gru(inputs, state, params):
    """The book's ``gru``: outputs ``O_t = H_t W_hq + b_q`` of every step
    (num_steps arrays of (batch, vocab)) and the final state."""
    return unroll(gru_cell, inputs, state, params)


def scratch_model(vocab_size, num_hiddens, ctx):
    """A fresh scratch GRU (new parameters) ready for ``fit``."""
    return ScratchModel(gru, get_params(vocab_size, num_hiddens, ctx),
                        init_gru_state, num_hiddens, vocab_size, ctx)


def concise_model(vocab_size, num_hiddens):
    """The book's concise GRU: ``RNNModel(rnn.GRU(num_hiddens), vocab)``."""
    return RNNModel(rnn.GRU(num_hiddens), vocab_size)


# -- Gluon's form ------------------------------------------------------------

def cell_params_gluon(num_inputs, num_hiddens, ctx):
    """Parameters of :func:`gru_cell_gluon`: the book's nine plus a second
    candidate bias b_hh."""
    return new_params(_three(num_inputs, num_hiddens) * 3 + [(num_hiddens,)],
                      ctx)


def gru_cell_gluon(X, state, params):
    """One GRU step in Gluon's (cuDNN's) form: the reset gate applies to
    ``H W_hh + b_hh``. ``params`` starts with [W_xz, W_hz, b_z, W_xr, W_hr,
    b_r, W_xh, W_hh, b_xh, b_hh] (``models.scratch_cell_params``)."""
    W_xz, W_hz, b_z, W_xr, W_hr, b_r, W_xh, W_hh, b_xh, b_hh = params[:10]
    H, = state
    Z = nd.sigmoid(x_dot(X, W_xz) + nd.dot(H, W_hz) + b_z)
    R = nd.sigmoid(x_dot(X, W_xr) + nd.dot(H, W_hr) + b_r)
    H_tilda = nd.tanh(x_dot(X, W_xh) + b_xh + R * (nd.dot(H, W_hh) + b_hh))
    return (Z * H + (1 - Z) * H_tilda, )


def to_book_form(params):
    """Gluon-form parameters -> the book's: the candidate's two biases
    summed into one (the rest, output layer included, unchanged)."""
    return list(params[:8]) + [params[8] + params[9]] + list(params[10:])


def form_gap(num_inputs, num_hiddens, num_steps, batch_size, ctx):
    """An ``rnn.GRU`` with random weights against the scratch cells fed its
    weights: {'gluon form': (out, state), 'book form': (out, state)}, the
    max absolute differences on the same random inputs and state."""
    layer = rnn.GRU(num_hiddens, input_size=num_inputs)
    layer.initialize(ctx=ctx)
    randomize(layer)
    params = scratch_cell_params(layer)
    gaps = {}
    for form, cell, p in [('gluon form', gru_cell_gluon, params),
                          ('book form', gru_cell, to_book_form(params))]:
        gaps[form] = gluon_parity(
            layer, partial(run_cell, cell, params=p), num_inputs,
            num_steps, batch_size, ctx)
    return gaps


def trained_gap(model, corpus_indices, num_steps, ctx):
    """The trained concise GRU run as itself and, with the same weights,
    as the book's GRU: (Gluon's perplexity, Gluon-form scratch perplexity,
    book-form scratch perplexity) on ``corpus_indices``."""
    vocab_size, num_hiddens = model.vocab_size, model.rnn._hidden_size
    params = scratch_cell_params(model.rnn) + scratch_dense_params(
        model.dense)

    def as_scratch(cell, p):
        return ScratchModel(partial(unroll, cell), p, init_gru_state,
                            num_hiddens, vocab_size, ctx)

    models = [GluonModel(model, ctx), as_scratch(gru_cell_gluon, params),
              as_scratch(gru_cell, to_book_form(params))]
    return tuple(evaluate_perplexity(m, corpus_indices, num_steps, ctx)
                 for m in models)


# -- the exercise: ideal gate values -----------------------------------------

# schedule name -> gates (R, Z) at step s (1-based) given t'; None computes
SCHEDULES = {
    'learned gates (no forcing)': lambda s, tp: (None, None),
    "R=0, Z=1 at every step": lambda s, tp: (0, 1),
    "Z=1 after t' only": lambda s, tp: (None, 1) if s > tp else (None, None),
    "Z=0 at t', Z=1 after": lambda s, tp: (
        (None, 0) if s == tp else (None, 1) if s > tp else (None, None)),
    "ideal: R=0, Z=0 at t', Z=1 after": lambda s, tp: (
        (0, 0) if s == tp else (None, 1) if s > tp else (None, None)),
}


def ideal_gates(num_inputs=8, num_hiddens=6, num_steps=8, t_prime=3,
                batch_size=4, ctx=None, log=print):
    """Answer the exercise with a run: for each gate schedule, how much H_t
    (t = num_steps) moves when X_t' is changed, and when every other input
    and H_0 are changed. Only a schedule giving (> 0, 0) uses the input of
    step t' alone. Returns {schedule: (moved by X_t', moved by the rest)}
    and, under 'ideal', the gap to tanh(X_t' W_xh + b_h)."""
    def normal(shape):
        return nd.random.normal(shape=shape, ctx=ctx)

    # gates far from 0 and 1 by themselves: random weights of scale 1
    params = [normal(p.shape) for p in cell_params(num_inputs, num_hiddens,
                                                   ctx)]
    X = [normal((batch_size, num_inputs)) for _ in range(num_steps)]
    H0 = normal((batch_size, num_hiddens))
    other = [normal((batch_size, num_inputs)) for _ in range(num_steps)]
    X_tp = [x if s != t_prime else other[s - 1]
            for s, x in enumerate(X, 1)]  # only X_t' changed
    X_rest = [x if s == t_prime else other[s - 1]
              for s, x in enumerate(X, 1)]  # all but X_t' changed
    H0_rest = normal((batch_size, num_hiddens))

    def final_H(schedule, inputs, H):
        for s, x in enumerate(inputs, 1):
            R, Z = schedule(s, t_prime)
            H, = gru_cell(x, (H,), params, R=R, Z=Z)
        return H

    def gap(a, b):
        return float(nd.abs(a - b).max().asscalar())

    log("ideal gates: t'=%d, t=%d; max |change of H_t| when we change"
        % (t_prime, num_steps))
    log('  %-36s %10s %14s' % ('schedule', "X_t' only", "rest and H_0"))
    result = {}
    for name, schedule in SCHEDULES.items():
        H_t = final_H(schedule, X, H0)
        moved = (gap(final_H(schedule, X_tp, H0), H_t),
                 gap(final_H(schedule, X_rest, H0_rest), H_t))
        result[name] = moved
        log('  %-36s %10.2e %14.2e' % ((name,) + moved))
    W_xh, b_h = params[6], params[8]
    direct = nd.tanh(nd.dot(X[t_prime - 1], W_xh) + b_h)
    ideal = final_H(SCHEDULES["ideal: R=0, Z=0 at t', Z=1 after"], X, H0)
    result['ideal = tanh(X_t\' W_xh + b_h)'] = gap(ideal, direct)
    log("  ideal H_t - tanh(X_t' W_xh + b_h): %.2e" % gap(ideal, direct))
    log("  answer: R_t'=0 and Z_t'=0 (restart from X_t'), then Z=1 (copy)"
        " at every step after t'; R after t' and both gates before t' do "
        "not matter")
    return result


def main(argv=None):
    p = cli.parser('gru', __doc__, BOOK_GATED)
    p.add_argument('--impl', choices=['scratch', 'gluon', 'both'],
                   default='both', help='which GRU to train')
    args = p.parse_args(argv)
    ctx, hp = cli.setup(args), cli.hyper(args)
    data = cli.load(args)
    impls = ['scratch', 'gluon'] if args.impl == 'both' else [args.impl]
    results = cli.train_all(args, {
        impl: ModelSpec(impl, 'gru', hp.num_hiddens) for impl in impls},
        data, hp, ctx)

    gaps = form_gap(10, 8, 6, 3, ctx)
    print('rnn.GRU with random weights vs the scratch cells fed its '
          'weights (max |diff|):')
    for form, (out, state) in gaps.items():
        print('  %-10s outputs %.2e, final state %.2e' % (form, out, state))
    results['form_gap'] = gaps
    if 'gluon' in results:
        ppl = trained_gap(results['gluon'].model, data[0][:2000],
                          hp.num_steps, ctx)
        print('trained rnn.GRU, perplexity on the first 2000 characters: '
              'Gluon %.3f, scratch Gluon form %.3f, scratch book form %.3f'
              % ppl)
        results['trained_gap'] = ppl
    results['ideal_gates'] = ideal_gates(ctx=ctx)
    return results


if __name__ == '__main__':
    cli.run(main)
