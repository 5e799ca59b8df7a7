"""Generate text from a checkpoint written by ``--save``.

``python -m d2l_ch6 generate PATH --prefix 分开 --length 100`` rebuilds the
saved model in this process and writes ``--length`` characters after the
prefix: greedy by default (the book's argmax), or sampled with
``--temperature T``, ``--top-k K`` and/or ``--top-p P`` (nucleus
sampling; ``--seed S`` makes it repeatable); ``--beam K`` searches K
hypotheses for the most likely text and prints its total log-probability
beside greedy's.

A model trained with lines kept writes lines: ``--lines N`` stops after N
of them, a prefix may hold a line break written ``\\n`` (and a tab ``\\t``,
a backslash ``\\\\``), and ``--acrostic 春夏秋冬`` writes one line per
character, each starting with it (藏头诗; ``--length`` then caps each
line).
"""
import argparse

from ..core import cli, flags
from ..core.device import parse_ctx
from ..core.errors import ArgumentParser, BadInput
from ..core.predict import (acrostic, beam_search, greedy, predict, sampler,
                            unescape)
from .zoo import restore


def probability(text):
    """A float in (0, 1] (argparse's type for --top-p)."""
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError('must be in (0, 1]')
    return value


def lines_stop(num_lines, prefix):
    """A ``stop`` for ``predict``: true at the line break that ends line
    ``num_lines`` of the text (the prefix's lines count)."""
    seen = [prefix.count('\n')]

    def stop(char):
        seen[0] += char == '\n'
        return seen[0] >= num_lines
    return stop


def first_lines(text, num_lines):
    """The first ``num_lines`` lines of ``text``, without the break that
    ends the last of them."""
    return '\n'.join(text.split('\n')[:num_lines])


def parser():
    p = ArgumentParser(
        prog='python -m d2l_ch6 generate', description=__doc__.split('\n')[0])
    p.add_argument('checkpoint', help='a file written by --save')
    p.add_argument('--prefix', default=None,
                   help="the text to continue (default: the checkpoint's "
                   'first training prefix); \\n is a line break, \\t a tab, '
                   '\\\\ a backslash')
    p.add_argument('--length', type=flags.nonnegative_int, default=100,
                   help='characters to write after the prefix (with '
                   '--acrostic: at most this many on each line)')
    flags.add(p, '--temperature', 'generate')
    p.add_argument('--top-k', type=int, default=None,
                   help='sample among the K most likely characters only')
    p.add_argument('--top-p', type=probability, default=None, metavar='P',
                   help='nucleus sampling: among the fewest most likely '
                   'characters whose probabilities add up to P')
    p.add_argument('--beam', type=flags.positive_int, default=None,
                   metavar='K', help='beam search with K hypotheses: the '
                   'most likely text it finds, with its total '
                   "log-probability and greedy's")
    p.add_argument('--lines', type=flags.positive_int, default=None,
                   metavar='N', help='stop after N lines (a model trained '
                   'with lines kept)')
    p.add_argument('--acrostic', default=None, metavar='CHARS',
                   help='one line per character, each starting with it '
                   '(a model trained with lines kept)')
    for name in ('--seed', '--ctx'):
        flags.add(p, name, 'generate')
    return p


def check_combination(args):
    """BadInput for options that exclude each other (one line)."""
    sampling = [f for f, v in (('--temperature', args.temperature),
                               ('--top-k', args.top_k),
                               ('--top-p', args.top_p)) if v is not None]
    if args.beam is not None and sampling:
        raise BadInput('--beam searches for the most likely text; it does '
                       'not sample: leave out %s' % ', '.join(sampling))
    if args.acrostic is not None:
        for flag in ('--beam', '--lines', '--prefix'):
            if getattr(args, flag[2:]) is not None:
                raise BadInput('--acrostic writes its own lines, one per '
                               'character: leave out %s' % flag)
    if args.beam is not None and args.lines is not None:
        raise BadInput('--beam scores a text of --length characters: leave '
                       'out --lines')


def main(argv=None):
    args = parser().parse_args(argv)
    check_combination(args)
    model, ckpt = restore(args.checkpoint, parse_ctx(args.ctx))
    idx_to_char, char_to_idx = ckpt.idx_to_char, ckpt.char_to_idx
    if args.temperature == 0 or (args.temperature is None and args.top_k
                                 is None and args.top_p is None):
        pick = greedy  # the book's argmax, the limit of T -> 0
    else:
        temperature = 1.0 if args.temperature is None else args.temperature
        pick = sampler(temperature, args.top_k, args.seed, args.top_p)
    if args.acrostic is not None:
        text = acrostic(model.step, model.begin_state(1),
                        unescape(args.acrostic), idx_to_char, char_to_idx,
                        pick, max_line=args.length)
        print(text)
        return text
    prefix = unescape(args.prefix) if args.prefix \
        else ckpt.meta['hyper']['prefixes'][0]
    if args.beam is not None:
        beam = beam_search(model, prefix, args.length, idx_to_char,
                           char_to_idx, args.beam)
        print(beam.text)
        print('total log-probability of the %d characters after the '
              'prefix: beam search (K=%d) %.4f, greedy %.4f%s'
              % (args.length, args.beam, beam.log_prob,
                 beam.greedy_log_prob, ' (the beam found nothing more '
                 "likely than greedy's text, printed)"
                 if beam.from_greedy else ''))
        return beam
    if args.lines is not None and '\n' not in char_to_idx:
        raise BadInput('--lines: this model was trained with its text\'s '
                       'lines turned into spaces (its vocabulary has no line '
                       'break), so it never ends a line; train with lines '
                       'kept')
    stop = None if args.lines is None else lines_stop(args.lines, prefix)
    text = predict(model, prefix, args.length, idx_to_char, char_to_idx,
                   pick, stop)
    if args.lines is not None:
        text = first_lines(text, args.lines)
    print(text)
    return text


if __name__ == '__main__':
    cli.run(main)
