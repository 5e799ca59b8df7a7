"""The one training routine of the chapter, for every model: the
hyper-parameters, the :class:`Trainer` that owns a run's whole state (the
model, the optimizer and its moments, the schedule, the epoch, the
sampler's random state, the history) and its one step, and ``fit``, which
prints the book's lines.

Defined in section 6.4 (``train_and_predict_rnn``; its d2lzh front is in
:mod:`d2l_ch6.core.book`). Where the book is wrong or slow this file says
so next to the fix:

* the book's ``for s in state: s.detach()`` throws the detached copies away;
  here the state really is replaced by its detached copy;
* the book reads the loss (``asscalar``) and the gradient norm back to the
  host twice per batch, which serialises MXNet's asynchronous engine; here
  the loss is summed and the gradients are clipped on the device, and the
  host waits once per epoch (under the naive engine of a CPU mxnet, where
  nothing is asynchronous, the clip scale is read as a float: free there);
* ``math.exp`` of a diverged loss raises ``OverflowError``; here a diverged
  run stops with :class:`TrainingDiverged`, naming the epoch.
"""
import math
import random
import sys
import time

import mxnet as mx
from mxnet import autograd, nd

from .data import epoch_batches, num_batches
from .errors import BadInput, TrainingDiverged, raise_pending_stop
from .hyper import BOOK, BOOK_GATED, Hyper, seed_all  # noqa: F401
from .measure import (LOSS, History, evaluate_loss,  # noqa: F401
                      evaluate_perplexity, mean, perplexity)
from .optim import Optimizer, clip_gradients
from .predict import predict


class Trainer:
    """A training run: the model, the hyper-parameters ``hp``, the
    optimizer with its state, the schedule (the learning-rate cut and early
    stopping, with a held-out text), where the run is (epochs and batches
    done, the sampler's random state) and its :class:`History`. The one
    step is :meth:`step`; :meth:`fit` runs it over epochs and prints the
    book's lines; :meth:`state_dict` is all a checkpoint needs for
    ``--resume`` to continue exactly, at an epoch's end or within one.

    Random sampling starts every batch from a fresh state; consecutive
    sampling starts each epoch from a fresh state and carries it over,
    detached (``detach=False`` is the book's exercise), from batch to
    batch; ``random_offset`` starts each epoch's examples at a random
    offset (see :func:`data.data_iter_random`). ``eval_every=N`` makes a
    record (and evaluates, cuts or stops) every N batches instead of after
    every epoch. A model with dropout draws its masks from mxnet's
    generator, seeded anew before every batch from ``seed`` and the
    batch's number, so that a resumed run draws the same masks.
    """

    def __init__(self, model, hp=BOOK, *, ctx=None, is_random_iter=False,
                 detach=True, random_offset=False, seed=0, eval_every=None,
                 log=print, progress=False, step_options=None):
        self.model, self.hp = model, hp
        self.ctx = ctx if ctx is not None else model.ctx
        self.is_random_iter, self.detach = is_random_iter, detach
        self.random_offset, self.seed = random_offset, seed
        self.eval_every, self.log, self.progress = eval_every, log, progress
        # what fit passes to step (clip, update, retain_graph, inspect,
        # pause): the exercises and the benchmark look inside the step
        self.step_options = dict(step_options or {})
        self._dropout = model is not None and model.spec is not None \
            and bool(model.spec.dropout)
        self.optimizer = Optimizer(hp.optimizer, hp.lr, hp.wd)
        self.history = History()
        self.epoch = 0  # epochs completed
        self.batch = 0  # batches of the epoch under way completed
        self.batches = 0  # batches trained, all epochs
        self.stalls = 0  # records since the best held-out perplexity
        self.stopped = False  # early stopping ended the run
        self.best_arrays = None  # the best record's parameters (copies)
        self._epoch_random = None  # random's state at the epoch's start
        self._state = None  # the state carried within the epoch
        self._l_sum, self._tokens, self._seconds = None, 0, 0.0

    @property
    def finished(self):
        """True once the run has all its epochs or stopped early."""
        return self.stopped or self.epoch >= self.hp.num_epochs

    # -- the one step ------------------------------------------------------

    def step(self, X, Y, state, *, clip=True, update=True,
             retain_graph=False, inspect=None, pause=None):
        """One training step: the outputs of batch ``X`` from ``state``
        under ``autograd.record``, the mean softmax cross-entropy against
        ``Y`` ((batch, num_steps), or already time-major, as the outputs),
        backward, clipping to
        ``hp.clipping_theta`` and the optimizer's update.
        ``inspect(model)`` sees the gradients before they are clipped;
        ``pause(part)`` runs once each part is queued: 'rest' (all before
        the step), 'model', 'clip', 'update' (the benchmark waits there to
        time it). Returns (the mean
        loss (1,) on the device, the new state, the number of tokens)."""
        if pause is not None:
            pause('rest')  # what came before: the sampler, the state
        # Y: (B, T), or (T*B,) time-major as the outputs already
        y = Y if Y.ndim == 1 else Y.T.reshape((-1,))
        with autograd.record():
            outputs, state = self.model(X, state)  # (T*B, vocab)
            l = LOSS(outputs, y).mean()
        l.backward(retain_graph=retain_graph)
        if pause is not None:
            pause('model')
        if inspect is not None:
            inspect(self.model)
        grads = self.model.grads()
        if clip and update and self.optimizer.fuses:
            self.optimizer.clip_and_update(self.model.weights(), grads,
                                           self.hp.clipping_theta, pause)
            if pause is not None:
                pause('update')
            return l, state, y.size
        if clip:
            clip_gradients(grads, self.hp.clipping_theta)
            if pause is not None:
                pause('clip')
        if update:
            self.optimizer.update(self.model.weights(), grads)
            if pause is not None:
                pause('update')
        return l, state, y.size

    # -- the epochs --------------------------------------------------------

    def sampler(self, corpus_indices):
        """The batches (X, y time-major) of the epoch about to run, staged
        a block at a time (:func:`data.epoch_batches`: the book's batches,
        drawn from Python's ``random`` as the book's sampler draws)."""
        return epoch_batches(corpus_indices, self.hp.batch_size,
                             self.hp.num_steps, self.ctx,
                             self.is_random_iter, self.random_offset)

    def _start_epoch(self):
        if self.batch == 0:
            self._epoch_random = random.getstate()
            self._state = None
        else:  # resumed within the epoch: its sampler is replayed
            random.setstate(_random_state(self._epoch_random))

    def _next_state(self):
        if self.is_random_iter or self._state is None:
            return self.model.begin_state(self.hp.batch_size)
        if self.detach:
            # the book's `for s in state: s.detach()` discarded detach()'s
            # result
            return [s.detach() for s in self._state]
        return self._state

    def fit(self, corpus_indices, idx_to_char=None, char_to_idx=None, *,
            valid_indices=None, valid_batch_size=1, on_record=None,
            on_batch=None, report_last=True, max_batches=None,
            epochs=None):
        """Train until ``hp.num_epochs`` epochs are done (those of a resumed
        run count), early stopping ends the run, or this call has trained
        ``epochs`` epochs or ``max_batches`` batches. Print the book's lines
        every ``hp.pred_period`` epochs, and after the last epoch whatever the
        period (the book prints nothing after a run shorter than its period;
        ``report_last=False`` for a run continued by another call).

        Given a held-out text ``valid_indices`` (beyond the book), its
        perplexity is computed at every record (read in
        ``valid_batch_size`` streams, see :func:`evaluate_loss`); each
        record that does not beat the best so far cuts the learning rate by
        ``hp.lr_decay`` (if set), and ``hp.patience`` of them in a row stop
        the run (early stopping), whose parameters are then put back to the
        best record's. ``on_record(trainer)`` runs after every record
        (checkpoints), ``on_batch(trainer, loss, tokens)`` after every
        batch. Returns the :class:`History`; raises
        TrainingDiverged if the loss becomes nan or inf."""
        hp = self.hp
        if hp.needs_valid and valid_indices is None:
            raise BadInput('early stopping and the learning-rate cut read a '
                           'held-out text: give a validation split (e.g. '
                           '--valid-frac 0.1)')
        self._valid = (valid_indices, valid_batch_size)
        self._predict = (idx_to_char, char_to_idx, report_last)
        self._on_record = on_record
        per_epoch = num_batches(len(corpus_indices), hp.batch_size,
                                hp.num_steps, self.is_random_iter)
        self._bar = _progress_bar(self.progress, per_epoch * hp.num_epochs,
                                  per_epoch * self.epoch + self.batch)
        done = ran = 0  # batches and epochs of this call
        try:
            while not self.finished:
                self._start_epoch()
                start = time.time()
                for k, (X, Y) in enumerate(self.sampler(corpus_indices)):
                    if k < self.batch:
                        continue  # trained before the run was resumed
                    if self._dropout:  # the masks of batch n: seed, n
                        mx.random.seed((self.seed * 1000003 + self.batches)
                                       % 2 ** 32)
                    l, self._state, tokens = self.step(
                        X, Y, self._next_state(), **self.step_options)
                    if self._l_sum is None:
                        self._l_sum = nd.zeros((1,), ctx=self.ctx)
                    self._l_sum += l * tokens  # stays on the device
                    self._tokens += tokens
                    self.batch += 1
                    self.batches += 1
                    done += 1
                    if on_batch is not None:
                        on_batch(self, l, tokens)
                    raise_pending_stop()
                    if self._bar is not None:
                        self._bar.update(1)
                    if self.eval_every and \
                            self.batches % self.eval_every == 0:
                        self._seconds += time.time() - start
                        self._record()
                        start = time.time()
                    if self.stopped or (max_batches and done >= max_batches):
                        break
                else:  # the epoch ran to its end
                    self.epoch, self.batch, self._state = \
                        self.epoch + 1, 0, None
                    self._seconds += time.time() - start
                    if not self.eval_every:
                        self._record()
                    ran += 1
                    if epochs is None or ran < epochs:
                        continue
                    break
                self._seconds += time.time() - start
                break  # stopped early, or max_batches
            if self.eval_every and self._tokens and self.finished:
                self._record()  # what the last evaluation has not seen
            if self.finished:
                self._restore_best()
        finally:
            if self._bar is not None:
                self._bar.close()
            self._bar = None
        return self.history

    # -- records -----------------------------------------------------------

    def _write(self, line):
        (self._bar.write if self._bar is not None else self.log)(line)

    def record(self):
        """Close a record now if batches were trained since the last one
        (a run stopped by ``max_batches`` ends with one)."""
        if self._tokens:
            self._record()

    def _record(self):
        """Close a record: the training perplexity since the last one (the
        one host sync), the held-out perplexity and the schedule, the
        book's lines when due, ``on_record``."""
        hp, h = self.hp, self.history
        ppl = perplexity(mean(self._l_sum, self._tokens))
        epoch = self.epoch if self.batch == 0 else self.epoch + 1
        if not math.isfinite(ppl):
            raise TrainingDiverged(
                epoch, h.perplexity[-1] if h.perplexity else None,
                h.epochs[-1] if h.epochs else None)
        h.epochs.append(epoch)
        h.perplexity.append(ppl)
        h.seconds.append(self._seconds)
        h.batches.append(self.batches)
        self._l_sum, self._tokens, self._seconds = None, 0, 0.0
        valid, valid_batch_size = self._valid
        if valid is not None:
            h.valid_perplexity.append(evaluate_perplexity(
                self.model, valid, hp.num_steps, self.ctx, valid_batch_size))
            self._schedule()
        h.lr.append(self.optimizer.lr)
        idx_to_char, char_to_idx, report_last = self._predict
        last = report_last and (self.finished or not self.eval_every and
                                epoch == hp.num_epochs)
        if self.eval_every or epoch % hp.pred_period == 0 or last:
            self._write(self.describe())
            for prefix in (hp.prefixes if idx_to_char is not None else ()):
                text = self.sample(prefix, idx_to_char, char_to_idx)
                h.predictions[prefix] = text
                self._write(' - ' + text)
        if self._on_record is not None:
            self._on_record(self)

    def describe(self):
        """The line of the last record: the book's ``epoch N, perplexity
        P, time T sec`` (and the batch, the held-out perplexity)."""
        h = self.history
        line = 'epoch %d, %sperplexity %f, time %.2f sec' % (
            h.epochs[-1], 'batch %d, ' % h.batches[-1] if self.eval_every
            else '', h.perplexity[-1], h.seconds[-1])
        if len(h.valid_perplexity) == len(h.epochs):
            line += ', valid perplexity %f' % h.valid_perplexity[-1]
        return line

    def sample(self, prefix, idx_to_char, char_to_idx):
        """The text a record shows after ``prefix``: the book's greedy
        prediction of ``hp.pred_len`` characters."""
        return predict(self.model, prefix, self.hp.pred_len, idx_to_char,
                       char_to_idx)

    def _schedule(self):
        """After a held-out perplexity: keep the best parameters, or count
        a stall, cut the learning rate, stop early."""
        h, hp = self.history, self.hp
        if h.best == len(h.valid_perplexity) - 1:
            self.stalls = 0
            self.best_arrays = {k: a.copy() for k, a in
                                self.model.state_dict().items()}
            return
        self.stalls += 1
        if hp.lr_decay is not None:
            self.optimizer.cut(hp.lr_decay)
        if hp.patience is not None and self.stalls >= hp.patience:
            self._write('early stop after epoch %d: no better held-out '
                        'perplexity for %d %s' % (
                            h.epochs[-1], self.stalls, 'evaluations'
                            if self.eval_every else 'epochs'))
            self.stopped = True

    def _restore_best(self):
        """Early stopping keeps the best: its parameters are put back."""
        h = self.history
        if self.hp.patience is None or self.best_arrays is None \
                or h.best == len(h.epochs) - 1:
            return
        self.model.load_state_dict(self.best_arrays)
        self._write('restored the parameters of epoch %d (held-out '
                    'perplexity %f)' % (h.best_epoch,
                                        min(h.valid_perplexity)))

    # -- checkpoints -------------------------------------------------------

    def state_dict(self):
        """(meta, arrays): everything but the model's parameters that a resumed
        run needs to continue exactly: the epoch and batch, the sampler's
        random state, the seed of the dropout masks, the optimizer (learning
        rate, step count, Adam's moments), the schedule (stalls, the best
        parameters), the history; within an epoch also the carried state and
        the loss summed so far."""
        opt_meta, opt_arrays = self.optimizer.state_dict()
        within = self.batch > 0
        meta = dict(epoch=self.epoch, batch=self.batch, batches=self.batches,
                    stalls=self.stalls, stopped=self.stopped,
                    seed=self.seed,
                    optimizer=opt_meta, history=self.history.asdict(),
                    random_state=self._epoch_random if within
                    else random.getstate(),
                    tokens=self._tokens, seconds=self._seconds)
        arrays = {'opt:' + k: v for k, v in opt_arrays.items()}
        for k, v in (self.best_arrays or {}).items():
            arrays['best:' + k] = v
        if within and self._state is not None and not self.is_random_iter:
            for i, s in enumerate(self._state):
                arrays['state:%d' % i] = s
        if self._tokens:
            arrays['loss_sum'] = self._l_sum
        return meta, arrays

    def load_state_dict(self, meta, arrays):
        """Continue from :meth:`state_dict`'s (meta, arrays)."""
        ctx = self.ctx
        self.epoch, self.batch = meta['epoch'], meta['batch']
        self.batches, self.stalls = meta['batches'], meta['stalls']
        self.stopped, self.seed = meta['stopped'], meta['seed']
        self.optimizer.load_state_dict(
            meta['optimizer'], {k[4:]: v for k, v in arrays.items()
                                if k.startswith('opt:')}, ctx)
        self.history = History.fromdict(meta['history'])
        best = {k[5:]: v.as_in_context(ctx) for k, v in arrays.items()
                if k.startswith('best:')}
        self.best_arrays = best or None
        state = sorted((int(k[6:]), v) for k, v in arrays.items()
                       if k.startswith('state:'))
        self._state = [v.as_in_context(ctx) for _, v in state] or None
        self._tokens, self._seconds = meta['tokens'], meta['seconds']
        self._l_sum = arrays['loss_sum'].as_in_context(ctx) \
            if 'loss_sum' in arrays else None
        if self.batch:
            self._epoch_random = meta['random_state']
        else:
            random.setstate(_random_state(meta['random_state']))


def _random_state(state):
    """JSON's lists back into the tuple random.setstate wants."""
    version, internal, gauss = state
    return version, tuple(internal), gauss


def _progress_bar(enabled, total, initial):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, unit='batch', leave=False,
                file=sys.stderr, dynamic_ncols=True)


def fit(model, corpus_indices, idx_to_char, char_to_idx, hp=BOOK, *, ctx,
        is_random_iter=False, detach=True, valid_indices=None,
        progress=False, log=print, report_last=True, random_offset=False):
    """Train ``model`` on ``corpus_indices`` with a new :class:`Trainer`
    (see there) and return its History: the routine behind the book's
    ``train_and_predict_rnn``."""
    trainer = Trainer(model, hp, ctx=ctx, is_random_iter=is_random_iter,
                      detach=detach, random_offset=random_offset, log=log,
                      progress=progress)
    return trainer.fit(corpus_indices, idx_to_char, char_to_idx,
                       valid_indices=valid_indices, report_last=report_last)
