"""The command-line frame: the sections, the flags every section shares,
the options they make and training a model with those options (the
runner that turns a user's mistake into one message, not a traceback, is
:func:`d2l_ch6.core.errors.run`).

Nothing here reads globals set by argparse: a section's ``main(argv)``
parses its own flags, turns them into an :class:`Options` and a
:class:`~d2l_ch6.core.hyper.Hyper`, and passes those on.
"""
import os
import random
import sys
import warnings
from dataclasses import dataclass, replace
from functools import partial
from typing import Optional


from . import checkpoint, files, flags
from .env import switch
from .corpus import default_prefixes, is_builtin, prefixes_from_text
from .data import load_corpus, split_corpus
from .device import parse_ctx
from .errors import ArgumentParser, BadInput, Terminated
from .errors import run  # noqa: F401  (cli.run(main): every command's)
from .fast import FastModel
from .models import gluon_model
from .plots import figure_format, plot_perplexity
from .hyper import BOOK, Hyper, check_memory, seed_all
from .trainer import Trainer

# (number, module, the book's title)
SECTIONS = [
    ('6.1', 'lang_model', '语言模型'),
    ('6.2', 'rnn', '循环神经网络'),
    ('6.3', 'lang_model_dataset', '语言模型数据集（周杰伦专辑歌词）'),
    ('6.4', 'rnn_scratch', '循环神经网络的从零开始实现'),
    ('6.5', 'rnn_gluon', '循环神经网络的简洁实现'),
    ('6.6', 'bptt', '通过时间反向传播'),
    ('6.7', 'gru', '门控循环单元（GRU）'),
    ('6.8', 'lstm', '长短期记忆（LSTM）'),
    ('6.9', 'deep_rnn', '深度循环神经网络'),
    ('6.10', 'bi_rnn', '双向循环神经网络'),
]

# D2L_CH6_QUICK=1: a handful of epochs everywhere (notebooks, tests)
QUICK = dict(num_epochs=4, pred_period=2)


def quick():
    """True when D2L_CH6_QUICK asks for a quick run."""
    return switch('D2L_CH6_QUICK')


def book_hyper(hp=BOOK):
    """``hp``, shortened to a handful of epochs when D2L_CH6_QUICK is set."""
    return replace(hp, **QUICK) if quick() else hp


# the flags of a training section, in the order --help lists them
TRAINING = ('--epochs', '--num-hiddens', '--num-steps', '--batch-size',
            '--lr', '--clip', '--pred-period', '--pred-len', '--prefixes',
            '--random-offset', '--valid-frac', '--min-freq', '--optimizer',
            '--wd', '--patience', '--lr-decay', '--save', '--resume',
            '--plot', '--quiet')
MODEL = ('--impl', '--dropout', '--embed-size')  # sections with both forms
DATA = ('--seed', '--ctx', '--corpus', '--num-chars', '--lower',
        '--keep-newlines', '--data-dir')


def parser(module, doc, hp=None, train=True, impl=False,
           command=flags.SECTIONS, data=DATA, prog=None):
    """An ArgumentParser for section ``module`` with the shared flags of
    :mod:`flags`, as ``command`` has them.

    ``hp`` gives the book's values for the section (quick mode shortens
    them); ``train=False`` keeps only the data and device flags;
    ``impl=True`` adds --impl scratch|gluon|both, --dropout and
    --embed-size for a section that trains both forms; ``data`` names the
    data and device flags it takes (all by default); ``prog`` the usage
    line's command where ``python -m d2l_ch6.MODULE`` is not one (a tool).
    """
    title = doc.strip().splitlines()[0]
    p = ArgumentParser(
        prog=prog or 'python -m d2l_ch6.%s' % module, description=title)
    g = p.add_argument_group('shared flags')
    if train:
        hp = book_hyper(hp or BOOK)
        for name in TRAINING:
            flags.add(g, name, command, hp)
    if impl:
        for name in MODEL:
            flags.add(p, name, command)
    for name in data:
        flags.add(g, name, command)
    return p


@dataclass(frozen=True)
class Options:
    """What the shared flags ask of a run besides its hyper-parameters:
    the corpus, a held-out fraction, checkpoints, a plot, the progress bar.
    The defaults are a plain run (as a notebook trains)."""
    corpus: str = 'jaychou'  # a built-in name or a file's path
    num_chars: Optional[int] = 10000
    data_dir: Optional[str] = None
    lower: Optional[bool] = None  # None: as the book reads the corpus
    keep_newlines: bool = False  # the book: newlines become spaces
    random_offset: bool = False
    valid_frac: float = 0.0
    min_freq: Optional[int] = None  # None: the book's vocabulary
    save: Optional[str] = None
    resume: Optional[str] = None
    plot: Optional[str] = None
    quiet: bool = True
    impl: str = 'both'  # scratch, gluon or both, for --impl
    dropout: float = 0.0  # beyond the book, with --impl
    embed_size: Optional[int] = None
    seed: int = 0


def options(args):
    """The :class:`Options` of parsed ``args`` (a parser without the
    training flags leaves their defaults); the files they will write are
    checked now, before any work."""
    opts = Options(**{name: getattr(args, name, default) for name, default
                      in vars(Options()).items()})
    check_outputs([('--save', opts.save), ('--plot', opts.plot)], opts)
    return opts


def inputs(opts):
    """[(flag, path)] of the files a run reads: its corpus file (not a
    built-in name) and the checkpoint it resumes."""
    read = [('--resume', getattr(opts, 'resume', None))]
    for flag in ('--corpus', '--corpora'):  # heldout's: comma-separated
        names = getattr(opts, flag[2:], None) or ''
        for name in names.split(',') if flag == '--corpora' else [names]:
            if name and not is_builtin(name):
                read.append((flag, name))
    return read


def check_outputs(outputs, opts=None):
    """Before any work, every file a run will write (``[(flag, path)]``):
    it can be written, it is none of the files the run reads (its corpus,
    the checkpoint it resumes, compared as real paths), no two are one
    file, a plot has a format matplotlib writes, and ``--save`` replaces
    nothing but a checkpoint (``--save`` over ``--resume`` continues it)."""
    files.check_outputs(outputs, inputs(opts) if opts is not None else (),
                      same_ok={('--save', '--resume')})
    for flag, path in outputs:
        if path and flag == '--plot':
            figure_format(path, flag)
        if path and flag == '--save':
            checkpoint.check_replaceable(path, flag)


def prefixes(args, data=None, log=print):
    """--prefixes, else the corpus's own: the book's for a built-in corpus,
    two drawn from the text of a file of the user's (said in one line)."""
    if getattr(args, 'prefixes', None):
        return tuple(args.prefixes)
    if is_builtin(args.corpus) or data is None:
        return default_prefixes(args.corpus if is_builtin(args.corpus)
                                else 'jaychou')
    corpus_indices, _, idx_to_char, _ = data
    chosen = prefixes_from_text(''.join(idx_to_char[i]
                                        for i in corpus_indices))
    log('no --prefixes given: predicting after %s, frequent in %s'
        % (' and '.join(repr(p) for p in chosen), args.corpus))
    return chosen


def hyper(args, data=None):
    """The Hyper of parsed ``args`` (--clip 0 means no clipping); the
    prefixes of :func:`prefixes`."""
    theta = args.clipping_theta  # 0: no clipping (the exercise)
    hp = Hyper(args.num_hiddens, args.num_epochs, args.num_steps,
               args.batch_size, args.lr, theta if theta else None,
               args.pred_period, args.pred_len, prefixes(args, data),
               args.optimizer, args.wd, args.patience, args.lr_decay)
    if hp.needs_valid and not args.valid_frac:
        raise BadInput('--patience and --lr-decay read a held-out text: '
                       'add --valid-frac (e.g. 0.1)')
    return hp


def setup(args):
    """Seed everything and return the mx.Context of ``args.ctx``."""
    ctx = parse_ctx(args.ctx)
    seed_all(args.seed)
    return ctx


def start(args):
    """What a training section's ``main`` begins with, from its parsed
    ``args``: (ctx, hp, opts, data), seeded, the corpus loaded."""
    ctx, opts = setup(args), options(args)
    data = load(opts)
    hp = hyper(args, data)
    check_memory(hp.num_hiddens, data[3], hp.batch_size, hp.num_steps,
                 getattr(args, 'num_layers', 1), opts.embed_size)
    return ctx, hp, opts, data


def load(opts):
    """The book's 4-tuple of the corpus ``opts`` (or parsed args) name."""
    return load_corpus(opts.corpus, opts.num_chars, opts.data_dir,
                       getattr(opts, 'lower', None),
                       getattr(opts, 'min_freq', None),
                       getattr(opts, 'valid_frac', 0.0),
                       getattr(opts, 'keep_newlines', False))


def run_path(path, name):
    """``path`` for a section's only run; with several runs, ``name`` goes
    before the extension (rnn.params -> rnn-random.params)."""
    if path is None or name is None:
        return path
    root, ext = os.path.splitext(path)
    return '%s-%s%s' % (root, name, ext)


def train(opts, model, data, hp, ctx, name=None, is_random_iter=False,
          detach=True):
    """Train ``model`` (one with a ``spec``, as the sections build them) on
    the corpus ``data`` (the book's 4-tuple) with a :class:`Trainer`, as
    the :class:`Options` ask: a held-out fraction, a checkpoint of the
    whole run after every epoch, resuming, the progress bar (unless quiet
    or not a terminal). ``name`` tells the runs of a section apart in file
    names. Returns the Trainer (its ``history``, its ``model``)."""
    corpus_indices, char_to_idx, idx_to_char, _ = data
    valid = None
    if opts.valid_frac:
        corpus_indices, valid = split_corpus(corpus_indices, opts.valid_frac)
    save_path = run_path(opts.save, name)
    check_outputs([('--save', save_path)], opts)
    trainer = Trainer(model, hp, ctx=ctx, is_random_iter=is_random_iter,
                      detach=detach, random_offset=opts.random_offset,
                      seed=opts.seed,
                      progress=not opts.quiet and sys.stderr.isatty())
    resume = run_path(opts.resume, name)
    if resume and name is not None and not os.path.isfile(resume):
        checkpoint.find(opts.resume)  # an error unless another model's is
        print('no checkpoint of this model at %s yet: it trains from the '
              'start' % resume)
        resume = None
    if resume:
        ckpt = checkpoint.load(resume)
        checkpoint.check_compatible(ckpt, model.spec, idx_to_char)
        resume_from(trainer, ckpt)
        if trainer.finished:
            done = ('%s holds epoch %d and --epochs (the total, not the '
                    'epochs to add) is %d' % (resume, trainer.epoch,
                                              hp.num_epochs)
                    if not trainer.stopped else
                    '%s holds a run that early stopping ended at epoch %d'
                    % (resume, trainer.epoch))
            if name is None:
                raise BadInput(done + ': nothing is left to train%s' % (
                    '' if trainer.stopped else
                    '; give --epochs above %d' % trainer.epoch))
            print(done + ': nothing is left to train')
        else:
            print('resuming %s from epoch %d' % (resume, trainer.epoch))
    model.prepare(initialize=not resume)

    saved = []  # the epochs whose checkpoint is on disk

    def on_record(t):
        checkpoint.save(save_path, model, idx_to_char, hp, t,
                        corpus=opts.corpus, num_chars=opts.num_chars,
                        lower=opts.lower, valid_frac=opts.valid_frac,
                        keep_newlines=opts.keep_newlines,
                        is_random_iter=is_random_iter,
                        random_offset=opts.random_offset,
                        min_freq=opts.min_freq)
        saved.append(t.epoch)

    try:
        trainer.fit(corpus_indices, idx_to_char, char_to_idx,
                    valid_indices=valid,
                    on_record=on_record if save_path else None)
    except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM/SIGHUP (run)
        how = 'stopped by %s' % e.name if isinstance(e, Terminated) \
            else 'interrupted'
        if save_path and (saved or resume) and os.path.exists(save_path):
            # what is on disk: the signal may have come between a save's
            # rename and its bookkeeping
            try:
                epoch = checkpoint.load(save_path).epoch
            except checkpoint.CheckpointError:
                epoch = saved[-1] if saved else trainer.epoch
            print('%s: the checkpoint of the last complete epoch (%d) is in '
                  '%s; continue with --resume %s'
                  % (how, epoch, save_path, opts.save), file=sys.stderr)
        elif save_path:
            print('%s before the first epoch ended: no checkpoint was '
                  'written' % how, file=sys.stderr)
        raise
    if saved:
        print('checkpoint written to %s' % save_path)
    return trainer


def resume_from(trainer, ckpt):
    """Put the run saved in ``ckpt`` into ``trainer``: its parameters and
    the trainer's whole state. A checkpoint of an earlier d2l_ch6 (version
    2) has the epoch, the history, the learning rate and the sampler's
    random state, and lacks the rest: said in a warning."""
    trainer.model.load_state_dict(ckpt.arrays)
    if ckpt.trainer is not None:
        trainer.load_state_dict(ckpt.trainer, ckpt.trainer_arrays)
        return
    warnings.warn('%s was written by an earlier d2l_ch6: it holds no '
                  "optimizer state (Adam's moments and step count) and no "
                  "early stopping count; they start again" % ckpt.path,
                  stacklevel=2)
    trainer.epoch, trainer.history = ckpt.epoch, ckpt.history()
    if trainer.history.lr:
        trainer.optimizer.lr = trainer.history.lr[-1]
    if 'random_state' in ckpt.meta:
        version, internal, gauss = ckpt.meta['random_state']
        random.setstate((version, tuple(internal), gauss))


def train_impls(opts, scratch, spec, data, hp, ctx):
    """Train the model(s) --impl names, in turn, with :func:`train_all`:
    'scratch' (``scratch()``, the section's scratch model) and 'gluon'
    (the Gluon model of ``spec``); return ``{impl: Trainer}``. With
    --dropout or --embed-size both are ``spec`` with them, and the scratch
    one is its fast form: the section's cells are the book's, which has
    neither."""
    spec = replace(spec, dropout=opts.dropout, embed_size=opts.embed_size)
    if spec.regularized:
        scratch = partial(FastModel, replace(spec, impl='scratch'), data[3],
                          ctx)
    builders = dict(scratch=scratch,
                    gluon=lambda: gluon_model(spec, data[3], ctx))
    names = list(builders) if opts.impl == 'both' else [opts.impl]
    return train_all(opts, {name: builders[name]() for name in names}, data,
                     hp, ctx)


def train_all(opts, models, data, hp, ctx):
    """Train each ``{name: model}`` in turn (a header line each) with
    :func:`train`; return ``{name: Trainer}`` and draw the plot."""
    names = list(models) if len(models) > 1 else [None]
    check_outputs([('--save', run_path(opts.save, n)) for n in names], opts)
    trainers = {}
    for name, model in models.items():
        print('%s (%s)' % (model.spec.describe(), ctx))
        trainers[name] = train(opts, model, data, hp, ctx,
                               name=name if len(models) > 1 else None)
    plot(opts, {name: t.history for name, t in trainers.items()})
    return trainers


def plot(opts, histories, title=None):
    """Draw ``{name: History}`` into the plot ``opts`` ask for (if any)."""
    if opts.plot:
        plot_perplexity(opts.plot, histories, title or opts.corpus)
        print('plot written to %s' % opts.plot)
