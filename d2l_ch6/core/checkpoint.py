"""Checkpoints: the trained parameters with everything needed to use them in
a new process (the model's spec, the vocabulary, the hyper-parameters) and
to continue training exactly (the trainer's whole state: the epoch and
batch, the sampler's random state, the optimizer's learning rate, step
count and moments, early stopping's count and best parameters, the
history).

One file, written by ``nd.save``: the parameters as ``param:<name>``, the
trainer's arrays as ``trainer:<name>`` (``trainer:best:<name>``: the
parameters of the best held-out perplexity, what ``generate`` uses) and
the metadata as UTF-8 JSON bytes in a uint8 array ``meta``. It is written to a
temporary file beside the target, flushed to the disk and renamed, so a
checkpoint is never half-written, even after a power loss. The metadata
carries a sha256 digest of every parameter array and of the metadata
itself, checked on load: a damaged file is one clear error, not a model
that quietly generates from flipped bytes. (Checkpoints of version 1 have
no digest, those of version 2 no trainer state; both load, with a
warning that says what they lack.)
"""
import hashlib
import json
import os
import warnings
from dataclasses import asdict

import numpy as np
from mxnet import nd
from mxnet.base import MXNetError

from .files import atomic_path
from .errors import D2LError, OutputError, mxnet_reason
from .models import ModelSpec
from .measure import History

FORMAT, VERSION = 'd2l_ch6-checkpoint', 3


class CheckpointError(D2LError, ValueError):
    """A checkpoint that is missing, damaged or of another model."""


def save(path, model, idx_to_char, hp, trainer=None, **extra):
    """Write ``model`` (one with a ``spec``: see ``zoo.build_model``) with
    its vocabulary, hyper-parameters and ``extra`` metadata, and the whole
    state of the ``trainer`` training it (:meth:`Trainer.state_dict`)."""
    meta = dict(format=FORMAT, version=VERSION, spec=asdict(model.spec),
                vocab=list(idx_to_char), hyper=asdict(hp),
                epoch=trainer.epoch if trainer is not None else 0,
                history=(trainer.history if trainer is not None
                         else History()).asdict(), **extra)
    arrays = {'param:' + k: v for k, v in model.state_dict().items()}
    if trainer is not None:
        meta['trainer'], state = trainer.state_dict()
        arrays.update({'trainer:' + k: v for k, v in state.items()})
    meta['digest'] = dict(
        algorithm='sha256',
        arrays={name: array_digest(a) for name, a in arrays.items()},
        meta=meta_digest(meta))
    arrays['meta'] = nd.array(np.frombuffer(
        json.dumps(meta, ensure_ascii=False).encode('utf-8'),
        dtype=np.uint8), dtype='uint8')
    with atomic_path(path) as tmp:
        try:
            nd.save(tmp, arrays)
        except MXNetError as e:  # mxnet's own file writer failed
            raise OutputError('cannot write %s: %s' % (
                path, _write_reason(tmp, e))) from None
    return path


def _write_reason(tmp, error):
    """Why mxnet could not write ``tmp``. Its message names a failed check
    ('FileStream.Write incomplete'), not the OS's reason, so the write is
    tried again with Python's own file, whose OSError carries it (no
    space left, quota exceeded); the temporary file goes anyway."""
    try:
        with open(tmp, 'ab') as f:
            f.write(bytes(1 << 16))
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        return e.strerror or str(e)
    return mxnet_reason(error)


def array_digest(array):
    """sha256 of an array's dtype, shape and bytes."""
    a = array.asnumpy()
    h = hashlib.sha256(('%s %s\n' % (a.dtype.str, a.shape)).encode())
    h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def meta_digest(meta):
    """sha256 of the metadata without its digest, as canonical JSON."""
    plain = {k: v for k, v in meta.items() if k != 'digest'}
    return hashlib.sha256(json.dumps(plain, sort_keys=True,
                                     ensure_ascii=False).encode('utf-8')
                          ).hexdigest()


# the first 8 bytes of a file nd.save writes (mxnet's list magic, 0x112)
MAGIC = (0x112).to_bytes(8, 'little')


def is_checkpoint(path):
    """True if ``path`` looks like a file of :func:`save` (mxnet's array
    list with our names at its end); cheap: two short reads."""
    try:
        with open(path, 'rb') as f:
            if f.read(8) != MAGIC:
                return False
            f.seek(max(0, os.fstat(f.fileno()).st_size - (1 << 20)))
            tail = f.read()
    except OSError:
        return False
    return b'meta' in tail and b'param:' in tail


def check_replaceable(path, flag='--save'):
    """OutputError if ``path`` holds a file that is not a checkpoint: a
    checkpoint is only ever written over another one."""
    if os.path.isfile(path) and not is_checkpoint(path):
        raise OutputError('%s %s would replace a file that is not a d2l_ch6 '
                          'checkpoint: name another file (or move that one '
                          'away)' % (flag, path))


class Checkpoint:
    """A loaded checkpoint: ``meta`` (dict), ``arrays`` ({name: NDArray}:
    the parameters as training left them), ``trainer_arrays`` and views of
    the metadata."""

    def __init__(self, path, meta, arrays, trainer_arrays=None):
        self.path, self.meta, self.arrays = path, meta, arrays
        self.trainer_arrays = trainer_arrays or {}
        self.spec = ModelSpec(**meta['spec'])
        self.idx_to_char = meta['vocab']
        self.char_to_idx = {c: i for i, c in enumerate(self.idx_to_char)}
        self.epoch = meta['epoch']
        self.trainer = meta.get('trainer')  # None: version 1 or 2

    @property
    def best_arrays(self):
        """The parameters to use: those of the best held-out perplexity
        where the run had a held-out text, else the last ones."""
        best = {k[len('best:'):]: v for k, v in self.trainer_arrays.items()
                if k.startswith('best:')}
        return best or self.arrays

    def history(self):
        """The History saved with the parameters (to continue it)."""
        return History.fromdict(self.meta['history'])


# the names a section with several models puts into --save PATH
# (cli.run_path: gru.params -> gru-scratch.params, gru-gluon.params)
RUN_NAMES = ('scratch', 'gluon', 'random', 'consecutive', 'uni', 'bi')


def find(path):
    """``path``, or, where a section that trains several models wrote one
    checkpoint per model beside it, the last one written (said in a
    warning). CheckpointError where there is none."""
    if os.path.isfile(path):
        return path
    root, ext = os.path.splitext(path)
    runs = [p for p in ('%s-%s%s' % (root, name, ext) for name in RUN_NAMES)
            if os.path.isfile(p)]
    if not runs:
        raise CheckpointError('no checkpoint at %s (train with --save %s '
                              'first)' % (path, path))
    chosen = max(runs, key=os.path.getmtime)
    if len(runs) > 1:
        warnings.warn('%s: the section saved one checkpoint per model (%s); '
                      'using %s, the last written' % (
                          path, ', '.join(runs), chosen), stacklevel=2)
    return chosen


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
        checked = verify(path, meta, arrays)
        params = {k[len('param:'):]: v for k, v in arrays.items()
                  if k.startswith('param:')}
        trainer = {k[len('trainer:'):]: v for k, v in arrays.items()
                   if k.startswith('trainer:')}
        ckpt = Checkpoint(path, meta, params, trainer)
    except CheckpointError:
        raise
    except (MXNetError, KeyError, AssertionError, ValueError,
            TypeError, AttributeError):
        raise CheckpointError(
            '%s is not a complete d2l_ch6 checkpoint (truncated, damaged or '
            'another kind of file): train again with --save' % path) from None
    if not checked:
        warnings.warn('%s has no digest (a checkpoint of an earlier '
                      'd2l_ch6): damage to it cannot be detected' % path,
                      stacklevel=2)
    return ckpt


def verify(path, meta, arrays):
    """CheckpointError unless the arrays and the metadata match the digest
    saved with them; False if there is no digest to check (version 1)."""
    digest = meta.get('digest')
    if digest is None:
        return False
    if meta.get('version', 1) < 3:  # version 2 named the parameters only
        arrays = {k: v for k, v in arrays.items() if k.startswith('param:')}
        digest = dict(digest, arrays={'param:' + k: v for k, v in
                                      digest.get('arrays', {}).items()})
    damaged = None
    if meta_digest(meta) != digest.get('meta'):
        damaged = 'its metadata'
    elif sorted(arrays) != sorted(digest.get('arrays', {})):
        damaged = 'the list of its arrays'
    else:
        for name, array in arrays.items():
            if array_digest(array) != digest['arrays'][name]:
                damaged = 'parameter %s' % name[len('param:'):] \
                    if name.startswith('param:') else 'array %s' % name
                break
    if damaged:
        raise CheckpointError(
            '%s is damaged: %s does not match the sha256 digest written '
            'with it (the file changed after it was saved). Use another '
            'copy or train again with --save' % (path, damaged))
    return True


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
            'corpus has %d): use the same --corpus, --num-chars, --lower, '
            '--min-freq and --valid-frac'
            % (ckpt.path, len(ckpt.idx_to_char), len(idx_to_char)))
