"""The benchmark: every model of chapter 6 timed against the book's own
routine and against the limit of the machine.

    python -m d2l_ch6.bench --ctx cpu          (gpu, or cpu,gpu for both)
    python -m d2l_ch6 bench --models rnn-scratch,rnn-gluon --epochs 5

Each model (RNN, GRU, LSTM from scratch and in Gluon; the deep, 2-layer,
and the bidirectional RNN of 6.9/6.10) trains with the book's settings:
consecutive sampling, batch 32, 35 steps, lr 100, clipping 0.01, 256
hidden units, the first 10,000 characters of the Jay Chou lyrics. After
one warm-up epoch, ``--epochs`` epochs are timed, each by the wall clock
around one call of the routine (num_epochs=1). Where d2lzh is installed,
the book's own routine (``train_and_predict_rnn`` with the book-form cells,
``train_and_predict_rnn_gluon`` with the book's ``RNNModel`` around the
same Gluon layer) runs the same model in the same process, its epochs
interleaved with ours so that a busy machine slows both alike; ``book/ours``
is the ratio of the median seconds per epoch. (Each call of the book's
Gluon routine also redraws its weights: 2-3% of its epoch here.)

The work of an epoch is counted from the shapes, matrix products only:
a product of (m, k) by (k, n) is 2mkn floating-point operations forward;
the backward computes the gradient of the weight (2mkn) and of the left
factor (2mkn) unless that factor is a one-hot input, which needs none.
The fast scratch path gathers rows instead of multiplying by one-hot
inputs, so its count has no input product for the first layer.
Elementwise work (activations, gates, softmax, clipping, the update) is
not counted. The limit is the best matrix-product throughput measured in
the same process: ``nd.dot`` and ``nd.FullyConnected`` on the models' own
shapes and on a large square product; ``limit_fraction`` = achieved
GFLOP/s over that limit.

``--corpus-chars 10000,20000,all`` and ``--num-hiddens 128,256,512`` run
the models at each size, to show the time per epoch following the work.
"""
import argparse
import contextlib
import io
import json
import statistics
import sys
import time
from dataclasses import replace
from functools import partial

from mxnet import nd

from . import cli
from ._io import check_writable, write_text
from .cli import positive_int
from .corpus import CORPORA
from .data import load_corpus, num_batches
from .device import parse_ctx_list
from .errors import BadInput
from .models import ModelSpec
from .plots import new_figure, save_figure
from .train import BOOK, fit, seed_all
from .zoo import build_model

# name -> (the book's section, the model); the Gluon RNN is 6.5's
# rnn.RNN (ReLU, Gluon's default), the deep and bidirectional ones use tanh
MODELS = {
    'rnn-scratch': ('6.4', ModelSpec('scratch', 'rnn')),
    'gru-scratch': ('6.7', ModelSpec('scratch', 'gru')),
    'lstm-scratch': ('6.8', ModelSpec('scratch', 'lstm')),
    'deep-scratch': ('6.9', ModelSpec('scratch', 'rnn', num_layers=2)),
    'bi-scratch': ('6.10', ModelSpec('scratch', 'rnn', bidirectional=True)),
    'rnn-gluon': ('6.5', ModelSpec('gluon', 'rnn', activation='relu')),
    'gru-gluon': ('6.7', ModelSpec('gluon', 'gru')),
    'lstm-gluon': ('6.8', ModelSpec('gluon', 'lstm')),
    'deep-gluon': ('6.9', ModelSpec('gluon', 'rnn', num_layers=2)),
    'bi-gluon': ('6.10', ModelSpec('gluon', 'rnn', bidirectional=True)),
}

GATES = {'rnn': 1, 'gru': 3, 'lstm': 4}


def model_name(spec):
    """'rnn', 'gru', 'lstm', 'deep-rnn' (2 layers), 'bi-rnn', ..."""
    return ('bi-' if spec.bidirectional else '') + (
        'deep-' if spec.num_layers > 1 else '') + spec.cell


# -- the work ----------------------------------------------------------------

def products(spec, vocab_size, batch_size, num_steps, fast=False):
    """The matrix products of one batch: (what, m, k, n, times, left_grad)
    -- ``times`` products of (m, k) by (k, n), and whether the backward
    needs the gradient of the left factor. A cell's gates are counted side
    by side (k by g*h: as Gluon stores them; the scratch cells' g products
    of k by h are the same work)."""
    B, T, h = batch_size, num_steps, spec.num_hiddens
    D = 2 if spec.bidirectional else 1
    gh = GATES[spec.cell] * h
    result = []
    for layer in range(spec.num_layers):
        num_inputs = vocab_size if layer == 0 else D * h
        for _ in range(D):
            if layer > 0 or not fast:  # fast: layer 1 gathers rows
                result.append(('input', B, num_inputs, gh, T, layer > 0))
            result.append(('recurrent', B, h, gh, T, True))
    result.append(('output', T * B, D * h, vocab_size, 1, True))
    return result


def flops(prods):
    """Floating-point operations of ``prods`` forward and backward: 2mkn
    forward, 2mkn for the weight's gradient, 2mkn for the left factor's
    where needed."""
    return sum(2 * m * k * n * times * (3 if left_grad else 2)
               for _, m, k, n, times, left_grad in prods)


# -- the limit ---------------------------------------------------------------

def gemm_gflops(fn, flop, seconds=0.05, rounds=3):
    """GFLOP/s of ``fn()`` (``flop`` operations a call): the best of
    ``rounds`` timed loops of about ``seconds`` each."""
    fn().wait_to_read()
    start = time.perf_counter()
    fn().wait_to_read()
    n = max(1, int(seconds / max(time.perf_counter() - start, 1e-6)))
    best = float('inf')
    for _ in range(rounds):
        nd.waitall()
        start = time.perf_counter()
        for _ in range(n):
            out = fn()
        out.wait_to_read()
        best = min(best, (time.perf_counter() - start) / n)
    return flop / best / 1e9


def gemm_limit(shapes, ctx, square=2048):
    """The best matrix-product throughput on ``ctx``: ``nd.dot`` and
    ``nd.FullyConnected`` on each (m, k, n) of ``shapes`` and on a
    ``square`` x ``square`` product. Returns (GFLOP/s, {probe: GFLOP/s})."""
    probes = {}
    for m, k, n in sorted(set(shapes) | {(square, square, square)}):
        A = nd.random.normal(shape=(m, k), ctx=ctx)
        W = nd.random.normal(shape=(k, n), ctx=ctx)
        W_t = W.T.copy()  # FullyConnected's (num_hidden, k) weight
        shape = '%dx%dx%d' % (m, k, n)
        probes['dot ' + shape] = gemm_gflops(
            partial(nd.dot, A, W), 2 * m * k * n)
        probes['FullyConnected ' + shape] = gemm_gflops(
            partial(nd.FullyConnected, A, W_t, no_bias=True, num_hidden=n),
            2 * m * k * n)
    return max(probes.values()), probes


# -- the timing --------------------------------------------------------------

def ours_epoch(spec, data, hp, ctx, fast):
    """A function running one epoch of our ``fit`` on a fresh model."""
    corpus_indices, char_to_idx, idx_to_char, vocab_size = data
    model = build_model(spec, vocab_size, ctx, fast=fast)
    if spec.impl == 'gluon':
        model.prepare()
    one = replace(hp, num_epochs=1, pred_period=2)  # no predictions
    return lambda: fit(model, corpus_indices, idx_to_char, char_to_idx,
                       one, ctx=ctx, report_last=False)


def book_epoch(spec, data, hp, ctx):
    """A function running one epoch of the book's own routine (d2lzh) on
    the same model, or None without d2lzh."""
    try:
        import d2lzh
    except ImportError:
        return None
    corpus_indices, char_to_idx, idx_to_char, vocab_size = data
    settings = (1, hp.num_steps, hp.lr, hp.clipping_theta, hp.batch_size,
                2, hp.pred_len, hp.prefixes)  # one epoch, no prediction
    model = build_model(spec, vocab_size, ctx)  # the book's one-hot form
    if spec.impl == 'gluon':
        net = d2lzh.RNNModel(model.model.rnn, vocab_size)

        def run():
            d2lzh.train_and_predict_rnn_gluon(
                net, hp.num_hiddens, vocab_size, ctx, corpus_indices,
                idx_to_char, char_to_idx, *settings)
    else:
        def run():
            d2lzh.train_and_predict_rnn(
                model.rnn, lambda: model.params, model.init_rnn_state,
                hp.num_hiddens, vocab_size, ctx, corpus_indices,
                idx_to_char, char_to_idx, False, *settings)

    def quiet_run():
        with contextlib.redirect_stdout(io.StringIO()):
            run()
    return quiet_run


def timed(fn):
    """Wall-clock seconds of one call."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def time_epochs(ours, book, epochs, tick=lambda: None):
    """One warm-up epoch each, then ``epochs`` timed epochs of ``ours`` and
    of ``book`` (None: ours only), interleaved. Returns the two lists of
    seconds."""
    runs = [ours] if book is None else [book, ours]
    for run in runs:
        run()
        tick()
    seconds = [[] for _ in runs]
    for _ in range(epochs):
        for s, run in zip(seconds, runs):
            s.append(timed(run))
            tick()
    return seconds[-1], (seconds[0] if book is not None else None)


# -- the report --------------------------------------------------------------

def row(name, spec, ctx, data, hp, corpus_chars, fast, seconds,
        book_seconds, limit):
    """One result: the JSON object of a model on a device."""
    corpus_indices, _, _, vocab_size = data
    batches = num_batches(len(corpus_indices), hp.batch_size, hp.num_steps,
                          False)
    tokens = batches * hp.batch_size * hp.num_steps
    fast = fast and spec.impl == 'scratch'
    gflop = batches * flops(products(spec, vocab_size, hp.batch_size,
                                     hp.num_steps, fast)) / 1e9
    sec = statistics.median(seconds)
    r = dict(model=model_name(spec), impl=spec.impl, ctx=str(ctx),
             name=name, fast=fast, num_hiddens=spec.num_hiddens,
             corpus_chars=corpus_chars, vocab_size=vocab_size,
             batches_per_epoch=batches, tokens_per_epoch=tokens,
             epochs=len(seconds), seconds=seconds,
             sec_per_epoch=sec, sec_min=min(seconds), sec_max=max(seconds),
             tokens_per_sec=tokens / sec, gflop_per_epoch=gflop,
             gflops=gflop / sec, limit_gflops=limit,
             limit_fraction=gflop / sec / limit,
             book_sec_per_epoch=None, book_sec_min=None, book_sec_max=None,
             book_seconds=None, book_gflop_per_epoch=None,
             book_limit_fraction=None, speedup_vs_book=None)
    if book_seconds:
        book_sec = statistics.median(book_seconds)
        book_gflop = batches * flops(products(
            spec, vocab_size, hp.batch_size, hp.num_steps)) / 1e9
        r.update(book_sec_per_epoch=book_sec,
                 book_sec_min=min(book_seconds),
                 book_sec_max=max(book_seconds), book_seconds=book_seconds,
                 book_gflop_per_epoch=book_gflop,
                 book_limit_fraction=book_gflop / book_sec / limit,
                 speedup_vs_book=book_sec / sec)
    return r


def label(r, sweep):
    """'gru scratch cpu' (+ ' 20000 chars h=512' when sweeping)."""
    text = '%s %s%s %s' % (r['model'], r['impl'],
                           ' fast' if r['fast'] else '', r['ctx'])
    if sweep:
        text += ' %s chars h=%d' % (r['corpus_chars'], r['num_hiddens'])
    return text


def table(rows, sweep=False):
    """The rows as a text table."""
    width = max([28] + [len(label(r, sweep)) for r in rows])
    lines = ['%-*s %17s %9s %8s %7s %6s %7s %7s' % (
        width, 'model', 'sec/epoch (min-max)', 'tokens/s', 'GFLOP/ep',
        'GFLOP/s', 'limit', 'book s', 'book/us')]
    for r in rows:
        book = ('%7.3f %6.2fx' % (r['book_sec_per_epoch'],
                                  r['speedup_vs_book'])
                if r['speedup_vs_book'] else '%7s %7s' % ('-', '-'))
        lines.append('%-*s %5.3f (%.3f-%.3f) %9.0f %8.2f %7.1f %5.0f%% %s'
                     % (width, label(r, sweep), r['sec_per_epoch'],
                        r['sec_min'], r['sec_max'], r['tokens_per_sec'],
                        r['gflop_per_epoch'], r['gflops'],
                        100 * r['limit_fraction'], book))
    return '\n'.join(lines)


def plot_scaling(path, rows):
    """A sweep's picture: seconds per epoch against the GFLOP of an epoch,
    one line per model (ours solid, the book's routine dashed), log-log;
    a time that follows the work runs parallel to the grey slope 1."""
    fig, ax = new_figure((7.5, 5))
    models = {}
    for r in rows:
        models.setdefault((r['model'], r['impl'], r['ctx']), []).append(r)
    for i, ((model, impl, ctx), group) in enumerate(models.items()):
        group = sorted(group, key=lambda r: r['gflop_per_epoch'])
        gflop = [r['gflop_per_epoch'] for r in group]
        ax.plot(gflop, [r['sec_per_epoch'] for r in group], 'o-',
                color='C%d' % i, label='%s %s %s' % (model, impl, ctx))
        if all(r['book_sec_per_epoch'] for r in group):
            ax.plot(gflop, [r['book_sec_per_epoch'] for r in group], 'o--',
                    color='C%d' % i, alpha=0.5)
    lo = min(r['gflop_per_epoch'] for r in rows)
    hi = max(r['gflop_per_epoch'] for r in rows)
    t0 = min(r['sec_per_epoch'] for r in rows)
    ax.plot([lo, hi], [t0, t0 * hi / lo], color='grey', lw=1, alpha=0.5,
            label='time proportional to the work')
    ax.set_xscale('log')
    ax.set_yscale('log')
    ax.set_xlabel('GFLOP per epoch (matrix products, forward and backward)')
    ax.set_ylabel('seconds per epoch (median)')
    ax.set_title("time per epoch against work (dashed: the book's routine)")
    ax.legend(fontsize='small')
    ax.grid(True, which='both', alpha=0.3)
    return save_figure(fig, path)


def plot(path, rows, sweep=False, title=None):
    """A bar chart: seconds per epoch, the book's routine beside ours, the
    speedup written over each pair; for a sweep, :func:`plot_scaling`."""
    if sweep:
        return plot_scaling(path, rows)
    fig, ax = new_figure((max(6.4, 0.9 * len(rows) + 1.5), 4.5))
    x = range(len(rows))
    book = [r['book_sec_per_epoch'] or 0 for r in rows]
    ours = [r['sec_per_epoch'] for r in rows]
    ax.bar([i - 0.2 for i in x], book, 0.4, label="the book's routine",
           color='C1')
    ax.bar([i + 0.2 for i in x], ours, 0.4, label='d2l_ch6', color='C0')
    for i, r in zip(x, rows):
        if r['speedup_vs_book']:
            ax.annotate('%.2fx' % r['speedup_vs_book'],
                        (i, max(book[i], ours[i])), ha='center',
                        va='bottom', fontsize='small')
    ax.set_xticks(list(x))
    ax.set_xticklabels([label(r, False).replace(' ', '\n', 2)
                        for r in rows], fontsize='small')
    ax.set_ylabel('seconds per epoch (median)')
    ax.set_title(title or 'seconds per epoch, book settings')
    ax.legend(fontsize='small')
    ax.grid(True, axis='y', alpha=0.3)
    return save_figure(fig, path)


# -- the command -------------------------------------------------------------

def _list(convert):
    def parse(text):
        try:
            return [convert(t.strip()) for t in text.split(',') if t.strip()]
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return parse


def _chars(text):
    return 'all' if text == 'all' else positive_int(text)


def _models(text):
    names = [t.strip() for t in text.split(',') if t.strip()]
    names = list(MODELS) if names == ['all'] else names
    unknown = [n for n in names if n not in MODELS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            'unknown model(s) %s: choose from %s or all'
            % (', '.join(unknown), ', '.join(MODELS)))
    return names


def parser():
    first = __doc__.strip().split('\n\n')[0]
    p = argparse.ArgumentParser(prog='python -m d2l_ch6.bench',
                                description=' '.join(first.split()))
    p.add_argument('--ctx', default='auto',
                   help="cpu, gpu, gpu:N, several (cpu,gpu), or auto (the "
                   "book's try_gpu; the default)")
    p.add_argument('--epochs', type=positive_int, default=3,
                   help='timed epochs after one warm-up epoch (3)')
    p.add_argument('--models', type=_models, default='all',
                   help='comma-separated, of: %s (default all)'
                   % ','.join(MODELS))
    p.add_argument('--corpus-chars', type=_list(_chars), default='10000',
                   help="characters of the corpus, comma-separated (e.g. "
                   "10000,20000,all; default 10000)")
    p.add_argument('--num-hiddens', type=_list(positive_int),
                   default=str(BOOK.num_hiddens),
                   help='hidden units, comma-separated (e.g. 128,256,512; '
                   'default %d)' % BOOK.num_hiddens)
    p.add_argument('--no-fast', dest='fast', action='store_false',
                   help="scratch models in the sections' one-hot form "
                   '(default: their fast form, d2l_ch6.fast)')
    p.add_argument('--no-book', dest='book', action='store_false',
                   help="do not time the book's routine (d2lzh)")
    p.add_argument('--json', metavar='PATH', help='write the rows here')
    p.add_argument('--plot', metavar='PATH', help='bar chart PNG')
    p.add_argument('--square', type=positive_int, default=2048,
                   help='side of the square product of the limit probe '
                   '(2048)')
    p.add_argument('--quiet', action='store_true', help='no progress bar')
    p.add_argument('--seed', type=int, default=0, help='(0)')
    p.add_argument('--corpus', default='jaychou', metavar='NAME|PATH',
                   help='%s, or a UTF-8 text file of your own' % ' or '.join(
                       sorted(CORPORA)))
    p.add_argument('--data-dir', default=None,
                   help='folder holding the corpus file (searched first)')
    return p


def probe_shapes(runs, datasets, hp=BOOK):
    """The (m, k, n) of every product of the ``runs`` (and of the input
    product over all steps at once, as Gluon's layers compute it)."""
    shapes = set()
    for _, spec, chars in runs:
        for what, m, k, n, _, _ in products(spec, datasets[chars][3],
                                            hp.batch_size, hp.num_steps):
            shapes.add((m, k, n))
            if what == 'input':
                shapes.add((m * hp.num_steps, k, n))
    return shapes


def main(argv=None):
    """Run the benchmark; print the table and return the rows (dicts)."""
    args = parser().parse_args(argv)
    for flag, path in (('--json', args.json), ('--plot', args.plot)):
        if path:
            check_writable(path, flag)
    ctxs = parse_ctx_list(args.ctx)
    if not ctxs:
        raise BadInput('--ctx names no device: use cpu, gpu or cpu,gpu')
    seed_all(args.seed)
    datasets = {chars: load_corpus(args.corpus,
                                   None if chars == 'all' else chars,
                                   args.data_dir)
                for chars in args.corpus_chars}
    runs = [(name, replace(MODELS[name][1], num_hiddens=h), chars)
            for chars in args.corpus_chars for h in args.num_hiddens
            for name in args.models]
    sweep = len(args.corpus_chars) > 1 or len(args.num_hiddens) > 1
    rows, limits = [], {}
    from tqdm import tqdm
    per_run = (args.epochs + 1) * (2 if args.book else 1)
    with tqdm(total=len(ctxs) * len(runs) * per_run, unit='epoch',
              file=sys.stderr, disable=args.quiet or None,
              dynamic_ncols=True, leave=False) as bar:
        for ctx in ctxs:
            bar.set_description('%s: GEMM limit' % ctx)
            limit, probes = gemm_limit(probe_shapes(runs, datasets), ctx,
                                       args.square)
            limits[str(ctx)] = (limit, max(probes, key=probes.get))
            for name, spec, chars in runs:
                bar.set_description('%s %s' % (name, ctx))
                hp = replace(BOOK, num_hiddens=spec.num_hiddens)
                data = datasets[chars]
                book = book_epoch(spec, data, hp, ctx) if args.book \
                    else None
                seconds, book_seconds = time_epochs(
                    ours_epoch(spec, data, hp, ctx, args.fast), book,
                    args.epochs, lambda: bar.update(1))
                rows.append(row(name, spec, ctx, data, hp, chars, args.fast,
                                seconds, book_seconds, limit))
    for ctx, (limit, probe) in limits.items():
        print('%s: limit %.1f GFLOP/s (the best matrix product measured: '
              '%s)' % (ctx, limit, probe))
    print('%d timed epochs each after a warm-up; GFLOP: matrix products '
          'forward and backward; limit: GFLOP/s over the limit; book/us: '
          "the book's median over ours" % args.epochs)
    print(table(rows, sweep))
    if args.json:
        write_text(args.json, json.dumps(rows, indent=1))
        print('rows written to %s' % args.json)
    if args.plot:
        plot(args.plot, rows, sweep)
        print('plot written to %s' % args.plot)
    return rows


if __name__ == '__main__':
    cli.run(main)
