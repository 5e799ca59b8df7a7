"""The flags the commands share, declared once: each has one meaning (its
help), one type and one default. A command's own default for a flag
(a section's book value, the demos' small sizes, the recipe of
``train``) is listed here beside the flag, so that the table says every
default there is; ``add`` is how a command takes a flag, and a test reads
every command's parser against this table. ``python -m d2l_ch6 flags``
prints it (docs/flags.md is that output).
"""
import argparse
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

# what mxnet's operators take: float32's range, without its denormals
FLOAT32_MAX, FLOAT32_TINY = 3.4028234663852886e38, 1.1754943508222875e-38


def positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError('must be a positive integer')
    return value


def nonnegative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError('must be >= 0')
    return value


def seed(text):
    """A seed numpy takes: a whole number in [0, 2**32)."""
    value = int(text)
    if not 0 <= value < 2 ** 32:
        raise argparse.ArgumentTypeError('must be in [0, 2**32)')
    return value


def nonnegative_float(text):
    """A float >= 0 that float32 holds (a learning rate, a threshold, a
    decay): 0, or in [1.2e-38, 3.4e38]."""
    value = float(text)
    if not (value == 0 or FLOAT32_TINY <= value <= FLOAT32_MAX):
        raise argparse.ArgumentTypeError('must be 0 or a number in '
                                         '[1.2e-38, 3.4e38]')
    return value


def fraction(text):
    """A float in [0, 1) that float32 holds."""
    value = float(text)
    if not (value == 0 or FLOAT32_TINY <= value < 1):
        raise argparse.ArgumentTypeError('must be in [0, 1)')
    return value


def num_chars(text):
    """A number of characters, or 'all' (None)."""
    return None if text == 'all' else positive_int(text)


BOOK = 'the book'  # a default that is the section's book value (its Hyper)
SECTIONS = 'sections'  # the book's sections 6.4-6.10, trained by cli.parser


@dataclass(frozen=True)
class Flag:
    """A shared flag: its one meaning and type, its default, and the
    commands that have their own default (with why, in ``why``)."""
    help: str
    type: Any = None
    default: Any = None
    dest: Optional[str] = None
    metavar: Optional[str] = None
    action: Optional[str] = None
    nargs: Optional[str] = None
    choices: Any = None
    defaults: Dict[str, Any] = field(default_factory=dict)
    why: str = ''

    def default_for(self, name, command, hp=None):
        """The default of flag ``name`` in ``command``."""
        value = self.defaults.get(command, self.default)
        if value == BOOK:  # the section's book value
            return getattr(hp, self.dest or name[2:].replace('-', '_'))
        return value


FLAGS = {
    # -- training ------------------------------------------------------------
    '--epochs': Flag(
        'epochs to train in all (a resumed run counts the epochs it has)',
        positive_int, BOOK, dest='num_epochs',
        defaults={'train': 50},
        why='the sections: the book\'s 250 (6.4, 6.5, 6.9, 6.10) or 160 '
        '(6.7, 6.8); train: a cap (char-rnn\'s max_epochs), early stopping '
        'ends most runs sooner'),
    '--num-hiddens': Flag(
        'hidden units of a layer', positive_int, BOOK,
        defaults={'6.2': 4, '6.6': 32, 'train': 256},
        why='6.2 and 6.6 show one step and one gradient on small sizes'),
    '--num-steps': Flag(
        'time steps of an example (what backpropagation through time '
        'runs through)', positive_int, BOOK,
        defaults={'6.2': 5, '6.6': 50, 'train': 64, 'score': None},
        why="6.6 shows gradients over 50 steps; score: unset, the "
        "checkpoint's"),
    '--batch-size': Flag('examples per batch', positive_int, BOOK,
                         defaults={'6.2': 3, 'train': 32, 'score': 32},
                         why='score: the streams its text is cut into, '
                         'read side by side; 1 reads it as one stream'),
    '--lr': Flag('learning rate', nonnegative_float, BOOK,
                 defaults={'train': 2e-3},
                 why="train: Adam's, where the book's sgd takes 100"),
    '--clip': Flag(
        'clip the gradients to this global L2 norm theta; 0: no clipping',
        nonnegative_float, BOOK, dest='clipping_theta',
        defaults={'6.6': 1.0, 'train': 1.0}),
    '--pred-period': Flag(
        'print the perplexity and the predictions every N epochs (and '
        'after the last)', positive_int, BOOK),
    '--pred-len': Flag('characters to predict after each prefix',
                       nonnegative_int, BOOK, defaults={'train': 200}),
    '--prefixes': Flag(
        "texts to predict from (default: the corpus's own: 分开 不分开 for "
        'the lyrics, traveller / time traveller for The Time Machine, two '
        'frequent words of a text of yours)', nargs='+'),
    '--random-offset': Flag(
        "start each epoch's examples at a random offset in [0, num_steps) "
        '(the book: always 0)', action='store_true', default=False),
    '--valid-frac': Flag(
        'hold out this last fraction of the text and report its '
        'perplexity; 0: none', fraction, 0.0,
        defaults={'6.1': 0.1, 'heldout': 0.1, 'train': 0.05},
        why='the book holds nothing out; 6.1, heldout and train measure '
        'held-out perplexity'),
    '--min-freq': Flag(
        'characters seen fewer than K times in the training part become '
        "<unk> (unset: every character its own token, the book's "
        'vocabulary)', positive_int, None, metavar='K',
        defaults={'heldout': 2}),
    '--optimizer': Flag("the update: sgd (the book's) or adam",
                        choices=('sgd', 'adam'), default=BOOK,
                        defaults={'train': 'adam'}),
    '--wd': Flag('weight decay', nonnegative_float, BOOK,
                 defaults={'train': 0.0}),
    '--patience': Flag(
        'with a held-out text: stop after N evaluations without a better '
        'held-out perplexity and keep the best', positive_int, None,
        defaults={'train': 5}),
    '--lr-decay': Flag(
        'with a held-out text: multiply the learning rate by F after each '
        'evaluation without a better held-out perplexity', fraction, None,
        metavar='F', defaults={'train': 0.5}),
    '--save': Flag(
        'write the run (parameters, vocabulary, settings, the trainer\'s '
        'whole state) to this checkpoint after every epoch (train: every '
        'evaluation)', metavar='PATH'),
    '--resume': Flag('continue the run saved in this checkpoint, exactly',
                     metavar='PATH'),
    '--plot': Flag('draw the figure into this file: PNG, or the format '
                   'its suffix names (.pdf, .svg)', metavar='PATH'),
    '--json': Flag('write the results into this JSON file',
                   metavar='PATH'),
    '--report': Flag('write what the run measured, its tables and what '
                     'they show, into this Markdown file', metavar='PATH'),
    '--rows': Flag('draw --report and --plot from the rows an earlier run '
                   'wrote (its --json) instead of running', metavar='JSON'),
    '--temperature': Flag(
        'sample from softmax(outputs / T); unset or 0: the greedy argmax',
        nonnegative_float, None, defaults={'train': 0.8},
        why="train's samples show what the model writes, not its one most "
        'likely line'),
    '--quiet': Flag('no progress bar', action='store_true', default=False),
    # -- the model beyond the book's ----------------------------------------
    '--impl': Flag(
        'which form: scratch (the chapter\'s NDArray cells), gluon '
        '(rnn.RNN/GRU/LSTM), or both', choices=('scratch', 'gluon', 'both'),
        default='both', defaults={'6.10': 'gluon', 'train': 'gluon'},
        why='6.10 compares one form\'s uni- and bidirectional models'),
    '--cell': Flag('the recurrent cell', choices=('rnn', 'gru', 'lstm'),
                   default='rnn', defaults={'train': 'lstm'}),
    '--num-layers': Flag('stacked recurrent layers', positive_int, 2,
                         why='6.9 is about more than one'),
    '--dropout': Flag(
        'dropout on the hidden states, off at evaluation (beyond the book; '
        'the scratch model then trains in its fast form)', fraction, 0.0,
        metavar='P', defaults={'train': 0.2}),
    '--embed-size': Flag(
        'an embedding of N instead of the one-hot input (beyond the book)',
        positive_int, None, metavar='N', defaults={'train': 64}),
    # -- data and device -----------------------------------------------------
    '--seed': Flag("seed of python's, numpy's and mxnet's random numbers "
                   '(and of the sampling)', seed, 0),
    '--ctx': Flag("the device: auto (the book's try_gpu), cpu, gpu or "
                  'gpu:N', default='auto'),
    '--corpus': Flag(
        'jaychou or timemachine, or the path of a text file (UTF-8, or '
        'UTF-16/32 with a BOM; or a .zip holding one)',
        metavar='NAME|PATH', default='jaychou'),
    '--num-chars': Flag("characters of the text to use, or 'all'",
                        num_chars, 10000,
                        defaults={'heldout': None, 'train': None},
                        why="the book's first 10,000 characters; heldout "
                        'and train read the whole text'),
    '--lower': Flag('lower-case the text (what the book does for The Time '
                    'Machine)', action='store_true', default=None),
    '--keep-newlines': Flag(
        "keep the text's line ends as a character of the vocabulary (the "
        'book turns them into spaces)', action='store_true', default=False),
    '--data-dir': Flag('folder holding the corpus file (searched first)'),
}


def add(parser, name, command, hp=None, aliases=(), **more):
    """Add the shared flag ``name`` to ``parser`` (or a group) as
    ``command`` has it: the table's help, type and default (``hp``: the
    section's Hyper, where the default is the book's). ``more`` may only
    add what the table leaves open (e.g. ``help`` appended words)."""
    flag = FLAGS[name]
    kwargs = dict(help=flag.help, default=flag.default_for(name, command, hp))
    for key in ('type', 'dest', 'metavar', 'action', 'nargs', 'choices'):
        if getattr(flag, key) is not None:
            kwargs[key] = getattr(flag, key)
    if kwargs.get('action') == 'store_true':
        kwargs.pop('type', None)
    kwargs.update(more)
    return parser.add_argument(name, *aliases, **kwargs)


def table():
    """The table as Markdown (docs/flags.md)."""
    lines = ['# The flags the commands share', '',
             'Each flag has one meaning, one type and one default wherever '
             'a command takes it; where a command has a default of its own '
             'the table says which and why. Generated by `python -m d2l_ch6 '
             'flags` from `d2l_ch6/core/flags.py` (a test checks it is up '
             'to date).', '',
             '| flag | meaning | default | own defaults |',
             '|---|---|---|---|']
    for name, f in FLAGS.items():
        default = '—' if f.default is None else (
            '`%s`' % f.default if f.default != BOOK else "the section's book "
            'value')
        own = ', '.join('%s: `%s`' % (c, v) for c, v in f.defaults.items())
        if f.why:
            own += (' (%s)' if own else '%s') % f.why
        lines.append('| `%s` | %s | %s | %s |' % (
            name, f.help.replace('|', '\\|').replace('<unk>', '`<unk>`'),
            default, own))
    return '\n'.join(lines) + '\n'


def main(argv=None):
    """``python -m d2l_ch6 flags``: print the table (Markdown)."""
    from .errors import ArgumentParser
    ArgumentParser(prog='python -m d2l_ch6 flags',
                   description='the flags the commands share').parse_args(argv)
    print(table(), end='')
