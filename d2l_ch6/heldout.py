"""Held-out perplexity of every model of the chapter on the same text.

The book reports training perplexity only, which a model that memorises
10,000 characters drives toward 1. Here the last ``--valid-frac`` of the
corpus is held out: 6.1's add-k n-gram models and the scratch and Gluon
RNN, GRU and LSTM are all trained on the rest with the book's settings and
scored on the same held-out characters (tokens 1..n-1 of the held-out text,
each read with the characters before it). ``python -m d2l_ch6 heldout``
prints a Markdown table (the README's comparison).
"""
import sys
import time
from dataclasses import replace

from . import cli, lang_model
from .data import split_corpus
from .models import ModelSpec
from .train import BOOK, BOOK_GATED, fit, seed_all
from .zoo import build_model

# (label, spec, the book's schedule for that section)
MODELS = [
    ('RNN, scratch (6.4, tanh)', ModelSpec('scratch', 'rnn'), BOOK),
    ('RNN, Gluon (6.5, relu)', ModelSpec('gluon', 'rnn', activation='relu'),
     BOOK),
    ('GRU, scratch (6.7)', ModelSpec('scratch', 'gru'), BOOK_GATED),
    ('GRU, Gluon (6.7)', ModelSpec('gluon', 'gru'), BOOK_GATED),
    ('LSTM, scratch (6.8)', ModelSpec('scratch', 'lstm'), BOOK_GATED),
    ('LSTM, Gluon (6.8)', ModelSpec('gluon', 'lstm'), BOOK_GATED),
]


def ngram_rows(corpus_indices, vocab_size, valid_frac, max_n=4,
               ks=lang_model.SMOOTHING_KS):
    """[(label, perplexity)] of add-k n-gram models (k picked on the held-out
    text itself: an optimistic baseline)."""
    train, valid = split_corpus(corpus_indices, valid_frac)
    rows = []
    for n in range(1, max_n + 1):
        ppl = {k: lang_model.heldout_perplexity(train, valid, n, k,
                                                vocab_size) for k in ks}
        k = min(ppl, key=ppl.get)
        rows.append(('%d-gram, add-k (k=%g) (6.1)' % (n, k), ppl[k]))
    return rows


def main(argv=None):
    p = cli.parser('heldout', __doc__, train=False)
    p.add_argument('--valid-frac', type=float, default=0.1,
                   help='the last fraction of the corpus held out')
    p.add_argument('--models', nargs='+', type=int, default=None,
                   choices=range(len(MODELS)), metavar='I',
                   help='indices into the model list (default: all): %s'
                   % ', '.join('%d %s' % (i, m[0])
                               for i, m in enumerate(MODELS)))
    p.add_argument('--quiet', action='store_true', help='no progress bar')
    args = p.parse_args(argv)
    ctx = cli.setup(args)
    data = cli.load(args)
    corpus_indices, char_to_idx, idx_to_char, vocab_size = data
    prefixes = cli.prefixes(args, data)
    train, valid = split_corpus(corpus_indices, args.valid_frac)
    print('training on %d characters, held out: the last %d (%s)'
          % (len(train), len(valid), ctx))
    rows = [(label, None, ppl, None, None) for label, ppl in
            ngram_rows(corpus_indices, vocab_size, args.valid_frac)]
    chosen = [MODELS[i] for i in args.models] if args.models else MODELS
    for label, spec, hp in chosen:
        # D2L_CH6_QUICK: a handful of epochs
        hp = replace(cli.book_hyper(hp), prefixes=prefixes)
        print('%s: %d epochs' % (label, hp.num_epochs))
        # the scratch models on the fast path: the same numbers, sooner
        model = build_model(spec, vocab_size, ctx, fast=True)
        if hasattr(model, 'prepare'):
            model.prepare()
        seed_all(args.seed)
        start = time.time()
        h = fit(model, train, idx_to_char, char_to_idx, hp, ctx=ctx,
                valid_indices=valid, log=lambda *a: None, report_last=False,
                progress=not args.quiet and sys.stderr.isatty())
        best = min(range(len(h.epochs)), key=h.valid_perplexity.__getitem__)
        rows.append((label, h.perplexity[-1], h.valid_perplexity[-1],
                     (h.valid_perplexity[best], h.epochs[best]),
                     time.time() - start))
        print('  train %.2f, held-out %.1f (best %.1f at epoch %d)'
              % (h.perplexity[-1], h.valid_perplexity[-1],
                 h.valid_perplexity[best], h.epochs[best]))
    print()
    print('| model | training perplexity | held-out perplexity, last epoch '
          '| best held-out (epoch) | time |')
    print('|---|---|---|---|---|')
    for label, train_ppl, last, best, seconds in rows:
        print('| %s | %s | %.1f | %s | %s |' % (
            label, '—' if train_ppl is None else '%.2f' % train_ppl, last,
            '—' if best is None else '%.1f (%d)' % best,
            '—' if seconds is None else '%.0f s' % seconds))
    return rows


if __name__ == '__main__':
    cli.run(main)
