"""Checkpoints: the trained parameters with everything needed to use them in
a new process (the model's spec, the vocabulary, the hyper-parameters, the
history and, for ``--resume``, the sampler's random state).

One file, written by ``nd.save``: the parameters as ``param:<name>`` and the
metadata as UTF-8 JSON bytes in a uint8 array ``meta``. It is written to a
temporary file beside the target and renamed, so a checkpoint is never
half-written.
"""
import json
import os
from dataclasses import asdict

import numpy as np
from mxnet import nd
from mxnet.base import MXNetError

from ._io import atomic_path
from .errors import D2LError
from .models import ModelSpec
from .train import History

FORMAT, VERSION = 'd2l_ch6-checkpoint', 1


class CheckpointError(D2LError, ValueError):
    """A checkpoint that is missing, damaged or of another model."""


def save(path, model, idx_to_char, hp, history=None, **extra):
    """Write ``model`` (one with a ``spec``: see ``zoo.build_model``) with
    its vocabulary, hyper-parameters, history and ``extra`` metadata."""
    history = history or History()
    meta = dict(format=FORMAT, version=VERSION, spec=asdict(model.spec),
                vocab=list(idx_to_char), hyper=asdict(hp),
                epoch=history.epochs[-1] if history.epochs else 0,
                history={k: getattr(history, k) for k in (
                    'epochs', 'perplexity', 'seconds', 'valid_perplexity')},
                **extra)
    arrays = {'param:' + k: v for k, v in model.state_dict().items()}
    arrays['meta'] = nd.array(np.frombuffer(
        json.dumps(meta, ensure_ascii=False).encode('utf-8'),
        dtype=np.uint8), dtype='uint8')
    with atomic_path(path) as tmp:
        nd.save(tmp, arrays)
    return path


class Checkpoint:
    """A loaded checkpoint: ``meta`` (dict), ``arrays`` ({name: NDArray})
    and views of the metadata."""

    def __init__(self, path, meta, arrays):
        self.path, self.meta, self.arrays = path, meta, arrays
        self.spec = ModelSpec(**meta['spec'])
        self.idx_to_char = meta['vocab']
        self.char_to_idx = {c: i for i, c in enumerate(self.idx_to_char)}
        self.epoch = meta['epoch']

    def history(self):
        """The History saved with the parameters (to continue it)."""
        return History(**{k: list(v) for k, v in self.meta['history'].items()})


def load(path):
    """Read a checkpoint; CheckpointError if it is missing, truncated or
    not a d2l_ch6 checkpoint."""
    if not os.path.isfile(path):
        raise CheckpointError('no checkpoint at %s (train with --save %s '
                              'first)' % (path, path))
    try:
        arrays = nd.load(path)
        meta = json.loads(bytes(arrays.pop('meta').asnumpy()).decode())
        assert meta['format'] == FORMAT and isinstance(arrays, dict)
        params = {k[len('param:'):]: v for k, v in arrays.items()
                  if k.startswith('param:')}
        return Checkpoint(path, meta, params)
    except (MXNetError, KeyError, AssertionError, ValueError,
            TypeError, AttributeError):
        raise CheckpointError(
            '%s is not a complete d2l_ch6 checkpoint (truncated, damaged or '
            'another kind of file): train again with --save' % path) from None


def check_compatible(ckpt, spec, idx_to_char):
    """CheckpointError unless ``ckpt`` holds a ``spec`` model trained on
    the vocabulary ``idx_to_char`` (to resume it)."""
    if ckpt.spec != spec:
        raise CheckpointError(
            '%s holds a %s; this run trains a %s: resume with the flags it '
            'was trained with' % (ckpt.path, ckpt.spec.describe(),
                                  spec.describe()))
    if list(ckpt.idx_to_char) != list(idx_to_char):
        raise CheckpointError(
            '%s was trained on another vocabulary (%d characters; this '
            'corpus has %d): use the same --corpus and --num-chars'
            % (ckpt.path, len(ckpt.idx_to_char), len(idx_to_char)))
