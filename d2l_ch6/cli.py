"""The command-line frame: the sections, the flags every section shares and
the runner that turns a user's mistake into one message, not a traceback.

Nothing here reads globals set by argparse: a section's ``main(argv)``
parses its own flags and passes values on.
"""
import argparse
import os
import random
import sys
from dataclasses import replace

import mxnet as mx
import numpy as np

from .data import CORPORA, load_corpus
from .device import parse_ctx
from .errors import D2LError
from .train import BOOK, Hyper

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

# the prefixes to predict from when --prefixes is not given
PREFIXES = {'jaychou': ('分开', '不分开'),
            'timemachine': ('traveller', 'time traveller')}

# D2L_CH6_QUICK=1: a handful of epochs everywhere (notebooks, tests)
QUICK = dict(num_epochs=4, pred_period=2)


def quick():
    """True when D2L_CH6_QUICK asks for a quick run."""
    return os.environ.get('D2L_CH6_QUICK', '') not in ('', '0')


def book_hyper(hp=BOOK):
    """``hp``, shortened to a handful of epochs when D2L_CH6_QUICK is set."""
    return replace(hp, **QUICK) if quick() else hp


def _positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError('must be a positive integer')
    return value


def _num_chars(text):
    return None if text == 'all' else _positive_int(text)


def parser(module, doc, hp=None, train=True):
    """An ArgumentParser for section ``module`` with the shared flags.

    ``hp`` gives the defaults (the book's values for the section; quick mode
    shortens them); ``train=False`` keeps only the data and device flags.
    """
    title = doc.strip().splitlines()[0]
    p = argparse.ArgumentParser(
        prog='python -m d2l_ch6.%s' % module, description=title,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g = p.add_argument_group('shared flags')
    if train:
        hp = book_hyper(hp or BOOK)
        g.add_argument('--epochs', dest='num_epochs', type=_positive_int,
                       default=hp.num_epochs, help='training epochs')
        g.add_argument('--num-hiddens', type=_positive_int,
                       default=hp.num_hiddens, help='hidden units')
        g.add_argument('--num-steps', type=_positive_int,
                       default=hp.num_steps, help='time steps per example')
        g.add_argument('--batch-size', type=_positive_int,
                       default=hp.batch_size, help='examples per batch')
        g.add_argument('--lr', type=float, default=hp.lr,
                       help='learning rate')
        g.add_argument('--clip', dest='clipping_theta', type=float,
                       default=hp.clipping_theta,
                       help='gradient clipping threshold theta; 0: none')
        g.add_argument('--pred-period', type=_positive_int,
                       default=hp.pred_period,
                       help='print and predict every N epochs')
        g.add_argument('--pred-len', type=int, default=hp.pred_len,
                       help='characters to predict')
        g.add_argument('--prefixes', nargs='+', default=None,
                       help='texts to predict from (default: 分开 不分开, '
                       'or traveller / time traveller with --corpus '
                       'timemachine)')
    g.add_argument('--seed', type=int, default=0,
                   help='seeds python, numpy and mxnet')
    g.add_argument('--ctx', default='auto',
                   help="auto (the book's try_gpu), cpu, gpu or gpu:N")
    g.add_argument('--corpus', choices=sorted(CORPORA), default='jaychou')
    g.add_argument('--num-chars', type=_num_chars, default=10000,
                   help="characters of the corpus to use, or 'all'")
    g.add_argument('--data-dir', default=None,
                   help='folder holding the corpus file (searched first)')
    return p


def hyper(args):
    """The Hyper of parsed ``args`` (--clip 0 means no clipping)."""
    theta = args.clipping_theta
    prefixes = args.prefixes or PREFIXES[args.corpus]
    return Hyper(args.num_hiddens, args.num_epochs, args.num_steps,
                 args.batch_size, args.lr, theta if theta else None,
                 args.pred_period, args.pred_len, tuple(prefixes))


def seed_all(seed):
    """Seed python's random, numpy and mxnet (all devices)."""
    random.seed(seed)
    np.random.seed(seed)
    mx.random.seed(seed)


def setup(args):
    """Seed everything and return the mx.Context of ``args.ctx``."""
    ctx = parse_ctx(args.ctx)
    seed_all(args.seed)
    return ctx


def load(args):
    """The book's 4-tuple for ``args.corpus`` / ``--num-chars``."""
    return load_corpus(args.corpus, args.num_chars, args.data_dir)


def run(main, argv=None):
    """Run ``main(argv)`` as a command: a D2LError or an mxnet error is one
    line on stderr and a non-zero exit, Ctrl-C a clean exit 130."""
    try:
        main(argv)
    except D2LError as e:
        print('error: %s' % e, file=sys.stderr)
        sys.exit(e.exit_code)
    except mx.base.MXNetError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else ''
        print('error: mxnet failed: %s' % first, file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print('interrupted', file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:  # e.g. `python -m d2l_ch6 6.3 | head`
        sys.stderr.close()
        sys.exit(0)
    return 0
