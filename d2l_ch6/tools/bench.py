"""The benchmark: every model of chapter 6 timed against the book's own
routine, against PyTorch and against the limits of the machine.

    python -m d2l_ch6 bench --ctx cpu          (gpu; --sweep-ctx cpu,gpu)
    python -m d2l_ch6 bench --ctx cpu --peer torch --json b.json --plot b.png
    python -m d2l_ch6 bench --models rnn-scratch,rnn-gluon --timed-epochs 5

Each model (RNN, GRU, LSTM from scratch and in Gluon; the deep, 2-layer, and
the bidirectional RNN of 6.9/6.10) trains with the book's settings: consecutive
sampling, batch 32, 35 steps, lr 100, clipping 0.01, 256 hidden units, the
first 10,000 characters of the Jay Chou lyrics; in their fast forms
(``core/fast.py``, ``core/fast_gluon.py``: the same numbers; ``--no-fast``: the
sections' one-hot cells and the book's RNNModel around the fused Gluon layer).
After one warm-up epoch, ``--timed-epochs`` are timed, each by the wall clock
around one call of the routine (num_epochs=1); the median counts.

Where d2lzh is installed, the book's own routine (``train_and_predict_rnn``
with the book-form cells, ``train_and_predict_rnn_gluon`` with the book's
``RNNModel`` around the same Gluon layer) runs the same model in the same
process, its epochs interleaved with ours so that a busy machine slows
both alike: ``book/us``. (Each call of the book's Gluon routine also
redraws its weights: 2-3% of its epoch here.)

``--peer torch`` runs the same model in PyTorch
(``d2l_ch6/tools/peer_torch.py``) right after ours, in a process of its own,
from the very same initial weights, on the same corpus and vocabulary, with the
same clipping, plain sgd and number of threads: ``torch/us`` is its median
seconds per epoch over ours. Without torch, one line says so and the benchmark
runs on.

The work and the two limits (the best square product, and each product
at the best throughput of its own shape) are explained in
:mod:`d2l_ch6.tools.work`. ``--sweep-num-chars 10000,20000,all`` and
``--sweep-num-hiddens 128,256,512`` run the models at each size, to show the
time per epoch following the work.
"""
import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import time
from dataclasses import replace
from functools import partial

from mxnet import nd

from ..core import cli, env, flags
from ..core.files import write_text
from .bench_report import markdown, phase_table, plot, table
from ..core.data import (check_batches, load_corpus,
                         num_batches)
from ..core.device import parse_ctx, parse_ctx_list
from ..core.errors import ArgumentParser, BadInput
from ..core.models import ModelSpec
from .peer import Peer, peer_version, threads
from ..core.hyper import BOOK, check_memory, seed_all
from ..core.trainer import Trainer, fit
from .work import Limits, flops, gathers, products
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



def model_name(spec):
    """'rnn', 'gru', 'lstm', 'deep-rnn' (2 layers), 'bi-rnn', ..."""
    return ('bi-' if spec.bidirectional else '') + (
        'deep-' if spec.num_layers > 1 else '') + spec.cell


# -- the timing ---------------------------------------------------------------

def fresh_model(spec, vocab_size, hp, ctx, fast):
    """A model as training starts it: a Gluon one initialised (a first
    batch ends Gluon's deferred initialisation: the weights are drawn now,
    as the first training batch would have drawn them)."""
    model = build_model(spec, vocab_size, ctx, fast=fast)
    if spec.impl == 'gluon':
        model.prepare()
        model(nd.zeros((hp.batch_size, hp.num_steps), ctx=ctx),
              model.begin_state(hp.batch_size))
    return model


def peer_weights(model):
    """The weights of ``model`` as numpy arrays, named as the peer reads
    them: a Gluon model's by its layer's own names (rnn.l0_i2h_weight,
    dense.weight), a scratch model's in the sections' layout."""
    if model.spec.impl == 'gluon':
        block, ctx = model.block, model.ctx
        weights = {'rnn.' + k: p.data(ctx).asnumpy()
                   for k, p in block.rnn._reg_params.items()}
        weights.update({'dense.' + k: p.data(ctx).asnumpy()
                        for k, p in block.dense._reg_params.items()})
        return weights
    return {k: v.asnumpy() for k, v in model.state_dict().items()}


def epoch_runner(model, data, hp, ctx):
    """A function running one epoch of our ``fit`` on ``model``."""
    corpus_indices, char_to_idx, idx_to_char, _ = data
    one = replace(hp, num_epochs=1, pred_period=2)  # no predictions
    return lambda: fit(model, corpus_indices, idx_to_char, char_to_idx,
                       one, ctx=ctx, report_last=False)


def phase_epoch(model, data, hp, ctx):
    """One epoch of the trainer on ``model``, the host waiting after each
    part of every batch: {'model': forward, loss and backward, 'clip',
    'update', 'rest': the sampler, the state and the epoch's end; 'epoch':
    the whole} in seconds. The waits serialise what the engine may
    overlap, so the parts add up to a little more than an epoch."""
    clock = time.perf_counter
    phases = dict(rest=0.0, model=0.0, clip=0.0, update=0.0)
    last = []

    def pause(part):  # the part just queued: wait for it, time it
        nd.waitall()
        now = clock()
        phases[part] += now - last[-1]
        last.append(now)

    trainer = Trainer(model, replace(hp, num_epochs=1, pred_period=2),
                      ctx=ctx, log=lambda *a: None,
                      step_options=dict(pause=pause))
    last.append(clock())
    trainer.fit(data[0], report_last=False)
    measured = sum(phases.values())
    phases['epoch'] = clock() - last[0]
    phases['rest'] += phases['epoch'] - measured  # the epoch's end
    return phases


def ours_epoch(spec, data, hp, ctx, fast):
    """(a function running one epoch of our ``fit`` on a fresh model, the
    model's initial weights for the peer, the model)."""
    model = fresh_model(spec, data[3], hp, ctx, fast)
    return epoch_runner(model, data, hp, ctx), peer_weights(model), model


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
        net = d2lzh.RNNModel(model.block.rnn, vocab_size)

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


def time_epochs(runs, epochs, tick=lambda: None):
    """One warm-up epoch of each of ``runs`` ({name: a function running one
    epoch and returning its seconds}), then ``epochs`` rounds of one timed
    epoch each, in turn. Returns {name: [seconds]}."""
    for run in runs.values():
        run()
        tick()
    seconds = {name: [] for name in runs}
    for _ in range(epochs):
        for name, run in runs.items():
            seconds[name].append(run())
            tick()
    return seconds


# -- the rows -----------------------------------------------------------------

def engine_settings():
    """How mxnet runs in this process: its engine, OpenMP threads, worker
    threads (the threaded engines) and bulk sizes (d2l_ch6/core/env.py)."""
    var = os.environ
    return dict(engine=env.engine(),
                omp_threads=int(var['OMP_NUM_THREADS']),
                cpu_worker_threads=int(var.get('MXNET_CPU_WORKER_NTHREADS',
                                               1)),
                bulk_fwd=int(var['MXNET_EXEC_BULK_EXEC_MAX_NODE_TRAIN_FWD']),
                bulk_bwd=int(var['MXNET_EXEC_BULK_EXEC_MAX_NODE_TRAIN_BWD']))

def row(name, spec, ctx, data, hp, corpus_chars, fast, seconds,
        book_seconds, limits, peer=None):
    """One result: the JSON object of a model on a device."""
    corpus_indices, _, _, vocab_size = data
    batches = num_batches(len(corpus_indices), hp.batch_size, hp.num_steps,
                          False)
    tokens = batches * hp.batch_size * hp.num_steps
    prods = products(spec, vocab_size, hp.batch_size, hp.num_steps, fast)
    gflop = batches * flops(prods) / 1e9
    shape_seconds = batches * limits.batch_seconds(prods, gathers(
        spec, vocab_size, hp.batch_size, hp.num_steps, fast))
    sec = statistics.median(seconds)
    r = dict(model=model_name(spec), impl=spec.impl, ctx=str(ctx),
             name=name, fast=fast, num_hiddens=spec.num_hiddens,
             corpus_chars=corpus_chars, vocab_size=vocab_size,
             batches_per_epoch=batches, tokens_per_epoch=tokens,
             epochs=len(seconds), seconds=seconds,
             sec_per_epoch=sec, sec_min=min(seconds), sec_max=max(seconds),
             tokens_per_sec=tokens / sec, gflop_per_epoch=gflop,
             gflops=gflop / sec, limit_gflops=limits.square,
             limit_fraction=gflop / sec / limits.square,
             shape_limit_seconds=shape_seconds,
             shape_fraction=shape_seconds / sec,
             book_sec_per_epoch=None, book_sec_min=None, book_sec_max=None,
             book_seconds=None, book_gflop_per_epoch=None,
             book_limit_fraction=None, speedup_vs_book=None,
             peer=None, peer_sec_per_epoch=None, peer_seconds=None,
             peer_perplexity=None, speedup_vs_peer=None,
             mxnet=engine_settings())
    if book_seconds:
        book_sec = statistics.median(book_seconds)
        book_gflop = batches * flops(products(
            spec, vocab_size, hp.batch_size, hp.num_steps)) / 1e9
        r.update(book_sec_per_epoch=book_sec,
                 book_sec_min=min(book_seconds),
                 book_sec_max=max(book_seconds), book_seconds=book_seconds,
                 book_gflop_per_epoch=book_gflop,
                 book_limit_fraction=book_gflop / book_sec / limits.square,
                 speedup_vs_book=book_sec / sec)
    if peer:
        peer_sec = statistics.median(peer['seconds'])
        r.update(peer='torch %s' % peer['torch'],
                 peer_sec_per_epoch=peer_sec, peer_seconds=peer['seconds'],
                 peer_perplexity=peer['perplexity'],
                 speedup_vs_peer=peer_sec / sec)
    return r


# -- the command --------------------------------------------------------------

def _list(convert):
    def parse(text):
        try:
            return [convert(t.strip()) for t in text.split(',') if t.strip()]
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return parse


def _chars(text):
    return 'all' if text == 'all' else flags.positive_int(text)


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
    p = ArgumentParser(prog='python -m d2l_ch6 bench',
                                description=' '.join(first.split()))
    flags.add(p, '--ctx', 'bench')
    p.add_argument('--sweep-ctx', type=parse_ctx_list, default=None,
                   metavar='CTX,CTX', help='instead of --ctx, run on each '
                   'of these devices (e.g. cpu,gpu)')
    p.add_argument('--timed-epochs', type=flags.positive_int, default=3,
                   help='timed epochs after one warm-up epoch (3)')
    p.add_argument('--models', type=_models, default='all',
                   help='comma-separated, of: %s (default all)'
                   % ','.join(MODELS))
    p.add_argument('--sweep-num-chars', dest='corpus_chars',
                   type=_list(_chars), default='10000', metavar='N,N',
                   help="characters of the corpus, one run per value (e.g. "
                   "10000,20000,all; default 10000, the book's)")
    p.add_argument('--sweep-num-hiddens', dest='num_hiddens',
                   type=_list(flags.positive_int),
                   default=str(BOOK.num_hiddens), metavar='N,N',
                   help='hidden units, one run per value (e.g. 128,256,512; '
                   "default %d, the book's)" % BOOK.num_hiddens)
    p.add_argument('--no-fast', dest='fast', action='store_false',
                   help="the sections' forms: the scratch cells on one-hot "
                   "inputs, the Gluon layers in the book's RNNModel "
                   '(default: their fast forms, core/fast.py and '
                   'core/fast_gluon.py, the same numbers)')
    p.add_argument('--no-book', dest='book', action='store_false',
                   help="do not time the book's routine (d2lzh)")
    p.add_argument('--peer', choices=['torch'], default=None,
                   help='time the same models in PyTorch too')
    p.add_argument('--phases', action='store_true',
                   help='then one more epoch each (and the peer\'s) timed '
                   'part by part: forward and backward, clipping, update')
    for name in ('--json', '--plot'):
        flags.add(p, name, 'bench')
    p.add_argument('--square', type=flags.positive_int, default=2048,
                   help='side of the square product of the limit probe '
                   '(2048)')
    for name in ('--quiet', '--seed', '--corpus', '--data-dir'):
        flags.add(p, name, 'bench')
    for name in ('--report', '--rows'):
        flags.add(p, name, 'bench')
    return p


def main(argv=None):
    """Run the benchmark (or read an earlier run's rows); print the table,
    write what is asked and return the rows (dicts)."""
    args = parser().parse_args(argv)
    cli.check_outputs([('--json', args.json), ('--plot', args.plot),
                       ('--report', args.report)], args)
    if args.rows:
        with open(args.rows, encoding='utf-8') as f:
            rows = json.load(f)
        sweep = len({(r['corpus_chars'], r['num_hiddens'])
                     for r in rows}) > 1
    else:
        rows, sweep = measure(args)
    if args.json:
        write_text(args.json, json.dumps(rows, indent=1))
        print('rows written to %s' % args.json)
    if args.plot:
        plot(args.plot, rows, sweep)
        print('plot written to %s' % args.plot)
    if args.report:
        write_text(args.report, markdown(
            rows, ' '.join(['python -m d2l_ch6 bench'] + list(argv or [])),
            machine()))
        print('report written to %s' % args.report)
    return rows


def machine():
    """'the 2-core AMD EPYC (Linux ...)': where it ran."""
    import platform
    model = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            model = next(line.split(':', 1)[1].strip() for line in f
                         if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    return 'Measured on %d core(s) of %s, %s, mxnet %s.' % (
        len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity')
        else os.cpu_count(), model, platform.platform(terse=True),
        __import__('mxnet').__version__)


def measure(args):
    """Time the models ``args`` ask for; print the table. (rows, sweep)"""
    ctxs = args.sweep_ctx or [parse_ctx(args.ctx)]
    if not ctxs:
        raise BadInput('--sweep-ctx names no device: use cpu, gpu or '
                       'cpu,gpu')
    peer = args.peer and peer_version()
    if args.peer and not peer:
        print('PyTorch is not installed here (pip install torch): the '
              'benchmark runs without its peer')
    seed_all(args.seed)
    datasets = {chars: load_corpus(args.corpus,
                                   None if chars == 'all' else chars,
                                   args.data_dir)
                for chars in args.corpus_chars}
    for data in datasets.values():  # the book's batches, before work
        check_batches(len(data[0]), BOOK.batch_size, BOOK.num_steps, False,
                      'give a longer text (a larger --sweep-num-chars, or '
                      'another --corpus)')
        for h in args.num_hiddens:
            check_memory(h, data[3], BOOK.batch_size, BOOK.num_steps, 2)
    runs = [(name, replace(MODELS[name][1], num_hiddens=h), chars)
            for chars in args.corpus_chars for h in args.num_hiddens
            for name in args.models]
    sweep = len(args.corpus_chars) > 1 or len(args.num_hiddens) > 1
    rows, limits = [], {}
    from tqdm import tqdm
    per_run = (args.timed_epochs + 1) * (1 + bool(args.book) + bool(peer))
    with tqdm(total=len(ctxs) * len(runs) * per_run, unit='epoch',
              file=sys.stderr, disable=args.quiet or None,
              dynamic_ncols=True, leave=False) as bar:
        for ctx in ctxs:
            bar.set_description('%s: the square limit' % ctx)
            limits[str(ctx)] = Limits(ctx, args.square)
            for name, spec, chars in runs:
                bar.set_description('%s %s' % (name, ctx))
                hp = replace(BOOK, num_hiddens=spec.num_hiddens)
                data = datasets[chars]
                seed_all(args.seed)  # every model from the same seed
                book = book_epoch(spec, data, hp, ctx) if args.book \
                    else None
                ours, weights, model = ours_epoch(spec, data, hp, ctx,
                                                  args.fast)
                runs = {'ours': partial(timed, ours)}
                if book is not None:
                    runs['book'] = partial(timed, book)
                with contextlib.ExitStack() as stack:
                    if peer and ctx.device_type == 'cpu':
                        twin = stack.enter_context(
                            Peer(spec, data, hp, weights))
                        runs['peer'] = twin.epoch
                    seconds = time_epochs(runs, args.timed_epochs,
                                          lambda: bar.update(1))
                    peer_result = None if 'peer' not in runs else dict(
                        seconds=seconds['peer'], torch=peer,
                        perplexity=twin.perplexity)
                    if args.phases:
                        phases = dict(ours=phase_epoch(model, data, hp, ctx))
                        if 'peer' in runs:
                            phases['peer'] = twin.phases()
                rows.append(row(name, spec, ctx, data, hp, chars, args.fast,
                                seconds['ours'], seconds.get('book'),
                                limits[str(ctx)], peer_result))
                if args.phases:
                    rows[-1].update(phases=phases['ours'],
                                    peer_phases=phases.get('peer'))
    for ctx, limit in limits.items():
        print('%s: square limit %.1f GFLOP/s (the best large product: %s)'
              % (ctx, limit.square, limit.square_probe))
    print('mxnet: %(engine)s, %(omp_threads)d OpenMP threads, '
          '%(cpu_worker_threads)d CPU worker thread(s) (threaded engines '
          'only), bulks of %(bulk_fwd)d/%(bulk_bwd)d operators'
          % engine_settings())
    print('%d timed epochs each after a warm-up; GFLOP: matrix products '
          'forward and backward; square: GFLOP/s over the square limit; '
          'shapes: the time its products need at the best throughput of '
          "their shapes, over its time; book/us, torch/us: their median "
          'over ours%s' % (args.timed_epochs, '' if not peer else ' (%s, %d '
                           'threads)' % ('torch ' + peer, threads())))
    print(table(rows, sweep))
    if args.phases:
        print()
        print(phase_table(rows, sweep))
    return rows, sweep


if __name__ == '__main__':
    cli.run(main)
