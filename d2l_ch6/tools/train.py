"""Train a character model on your own text: ``python -m d2l_ch6 train
FILE``.

The section commands are the book's experiments with the book's numbers
(the first 10,000 characters, lr 100, one-hot inputs, no held-out text).
This one is for a text of yours, of any size, with settings that suit an
arbitrary text: the held-out recipe of ``heldout`` (an LSTM reading an
embedding, two layers, dropout, Adam, clipping at 1, weights from
U(-1/sqrt(h), 1/sqrt(h)), early stopping), the whole file, its lines
kept (a newline is a character of the vocabulary; ``--flatten-lines``
for the book's spaces), its last ``--valid-frac`` held out.

The file is encoded once into a compact array in the user cache and
memory-mapped on later runs (:mod:`d2l_ch6.core.encode`). Every
``--eval-every`` batches (by default every epoch, at most every 500
batches) it prints the training and held-out loss in bits per character
(the held-out text read as ``--batch-size`` streams, each carrying its
state: see ``core.measure.evaluate_loss``), writes the checkpoint
(``--save``: the best model so far, which ``generate``, ``score`` and
``inspect`` use, and the run's whole state, which ``--resume``
continues) and a short sample. Early stopping and the learning-rate cut
count these evaluations, so a large text is served as a small one is.
``--init-from CKPT`` fine-tunes a trained model on the text.
"""
import math
import os
import sys
import time

from .. import lang_model
from ..core import checkpoint, cli, flags
from ..core.data import UNK, check_batches
from ..core.encode import encode, with_min_freq
from ..core.errors import ArgumentParser, BadInput
from ..core.hyper import Hyper, check_memory
from ..core.models import ModelSpec
from ..core.predict import predict, sampler
from ..core.trainer import Trainer, evaluate_loss, mean
from ..core.corpus import default_prefixes, is_builtin, prefixes_from_text
from .zoo import build_model, draw_uniform

# the flags it shares with the sections and the tools (core/flags.py
# lists their defaults here: the held-out recipe)
SHARED = ('--epochs', '--num-hiddens', '--num-layers', '--cell', '--impl',
          '--embed-size', '--dropout', '--num-steps', '--batch-size',
          '--lr', '--clip', '--optimizer', '--wd', '--patience',
          '--lr-decay', '--valid-frac', '--min-freq', '--pred-len',
          '--prefixes', '--save', '--resume', '--plot', '--quiet', '--seed',
          '--ctx', '--lower')


def parser():
    p = ArgumentParser(
        prog='python -m d2l_ch6 train', description=__doc__.split('\n\n')[0]
        .replace('\n', ' '), epilog=__doc__.split('\n\n', 1)[1])
    p.add_argument('file', metavar='FILE', help='a text file (UTF-8, or '
                   'UTF-16/32 with a BOM, or a .zip of one), or jaychou / '
                   'timemachine')
    for name in SHARED:
        flags.add(p, name, 'train', aliases=('--model',)
                  if name == '--cell' else ())
    p.add_argument('--eval-every', type=flags.positive_int, metavar='N',
                   help='evaluate, checkpoint and sample every N batches '
                   '(default: every epoch, at most every 500 batches)')
    p.add_argument('--eval-chars', type=flags.positive_int, default=100000,
                   metavar='N', help='the evaluations on the way read the '
                   'first N held-out characters; the last reads them all '
                   '(but after --max-batches)')
    p.add_argument('--max-batches', type=flags.positive_int, metavar='N',
                   help='stop after N batches (a smoke run; a way to time '
                   'the start)')
    p.add_argument('--init-from', metavar='CKPT', help='start from this '
                   "checkpoint's model and vocabulary (fine-tuning)")
    p.add_argument('--flatten-lines', action='store_true', help="the "
                   "book's preprocessing: newlines become spaces")
    flags.add(p, '--temperature', 'train')
    p.add_argument('--baseline', action='store_true', help='also score '
                   'the interpolated Kneser-Ney n-grams (orders 1-5, the '
                   'discount chosen on the training part) on the same '
                   'held-out part: what the network should beat (texts up '
                   'to %d characters)' % BASELINE_MAX)
    return p


BASELINE_MAX = 5_000_000  # characters: the n-gram counts are Python's


class TextTrainer(Trainer):
    """The trainer with this command's lines: bits per character, and a
    sampled continuation (seeded) in place of the book's greedy one."""

    def __init__(self, *args, temperature=0.8, **kwargs):
        super().__init__(*args, **kwargs)
        self.temperature = temperature

    def describe(self):
        h = self.history
        line = 'epoch %d, batch %d: train %.3f bits/char' % (
            h.epochs[-1], h.batches[-1], math.log2(h.perplexity[-1]))
        if len(h.valid_perplexity) == len(h.epochs):
            v = h.valid_perplexity[-1]
            line += ', held-out %.3f bits/char (perplexity %.2f)%s' % (
                math.log2(v), v, ' best' if h.best == len(h.epochs) - 1
                else '')
        return line + ', %.1f s' % h.seconds[-1]

    def sample(self, prefix, idx_to_char, char_to_idx):
        pick = sampler(self.temperature, seed=self.batches) \
            if self.temperature else None
        kwargs = dict(pick=pick) if pick else {}
        return predict(self.model, prefix, self.hp.pred_len, idx_to_char,
                       char_to_idx, **kwargs)


def main(argv=None):
    args = parser().parse_args(argv)
    if args.impl == 'both':
        raise BadInput('train makes one model: give --impl gluon or --impl '
                       'scratch')
    if args.save is None and args.resume is None:  # a model to use after
        stem = os.path.splitext(os.path.basename(args.file))[0] or 'model'
        args.save = stem + '.params'
    elif args.save is None:
        args.save = args.resume
    cli.check_outputs([('--save', args.save), ('--plot', args.plot)],
                      _Inputs(args))
    ctx = cli.setup(args)
    start = time.time()
    base = checkpoint.load(args.resume or args.init_from) \
        if args.resume or args.init_from else None
    text = encode(args.file, bool(args.lower), not args.flatten_lines,
                  vocab=base.idx_to_char if base else None, log=print)
    n_valid = int(round(len(text) * args.valid_frac))
    if args.valid_frac and n_valid < 2:
        raise BadInput('--valid-frac %g holds out %d of the %d characters: '
                       'a held-out text needs at least 2' % (
                           args.valid_frac, n_valid, len(text)))
    cut = len(text) - n_valid
    if args.min_freq and not base:
        text = with_min_freq(text, args.min_freq, cut, log=print)
    idx_to_char, char_to_idx = text.idx_to_char, text.char_to_idx
    train, valid = text.indices[:cut], text.indices[cut:] if n_valid else None
    hp = _hyper(args, train, idx_to_char)
    check_batches(len(train) - hp.num_steps + 1, hp.batch_size,
                  hp.num_steps, False, 'lower --batch-size or --num-steps, '
                  'or give a longer text')
    spec = base.spec if base else ModelSpec(
        args.impl, args.cell, args.num_hiddens, args.num_layers,
        dropout=args.dropout, embed_size=args.embed_size)
    check_memory(spec.num_hiddens, len(idx_to_char), hp.batch_size,
                 hp.num_steps, spec.num_layers, spec.embed_size)
    model = build_model(spec, len(idx_to_char), ctx, fast=True)
    per_epoch = (len(train) - hp.num_steps) // hp.batch_size // hp.num_steps
    trainer = TextTrainer(
        model, hp, ctx=ctx, random_offset=True, seed=args.seed,
        eval_every=args.eval_every or max(1, min(per_epoch, 500)),
        progress=not args.quiet and sys.stderr.isatty(),
        temperature=args.temperature)
    print('%s: %d characters (%d held out), %d in the vocabulary%s; %s '
          '(%s)' % (text.path, len(text), n_valid, len(idx_to_char),
                    '' if args.flatten_lines else ', lines kept',
                    spec.describe(), ctx))
    if args.resume:
        checkpoint.check_compatible(base, spec, idx_to_char)
        cli.resume_from(trainer, base)
        model.prepare(initialize=False)
        print('resuming %s at epoch %d, batch %d' % (
            args.resume, trainer.epoch + 1, trainer.batches))
    elif base:  # fine-tuning: its weights, a new run
        model.load_state_dict(base.best_arrays)
        model.prepare(initialize=False)
        print('starting from %s (%s)' % (args.init_from,
                                        base.spec.describe()))
    else:
        draw_uniform(model)
    meta = dict(corpus=os.path.abspath(text.path), sha256=text.sha256,
                num_chars=None, lower=bool(args.lower),
                keep_newlines=not args.flatten_lines,
                valid_frac=args.valid_frac, min_freq=args.min_freq,
                is_random_iter=False, random_offset=True)
    first = []

    def on_batch(t, l, tokens):
        if not first:
            first.append(time.time() - start)
            print('first batch %.1f s after the start' % first[0])

    def on_record(t):
        checkpoint.save(args.save, model, idx_to_char, hp, t, **meta)

    eval_part = valid[:args.eval_chars] if valid is not None else None
    try:
        trainer.fit(train, idx_to_char, char_to_idx,
                    valid_indices=eval_part, valid_batch_size=hp.batch_size,
                    on_record=on_record, on_batch=on_batch,
                    max_batches=args.max_batches)
        trainer.record()  # --max-batches: what it trained, evaluated, saved
    except KeyboardInterrupt:
        if trainer.history.epochs:
            print('stopped: %s holds the run up to batch %d; continue with '
                  '--resume %s' % (args.save, trainer.history.batches[-1],
                                   args.save), file=sys.stderr)
        raise
    _final(trainer, valid, args, hp, ctx)
    if args.baseline:
        trainer.baseline = baseline(train, valid, len(idx_to_char))
    if args.plot:
        cli.plot(cli.Options(plot=args.plot), {spec.describe():
                                               trainer.history}, text.path)
    print('model written to %s: python -m d2l_ch6 generate %s'
          % (args.save, args.save))
    return trainer


class _Inputs:
    """What check_outputs reads: the files this run reads."""

    def __init__(self, args):
        self.corpus = None if is_builtin(args.file) else args.file
        self.resume = args.resume or args.init_from


def _hyper(args, train, idx_to_char):
    """The Hyper of ``args``; the prefixes from the text's start."""
    if args.prefixes:
        prefixes = tuple(p.replace('\\n', '\n') for p in args.prefixes)
    elif is_builtin(args.file):  # the book's 分开 for the lyrics
        prefixes = default_prefixes(args.file)[:1]
    else:
        head = ''.join(idx_to_char[i] for i in train[:100000])
        prefixes = prefixes_from_text(head.replace(UNK, ' '), k=1)
    return Hyper(args.num_hiddens, args.num_epochs, args.num_steps,
                 args.batch_size, args.lr, args.clipping_theta or None,
                 pred_period=1, pred_len=args.pred_len, prefixes=prefixes,
                 optimizer=args.optimizer, wd=args.wd,
                 patience=args.patience, lr_decay=args.lr_decay)


def baseline(train, valid, vocab_size, log=print):
    """Bits per character of the best interpolated Kneser-Ney n-gram (6.1)
    on ``valid``, counted on ``train``: {order: bits}."""
    if valid is None or len(valid) < 2:
        raise BadInput('--baseline scores the held-out part: give '
                       '--valid-frac')
    if len(train) + len(valid) > BASELINE_MAX:
        raise BadInput('--baseline counts n-grams in Python: at most %d '
                       'characters' % BASELINE_MAX)
    train, valid = [int(i) for i in train], [int(i) for i in valid]
    bits = {}
    for n in range(1, 6):
        d = lang_model.kneser_ney_discount(train, n, vocab_size)
        ppl = lang_model.kneser_ney_heldout(train, valid, n, vocab_size, d)
        bits[n] = math.log2(ppl)
        log('Kneser-Ney %d-gram (D=%g): %.3f bits/char on the same held-out '
            'part' % (n, d, bits[n]))
    return bits


def _final(trainer, valid, args, hp, ctx):
    """The best model on the whole held-out part (batched), in nats and
    bits per character."""
    if valid is None or len(valid) < 2:
        return
    if trainer.best_arrays is not None:
        trainer.model.load_state_dict(trainer.best_arrays)
    if args.max_batches and len(valid) > args.eval_chars:
        # a smoke run: not minutes of scoring a large held-out part
        print('--max-batches: the held-out figure reads the first %d of '
              'its %d characters' % (args.eval_chars, len(valid)))
        valid = valid[:args.eval_chars]
    l_sum, n = evaluate_loss(trainer.model, valid, hp.num_steps, ctx,
                             hp.batch_size)
    loss = mean(l_sum, n)
    print('held-out (%d characters): %.4f nats/char, %.3f bits/char, '
          'perplexity %.3f' % (len(valid), loss, loss / math.log(2),
                               math.exp(loss)))
    trainer.final = dict(loss=loss, bits=loss / math.log(2),
                         perplexity=math.exp(loss), chars=len(valid))


if __name__ == '__main__':
    cli.run(main)
