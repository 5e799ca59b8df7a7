"""The lab every experiment reads: the corpus, the device, quick or full
mode and the seed, and the one way experiments train (:meth:`Lab.
train_many`: models compared take turns, one epoch each, so that their
times see the same machine load).

Without quick mode the runs use the book's settings where the exercise is
about the book's run, and a stated shorter schedule where only a
comparison is asked. Quick mode (``--quick`` or D2L_CH6_QUICK=1) shrinks
every model to 1/16 of its hidden units, every schedule to two epochs and
the corpus to 3,000 characters, for tests: the numbers then answer
nothing.
"""
import math
import time
from dataclasses import dataclass, replace
from typing import Callable, Optional

import mxnet as mx

from ..core.corpus import (default_prefixes, is_builtin, prefixes_from_text,
                           read_corpus)
from ..core.data import load_corpus
from ..core.errors import BadInput, TrainingDiverged
from ..core.models import ModelSpec
from ..core.trainer import (BOOK, History, Trainer, evaluate_perplexity,
                            seed_all)
from ..tools.zoo import build_model
from .registry import Table, compare, fmt, speed, steady

QUICK_EPOCHS = 2
QUICK_CHARS = 3000  # quick mode trains on the first 3,000 characters
QUICK_SHRINK = 16  # quick mode: num_hiddens // 16
HELDOUT_CHARS = 2000  # the text after the training characters


@dataclass
class Run:
    """One training run: its model description, settings, History, the
    TrainingDiverged it stopped with (or None) and the trained model."""
    label: str
    spec: ModelSpec
    hp: object
    sampling: str
    history: History
    diverged: Optional[TrainingDiverged] = None
    model: object = None
    heldout: float = math.nan

    @property
    def final(self):
        """The last perplexity (nan if the run diverged)."""
        p = self.history.perplexity
        return p[-1] if p and not self.diverged else math.nan

    def at(self, epoch):
        """Perplexity after ``epoch`` (nan if not reached)."""
        h = self.history
        return h.perplexity[epoch - 1] if 0 < epoch <= len(h.epochs) \
            else math.nan

    @property
    def seconds_per_epoch(self):
        """Median seconds per epoch after the warm-up epoch."""
        return steady(self.history.seconds)

    def text(self, prefix):
        """The last prediction from ``prefix`` ('' if none was made)."""
        return self.history.predictions.get(prefix, '')

    def outcome(self):
        """'diverged at epoch N' or 'perplexity P after E epochs'."""
        if self.diverged:
            return 'diverged at epoch %d' % self.diverged.epoch
        return 'perplexity %s after %d epochs' % (
            fmt(self.final), len(self.history.epochs))


SAMPLINGS = ('random', 'consecutive', 'random-offset', 'consecutive-offset')


@dataclass
class Lab:
    """What every experiment reads: the corpus (the book's 4-tuple), the
    device, quick or full mode and the seed. ``heldout`` is the text after
    the training characters (characters outside the vocabulary dropped),
    or None."""
    data: tuple
    ctx: object
    quick: bool = False
    seed: int = 0
    corpus: str = 'jaychou'
    data_dir: Optional[str] = None
    heldout: Optional[list] = None
    heldout_dropped: int = 0
    log: Callable = print

    @property
    def corpus_indices(self):
        return self.data[0]

    @property
    def vocab_size(self):
        return self.data[3]

    @property
    def chars(self):
        return ''.join(self.data[2][i] for i in self.data[0])

    def heldout_note(self):
        """What the held-out text is, for the settings of a result."""
        if not self.heldout:
            return 'no held-out text'
        return 'held-out: the %d characters after the training text' % (
            len(self.heldout))

    def epochs(self, full, quick=QUICK_EPOCHS):
        """``full`` epochs, or ``min(full, quick)`` in quick mode."""
        return min(full, quick) if self.quick else full

    def hyper(self, base=BOOK, **changes):
        """``base`` with ``changes``; quick mode divides num_hiddens by 16
        and shortens predictions. pred_period defaults to num_epochs (one
        print, at the end)."""
        hp = replace(base, **changes)
        if 'pred_period' not in changes:
            hp = replace(hp, pred_period=hp.num_epochs)
        if self.quick:
            hp = replace(hp, num_hiddens=max(2, hp.num_hiddens
                                             // QUICK_SHRINK),
                         pred_len=min(hp.pred_len, 20))
        return replace(hp, prefixes=default_prefixes(self.corpus)
                       if is_builtin(self.corpus) else
                       prefixes_from_text(self.chars))

    def train(self, hp, **kwargs):
        """Train one model: ``train_many([dict(hp=hp, **kwargs)])[0]``."""
        return self.train_many([dict(hp=hp, **kwargs)])[0]

    def train_many(self, configs):
        """Build a model for each config (a dict of :class:`Job`'s fields:
        ``hp`` and optionally impl, cell, activation, num_layers,
        bidirectional, sampling, detach, label, on_record), each from the same
        seed, and train each with its :class:`Trainer` in turn, ONE EPOCH EACH
        per round, so that times per epoch compare under the same machine load.
        A TrainingDiverged ends that run only. Samplings: 'random' and
        'consecutive' (the book's), 'random-offset' and 'consecutive-offset'
        (the corpus without its first k tokens, k drawn anew each epoch).
        Returns the :class:`Run` of each config, with its held-out perplexity
        if there is a held-out text."""
        jobs = [Job(**c) for c in configs]
        for job in jobs:
            seed_all(self.seed)
            job.run = Run(job.label, job.spec, job.hp, job.sampling,
                          History())
            model = build_model(job.spec, self.vocab_size,
                                self.ctx).prepare()
            job.trainer = Trainer(
                model, job.hp, ctx=self.ctx,
                is_random_iter=job.sampling.startswith('random'),
                detach=job.detach, seed=self.seed, log=_quiet,
                random_offset=job.sampling.endswith('offset'))
            job.run.model, job.run.history = model, job.trainer.history
        seed_all(self.seed)
        num_epochs, start = max(job.hp.num_epochs for job in jobs), time.time()
        for epoch in range(num_epochs):
            for job in jobs:
                if epoch < job.hp.num_epochs and not job.run.diverged:
                    self._epoch(job, epoch)
            done = epoch + 1
            if done < num_epochs and done % max(1, num_epochs // 5) == 0:
                self.log('  ... %d models, epoch %d of %d, %.0f s' % (
                    len(jobs), done, num_epochs, time.time() - start))
        for job in jobs:
            run = job.run
            if not run.diverged and self.heldout:
                run.heldout = evaluate_perplexity(
                    run.model, self.heldout, job.hp.num_steps, self.ctx)
            self.log('  %s, %s sampling%s: %s, %s s/epoch%s' % (
                run.label, job.sampling, '' if job.detach else
                ' (no detach)', run.outcome(), fmt(run.seconds_per_epoch),
                '' if math.isnan(run.heldout) else
                ', held-out perplexity %s' % fmt(run.heldout)))
        return [job.run for job in jobs]

    def _epoch(self, job, epoch):
        """Train ``job`` for one more epoch (its number ``epoch``, from 0)
        with its one trainer."""
        corpus_indices, char_to_idx, idx_to_char, _ = self.data
        try:
            job.trainer.fit(corpus_indices, idx_to_char, char_to_idx,
                            on_record=job.on_record, report_last=False,
                            epochs=1)
        except TrainingDiverged as e:
            job.run.diverged = e


@dataclass
class Job:
    """One model to train: its hyper-parameters, model and sampling."""
    hp: object
    impl: str = 'scratch'
    cell: str = 'rnn'
    activation: str = 'tanh'
    num_layers: int = 1
    bidirectional: bool = False
    sampling: str = 'random'
    detach: bool = True
    label: Optional[str] = None
    on_record: Optional[Callable] = None  # on_record(trainer), each epoch
    run: Optional[Run] = None
    trainer: Optional[Trainer] = None

    def __post_init__(self):
        if self.sampling not in SAMPLINGS:
            raise BadInput('unknown sampling %r; known: %s' % (
                self.sampling, ', '.join(SAMPLINGS)))
        self.spec = ModelSpec(self.impl, self.cell, self.hp.num_hiddens,
                              self.num_layers, self.bidirectional,
                              self.activation)
        self.label = self.label or self.spec.describe()


def _quiet(*args, **kwargs):
    """A log that prints nothing (fit's own lines)."""


def make_lab(corpus='jaychou', num_chars=10000, data_dir=None, ctx=None,
             quick=False, seed=0, log=print):
    """A :class:`Lab` for ``corpus`` (its first ``num_chars`` characters;
    the next 2,000 are the held-out text). Quick mode: 3,000 characters,
    500 held out."""
    ctx = ctx or mx.cpu()
    held = HELDOUT_CHARS
    if quick:
        num_chars, held = min(num_chars or QUICK_CHARS, QUICK_CHARS), 500
    data = load_corpus(corpus, num_chars, data_dir)
    heldout, dropped = None, 0
    if num_chars is not None:
        after = read_corpus(corpus, data_dir)[num_chars:num_chars + held]
        char_to_idx = data[1]
        known = [char_to_idx[c] for c in after if c in char_to_idx]
        dropped = len(after) - len(known)
        heldout = known if len(known) > 1 else None
    return Lab(data, ctx, quick, seed, corpus, data_dir, heldout, dropped,
               log)


# --- tuning: one setting changed at a time (6.4, 6.7) ---------------------


def variants(base, steps=(16, 70), batches=(16, 64),
              lrs=(math.e, 1000.0)):
    """[(label, changes)]: the book, then one change at a time."""
    h = base.num_hiddens
    out = [('book (%d hiddens, %d steps, batch %d, lr %g)' % (
        h, base.num_steps, base.batch_size, base.lr), {})]
    out += [('num_hiddens %d' % x, dict(num_hiddens=x))
            for x in (h // 2, 2 * h)]
    out += [('num_steps %d' % x, dict(num_steps=x)) for x in steps]
    out += [('batch_size %d' % x, dict(batch_size=x)) for x in batches]
    out += [('lr %s' % ('e' if x == math.e else '%g' % x), dict(lr=x))
            for x in lrs]
    return out


def tune(lab, base, variants, impl, cell, sampling):
    """Train the variants side by side; return {label: Run}."""
    return dict(zip([label for label, _ in variants], lab.train_many([
        dict(hp=replace(base, **changes), impl=impl, cell=cell,
             sampling=sampling, label=label)
        for label, changes in variants])))


def tune_table(runs, base, early):
    prefix = base.prefixes[0]
    return Table(('variant', 's/epoch', 'perplexity @%d' % early,
                  'perplexity @%d' % base.num_epochs, 'held-out',
                  'lyrics (%s ...)' % prefix),
                 [(label, fmt(r.seconds_per_epoch), fmt(r.at(early)),
                   fmt(r.final) if not r.diverged else r.outcome(),
                   fmt(r.heldout), r.text(prefix))
                  for label, r in runs.items()])


def tune_answer(runs):
    book_label = next(iter(runs))
    book = runs[book_label]
    parts = []
    for label, r in list(runs.items())[1:]:
        if r.diverged:
            parts.append('%s: %s' % (label, r.outcome()))
            continue
        parts.append('%s: %s per epoch, perplexity %.1f vs %.1f (%s)' % (
            label, speed(r.seconds_per_epoch, book.seconds_per_epoch),
            r.final, book.final, compare(r.final, book.final)))
    return 'Against the book\'s settings (%.2f s/epoch, perplexity %.1f): ' \
        '%s.' % (book.seconds_per_epoch, book.final, '; '.join(parts))


def converged(run):
    """Final perplexity below half of the first epoch's."""
    return not run.diverged and bool(run.history.perplexity) \
        and run.final < 0.5 * run.history.perplexity[0]
