"""Contexts: the book's try_gpu/try_all_gpus and the --ctx parser.

MXNet is asynchronous: creating an array on a missing GPU may not fail until
something reads it back, so every probe here computes and reads a value.
"""
import mxnet as mx
from mxnet import nd

from .errors import BadInput, mxnet_reason

CUDA_BUILD = ('install the CUDA build of mxnet that matches your CUDA (pip '
              'uninstall -y mxnet && pip install mxnet-cu112==1.9.1, or '
              'cu102 ... cu117)')


def cuda_build():
    """True if this mxnet was built with CUDA (the PyPI ``mxnet`` wheel is
    not)."""
    try:
        return mx.runtime.Features().is_enabled('CUDA')
    except Exception:  # a build without the feature list
        return num_gpus() > 0


def probe(ctx):
    """None if ``ctx`` really computes (a probe that reads its result
    back), else mxnet's reason in one line."""
    try:
        if (nd.ones((1,), ctx=ctx) + 1).asscalar() == 2:
            return None
        return 'a probe computed a wrong value'
    except mx.base.MXNetError as e:
        return mxnet_reason(e)


def usable(ctx):
    """True if ``ctx`` really computes."""
    return probe(ctx) is None


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
        check_gpu(ctx.device_id)
    return ctx


def check_gpu(index):
    """BadInput unless GPU ``index`` computes; three faults, three
    messages: a CPU-only mxnet, a GPU that is not there, and a GPU mxnet
    sees but cannot compute on (its reason, e.g. no kernel image for the
    GPU's architecture)."""
    if not cuda_build():
        raise BadInput('GPU %d was asked for, but this mxnet is built '
                       'without CUDA (the mxnet wheel on PyPI is CPU-only): '
                       '%s, or use --ctx cpu' % (index, CUDA_BUILD))
    n = num_gpus()
    if index >= n:
        raise BadInput(
            'GPU %d was asked for, but mxnet sees %s: %s' % (
                index, 'no GPU (is the NVIDIA driver installed? nvidia-smi '
                'lists the GPUs it sees)' if n == 0 else '%d GPU(s), gpu:0 '
                'to gpu:%d' % (n, n - 1), 'use --ctx gpu:N below that, or '
                '--ctx cpu' if n else 'use --ctx cpu'))
    reason = probe(mx.gpu(index))
    if reason is not None:
        raise BadInput(
            'GPU %d is there, but mxnet cannot compute on it: %s. This '
            'mxnet build may have no code for this GPU (each mxnet-cu* '
            'wheel stops at the GPUs its CUDA knew) or may not match the '
            'driver: %s, or use --ctx cpu' % (index, reason, CUDA_BUILD))


def parse_ctx_list(spec):
    """'cpu,gpu' -> [mx.cpu(), mx.gpu(0)] (for the benchmark)."""
    return [parse_ctx(s) for s in str(spec).split(',') if s.strip()]
