"""Held-out perplexity: do the chapter's networks generalize, and what
makes them?

The book reports training perplexity only, which a network that memorises
its text drives toward 1. Here the last ``--valid-frac`` of each corpus is
held out, and everything is trained on the rest and scored on the same
held-out characters (tokens 1..n-1 of the held-out text):

* n-gram models: 6.1's add-k (orders 1-4; k picked on the held-out text
  itself, an optimistic baseline) and interpolated Kneser-Ney (orders 1-5;
  the discount chosen on the training part);
* the RNN, GRU and LSTM, scratch (the fast form) and Gluon, under two
  recipes. ``book``: each section's model and hyper-parameters, for the
  book's number of updates (its epochs on 10,000 characters). ``regularized``
  (beyond the book): an embedding, dropout, Adam, clipping at norm 1, the
  learning rate cut on a plateau and early stopping, the model's size per
  corpus (:data:`RECIPES`), all chosen or read on a validation split
  carved from the training part (the last
  ``--valid-frac`` of it); the held-out text is never looked at to choose
  anything.

The vocabulary has an ``<unk>`` token for the characters seen fewer than
``--min-freq`` times in the training part, so every held-out character is
scored. ``--tune`` runs the small search that chose the recipe (on the
validation split only); ``--ablations`` trains the best network without
each tool.
"""
import argparse
import sys
import time
from dataclasses import asdict, dataclass, replace
from typing import Optional

from ..core import cli, flags
from .. import lang_model
from ..core.files import write_text
from . import heldout_report as report
from ..core.corpus import default_prefixes, is_builtin
from ..core.data import check_batches, load_corpus, num_batches, split_corpus
from ..core.models import ModelSpec
from ..core.trainer import (BOOK, BOOK_GATED, Hyper, Trainer,
                            evaluate_perplexity, fit, seed_all)
from .zoo import build_model, draw_uniform

BOOK_RUNS = [('rnn', 'RNN', BOOK), ('gru', 'GRU', BOOK_GATED),
             ('lstm', 'LSTM', BOOK_GATED)]  # with the book's schedule of each
NETWORKS = ['%s-%s' % (cell, impl) for cell, _, _ in BOOK_RUNS
            for impl in ('scratch', 'gluon')]


@dataclass(frozen=True)
class Recipe:
    """The regularized recipe: the model beyond the book's (an embedding,
    layers, dropout) and how it is trained."""
    num_layers: int = 2
    embed_size: int = 64
    num_hiddens: int = 256
    dropout: float = 0.3
    lr: float = 2e-3  # Adam
    wd: float = 0.0
    clipping_theta: float = 1.0
    num_epochs: int = 40  # at most: early stopping ends it
    patience: Optional[int] = 3
    lr_decay: Optional[float] = 0.5
    batch_size: int = 32
    num_steps: int = 35
    # 'uniform': zoo.draw_uniform; 'normal': the book's N(0, 0.01^2)
    init: str = 'uniform'

    def spec(self, cell, impl):
        return ModelSpec(impl, cell, self.num_hiddens, self.num_layers,
                         dropout=self.dropout, embed_size=self.embed_size)

    def hyper(self, prefixes):
        return Hyper(self.num_hiddens, self.num_epochs, self.num_steps,
                     self.batch_size, self.lr, self.clipping_theta,
                     pred_period=self.num_epochs, prefixes=prefixes,
                     optimizer='adam', wd=self.wd, patience=self.patience,
                     lr_decay=self.lr_decay)


# chosen per corpus on the validation split (`heldout --tune`; the search
# and its numbers are in the README); a file of your own gets the default.
# The lyrics (2,065 characters, most seen a few times) overfit a 2-layer
# 256-unit LSTM from the first epochs: a smaller, more dropped-out one
# did best.
RECIPES = {'jaychou': Recipe(num_layers=1, num_hiddens=128, dropout=0.5,
                             lr=1e-2),
           'timemachine': Recipe()}

# each tool taken away from the recipe in turn (--ablations)
ABLATIONS = {
    'no dropout': dict(dropout=0.0),
    'no early stopping': dict(patience=None, lr_decay=None),
}


def ngram_rows(train, heldout, vocab_size, ks=lang_model.SMOOTHING_KS,
               max_add_k=4, max_kn=5):
    """Rows of the add-k n-gram models (k picked on ``heldout`` itself:
    optimistic) and the interpolated Kneser-Ney ones (the discount chosen
    on ``train`` only)."""
    rows = []
    for n in range(1, max_add_k + 1):
        start = time.time()
        ppl = {k: lang_model.heldout_perplexity(train, heldout, n, k,
                                                vocab_size) for k in ks}
        k = min(ppl, key=ppl.get)
        model = lang_model.NGramModel(train, n, k, vocab_size)
        rows.append(dict(
            model='%d-gram, add-k (k=%g, picked on the held-out text)'
            % (n, k), kind='ngram', recipe='add-k', order=n, k=k,
            train_perplexity=model.perplexity(list(train)),
            heldout_perplexity=ppl[k], seconds=time.time() - start))
    for n in range(1, max_kn + 1):
        start = time.time()
        d = lang_model.kneser_ney_discount(train, n, vocab_size)
        model = lang_model.KneserNeyModel(train, n, d, vocab_size)
        rows.append(dict(
            model='%d-gram, Kneser-Ney (D=%g)' % (n, d), kind='ngram',
            recipe='kneser-ney', order=n, discount=d,
            train_perplexity=model.perplexity(list(train)),
            heldout_perplexity=lang_model._score_heldout(model, train,
                                                         heldout),
            seconds=time.time() - start))
    return rows


def book_schedule(hp, train_len, valid_frac):
    """``hp`` with as many epochs as give the book's number of updates:
    its epochs times its batches per epoch of 10,000 characters (less
    the held-out part); on 10,000 characters, the book's epochs."""
    book = num_batches(int(round(10000 * (1 - valid_frac))), hp.batch_size,
                       hp.num_steps, False)
    ours = num_batches(train_len, hp.batch_size, hp.num_steps, False)
    epochs = max(1, int(round(hp.num_epochs * book / max(ours, 1))))
    return replace(hp, num_epochs=epochs, pred_period=epochs)


def train_network(label, spec, hp, data, train, valid, heldout, ctx, args,
                  random_offset=False, init='normal'):
    """Train one network on ``train`` (early stopping and lr cuts read
    ``valid``, which may be ``heldout`` itself when nothing is chosen on
    it); return its row, the held-out perplexity after every epoch in
    ``curve``."""
    _, char_to_idx, idx_to_char, vocab_size = data
    seed_all(args.seed)
    model = _started(build_model(spec, vocab_size, ctx, fast=True), init)
    curve = []

    def on_record(trainer):  # recorded for the plot, never read
        curve.append(trainer.history.valid_perplexity[-1] if valid is heldout
                     else evaluate_perplexity(model, heldout, hp.num_steps,
                                              ctx))

    start = time.time()
    trainer = Trainer(model, hp, ctx=ctx, random_offset=random_offset,
                      seed=args.seed, log=lambda *a: None,
                      progress=not args.quiet and sys.stderr.isatty())
    h = trainer.fit(train, idx_to_char, char_to_idx, valid_indices=valid,
                    on_record=on_record, report_last=False)
    wall = time.time() - start
    stopped = hp.patience is not None
    best = h.best_epoch if stopped else h.epochs[-1]
    final = evaluate_perplexity(model, heldout, hp.num_steps, ctx)
    return dict(model=label, kind='network', cell=spec.cell, impl=spec.impl,
                spec=asdict(spec), hyper=_plain(asdict(hp)),
                train_perplexity=h.perplexity[h.epochs.index(best)],
                heldout_perplexity=final, best_epoch=best,
                # training alone; wall: with every evaluation
                epochs=len(h.epochs), seconds=sum(h.seconds),
                wall_seconds=wall,
                train_curve=h.perplexity, heldout_curve=curve,
                valid_curve=None if valid is heldout else h.valid_perplexity)


def _started(model, init):
    """A fresh ``model`` ready to train from ``init``: 'uniform'
    (zoo.draw_uniform) or 'normal', the book's N(0, 0.01^2) (a scratch
    model is built with it; a Gluon one draws it in prepare())."""
    if init == 'uniform':
        return draw_uniform(model)
    return model.prepare()


TOO_SHORT = 'give a longer text (--num-chars all, or a longer file)'


def _plain(d):
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def networks(names, recipe_name, recipe, data, train, heldout, ctx, args,
             label_suffix='', vocab_note=None):
    """Rows of the networks ``names`` under ``recipe_name``."""
    fit_part, valid = split_corpus(train, args.valid_frac)
    prefixes = _prefixes(args)
    rows = []
    for cell, Cell, book_hp in BOOK_RUNS:
        for impl in ('scratch', 'gluon'):
            if '%s-%s' % (cell, impl) not in names:
                continue
            label = '%s, %s%s' % (Cell, 'Gluon' if impl == 'gluon' else
                                  'scratch', label_suffix)
            if recipe_name == 'book':
                spec = ModelSpec(impl, cell, activation='relu'
                                 if impl == 'gluon' else 'tanh')
                hp = book_schedule(replace(cli.book_hyper(book_hp),
                                           prefixes=prefixes),
                                   len(train), args.valid_frac)
                check_batches(len(train), hp.batch_size, hp.num_steps, False,
                              TOO_SHORT)
                row = train_network(label, spec, hp, data, train, heldout,
                                    heldout, ctx, args)
                v = row['heldout_curve']  # looked at, so only reported
                row['best_heldout'] = min(v)
                row['best_heldout_epoch'] = v.index(min(v)) + 1
            else:
                hp = _capped(recipe.hyper(prefixes), args, 3)
                # its random offset drops up to num_steps - 1 tokens
                check_batches(len(fit_part) - hp.num_steps + 1,
                              hp.batch_size, hp.num_steps, False, TOO_SHORT)
                row = train_network(label, recipe.spec(cell, impl), hp, data,
                                    fit_part, valid, heldout, ctx, args,
                                    random_offset=True, init=recipe.init)
            row.update(recipe=recipe_name, vocab_size=data[3])
            if vocab_note:
                row['vocab'] = vocab_note
            print('  %s: train %.2f, held-out %.2f (epoch %d of %d), %.0f s'
                  % (label, row['train_perplexity'],
                     row['heldout_perplexity'], row['best_epoch'],
                     row['epochs'], row['seconds']))
            rows.append(row)
    return rows


def _capped(hp, args, quick_epochs):
    """The recipe's ``hp`` with at most ``--max-epochs`` epochs (a shorter
    schedule; early stopping may end it sooner)."""
    n = quick_epochs if cli.quick() else min(hp.num_epochs,
                                             args.max_epochs
                                             or hp.num_epochs)
    return replace(hp, num_epochs=n, pred_period=n)


def _prefixes(args):
    return default_prefixes(args.corpus_name if is_builtin(args.corpus_name)
                            else 'jaychou')


def load(name, args, min_freq):
    """The corpus ``name`` with the vocabulary of ``min_freq``, and its
    (train, held-out) split."""
    data = load_corpus(name, args.num_chars, args.data_dir, args.lower,
                       min_freq, args.valid_frac)
    train, heldout = split_corpus(data[0], args.valid_frac)
    return data, train, heldout


def corpus_rows(name, args, ctx):
    """Every row of the table of corpus ``name``."""
    args.corpus_name = name
    data, train, heldout = load(name, args, args.min_freq)
    unk = data[0].count(0) if args.min_freq else 0
    print('%s: training on %d characters, held out: the last %d; %d '
          'characters in the vocabulary%s (%s)' % (
              name, len(train), len(heldout), data[3],
              ', %d of the text are <unk>' % unk if args.min_freq else '',
              ctx))
    rows = ngram_rows(train, heldout, data[3]) if not args.no_ngrams else []
    recipe = RECIPES.get(name, Recipe())
    for r in args.recipe:
        rows += networks(args.models, r, recipe, data, train, heldout, ctx,
                         args)
    if args.ablations:
        best = 'lstm-gluon'
        for what, change in ABLATIONS.items():
            rows += networks([best], 'regularized, %s' % what,
                             replace(recipe, **change), data, train,
                             heldout, ctx, args)
        # the book's vocabulary: every character its own token
        data_b, train_b, heldout_b = load(name, args, None)
        rows += networks([best], 'regularized, no <unk>', recipe, data_b,
                         train_b, heldout_b, ctx, args,
                         vocab_note='every character')
    for row in rows:
        row['corpus'] = name
        row.setdefault('best_epoch', None)
    return rows


# changes from the search's start (the default recipe with the book's
# N(0, 0.01^2) start), tried per corpus (512 hiddens, 3x the time on a
# 2-core CPU, was left out); the uniform start came last, on the best
CHANGES = [{}, dict(dropout=0.1), dict(dropout=0.5), dict(num_layers=1),
           dict(lr=5e-3), dict(num_layers=1, dropout=0.5, lr=5e-3),
           dict(num_layers=1, num_hiddens=128, dropout=0.5, lr=1e-2),
           dict(init='uniform'),
           dict(num_layers=1, num_hiddens=128, dropout=0.5, lr=1e-2,
                init='uniform')]


def tune(names, args, ctx):
    """The search that chose the regularized recipe, on each corpus'
    validation split only (the last ``--valid-frac`` of the training part):
    the default :class:`Recipe` and each change of :data:`CHANGES`,
    each trained as the recipe trains (Gluon LSTM, early stopping on the
    validation split); the held-out text is not read. Prints, per corpus
    of ``names``, the validation perplexity of each and the best; returns
    the rows."""
    rows = []
    for name in names:
        args.corpus_name = name
        data, train, _ = load(name, args, args.min_freq)
        fit_part, valid = split_corpus(train, args.valid_frac)
        _, char_to_idx, idx_to_char, vocab_size = data
        print('%s: tuning on %d characters, validation: the next %d'
              % (name, len(fit_part), len(valid)))
        base = Recipe(init='normal')
        found = []
        for change in CHANGES:
            recipe = replace(base, **change)
            hp = _capped(recipe.hyper(_prefixes(args)), args, 2)
            seed_all(args.seed)
            model = _started(build_model(recipe.spec('lstm', 'gluon'),
                                         vocab_size, ctx), recipe.init)
            start = time.time()
            h = fit(model, fit_part, idx_to_char, char_to_idx, hp, ctx=ctx,
                    valid_indices=valid, log=lambda *a: None,
                    report_last=False, random_offset=True,
                    progress=not args.quiet and sys.stderr.isatty())
            row = dict(corpus=name, change=change or 'default',
                       recipe=asdict(recipe),
                       valid_perplexity=min(h.valid_perplexity),
                       best_epoch=h.best_epoch, epochs=len(h.epochs),
                       seconds=time.time() - start)
            print('  %-28s validation %.3f (epoch %d of %d), %.0f s' % (
                change or 'the start', row['valid_perplexity'],
                row['best_epoch'], row['epochs'], row['seconds']))
            found.append(row)
        best = min(found, key=lambda r: r['valid_perplexity'])
        print('  best: %s' % (best['change'],))
        rows += found
    if args.json:
        print('rows written to %s' % report.write_json(args.json, rows))
    return rows


def main(argv=None):
    p = cli.parser('heldout', __doc__, train=False, command='heldout',
                   prog='python -m d2l_ch6 heldout',
                   data=[f for f in cli.DATA if f != '--corpus'])
    p.add_argument('--corpora', default='jaychou,timemachine',
                   metavar='NAME|PATH,...', help='the texts to measure, '
                   'comma-separated: jaychou, timemachine or the paths of '
                   'text files')
    p.add_argument('--recipe', nargs='+', choices=['book', 'regularized'],
                   default=['book', 'regularized'],
                   help='the networks\' recipe(s)')
    p.add_argument('--models', type=_names, default=NETWORKS,
                   help='comma-separated, of: %s' % ','.join(NETWORKS))
    for name in ('--valid-frac', '--min-freq'):
        flags.add(p, name, 'heldout')
    p.add_argument('--max-epochs', type=flags.positive_int, metavar='N',
                   help='cap the regularized recipe at N epochs (its own '
                   'cap: %d; early stopping ends most runs sooner)'
                   % Recipe().num_epochs)
    p.add_argument('--ablations', action='store_true',
                   help='the Gluon LSTM without each tool of the recipe')
    p.add_argument('--no-ngrams', action='store_true',
                   help='networks only')
    p.add_argument('--tune', action='store_true',
                   help='the search that chose the recipe, on the '
                   'validation split only')
    for name in ('--json', '--plot', '--quiet'):
        flags.add(p, name, 'heldout')
    for name in ('--report', '--rows'):
        flags.add(p, name, 'heldout')
    args = p.parse_args(argv)
    cli.check_outputs([('--json', args.json), ('--plot', args.plot),
                       ('--report', args.report)], args)
    if args.rows:
        rows = report.read_rows(args.rows)
    else:
        ctx = cli.setup(args)
        names = [c.strip() for c in args.corpora.split(',') if c.strip()]
        if args.tune:
            return tune(names, args, ctx)
        rows = []
        for name in names:
            rows_c = corpus_rows(name, args, ctx)
            print()
            print(report.table(rows_c))
            print()
            rows += rows_c
    if args.json:
        print('rows written to %s' % report.write_json(args.json, rows))
    if args.plot and report.plot(args.plot, rows):
        print('plot written to %s' % args.plot)
    if args.report:
        write_text(args.report, report.markdown(
            rows, ' '.join(['python -m d2l_ch6 heldout'] + (argv or []))))
        print('report written to %s' % args.report)
    return rows


def _names(text):
    names = [n.strip() for n in text.split(',') if n.strip()]
    unknown = [n for n in names if n not in NETWORKS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            'unknown network(s) %s: choose from %s'
            % (', '.join(unknown) or '(none)', ','.join(NETWORKS)))
    return names


if __name__ == '__main__':
    cli.run(main)
