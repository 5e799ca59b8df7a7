"""Generate text from a checkpoint written by ``--save``.

``python -m d2l_ch6 generate PATH --prefix 分开 --length 100`` rebuilds the
saved model in this process and writes ``--length`` characters after the
prefix: greedy by default (the book's argmax), or sampled with
``--temperature T`` and/or ``--top-k K`` (``--seed S`` makes it repeatable).
"""
import argparse

from ..core import cli, flags
from ..core.device import parse_ctx
from ..core.errors import ArgumentParser
from ..core.predict import greedy, predict, sampler
from .zoo import restore


def main(argv=None):
    p = ArgumentParser(
        prog='python -m d2l_ch6 generate', description=__doc__.split('\n')[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('checkpoint', help='a file written by --save')
    p.add_argument('--prefix', default=None,
                   help="the text to continue (default: the checkpoint's "
                   'first training prefix)')
    p.add_argument('--length', type=flags.nonnegative_int, default=100,
                   help='characters to write after the prefix')
    p.add_argument('--temperature', type=float, default=None,
                   help='sample from softmax(outputs / T) instead of argmax')
    p.add_argument('--top-k', type=int, default=None,
                   help='sample among the K most likely characters only')
    for name in ('--seed', '--ctx'):
        flags.add(p, name, 'generate')
    args = p.parse_args(argv)
    model, ckpt = restore(args.checkpoint, parse_ctx(args.ctx))
    prefix = args.prefix or ckpt.meta['hyper']['prefixes'][0]
    if args.temperature is None and args.top_k is None:
        pick = greedy
    else:
        temperature = 1.0 if args.temperature is None else args.temperature
        pick = sampler(temperature, args.top_k, args.seed)
    text = predict(model, prefix, args.length, ckpt.idx_to_char,
                   ckpt.char_to_idx, pick)
    print(text)
    return text


if __name__ == '__main__':
    cli.run(main)
