"""Contexts: the book's try_gpu/try_all_gpus and the --ctx parser.

MXNet is asynchronous: creating an array on a missing GPU may not fail until
something reads it back, so every probe here computes and reads a value.
"""
import mxnet as mx
from mxnet import nd

from .errors import BadInput

CUDA_HINT = ('install a CUDA build of mxnet (e.g. pip install mxnet-cu112'
             '==1.9.1, matching your CUDA) or use --ctx cpu')


def usable(ctx):
    """True if ``ctx`` really computes (a probe that reads the result)."""
    try:
        return (nd.ones((1,), ctx=ctx) + 1).asscalar() == 2
    except mx.base.MXNetError:
        return False


def num_gpus():
    """How many GPUs mxnet sees (0 on a CPU-only build)."""
    try:
        return mx.context.num_gpus()
    except mx.base.MXNetError:
        return 0


def try_gpu():
    """If a GPU is usable, return mx.gpu(0); else return mx.cpu()."""
    return mx.gpu(0) if num_gpus() and usable(mx.gpu(0)) else mx.cpu()


def try_all_gpus():
    """Return all usable GPUs, or [mx.cpu()] if there is none."""
    ctxes = [mx.gpu(i) for i in range(num_gpus()) if usable(mx.gpu(i))]
    return ctxes or [mx.cpu()]


def parse_ctx(spec):
    """'auto' | 'cpu' | 'gpu' | 'gpu:N' (or an mx.Context) -> mx.Context.

    'auto' is the book's try_gpu(). Asking for a GPU that does not exist is
    one BadInput that says what to do.
    """
    if isinstance(spec, mx.Context):
        ctx = spec
    else:
        text = str(spec).strip().lower()
        if text == 'auto':
            return try_gpu()
        kind, _, index = text.partition(':')
        if kind not in ('cpu', 'gpu') or (index and not index.isdigit()):
            raise BadInput(
                'unknown context %r: use auto, cpu, gpu or gpu:N' % spec)
        ctx = mx.Context(kind, int(index or 0))
    if ctx.device_type == 'gpu':
        n = num_gpus()
        if ctx.device_id >= n or not usable(ctx):
            raise BadInput(
                'GPU %d was asked for, but mxnet sees %d GPU(s) here: %s'
                % (ctx.device_id, n, CUDA_HINT))
    return ctx


def parse_ctx_list(spec):
    """'cpu,gpu' -> [mx.cpu(), mx.gpu(0)] (for the benchmark)."""
    return [parse_ctx(s) for s in str(spec).split(',') if s.strip()]
