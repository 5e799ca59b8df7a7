"""The benchmark's peer: the same model trained in PyTorch, in a process of
its own (``peer_torch.py``, which is all that imports torch), driven one
epoch at a time over a pipe so that its epochs interleave with ours."""
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict

import numpy as np

from ..core.env import physical_cores
from ..core.errors import BadInput

PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                    'peer_torch.py')


def threads():
    """The OpenMP threads this process runs with (the peer gets as many)."""
    try:
        return int(os.environ['OMP_NUM_THREADS'])
    except (KeyError, ValueError):
        return physical_cores()


def peer_version():
    """PyTorch's version if it imports in a new process, else None."""
    try:
        r = subprocess.run([sys.executable, PEER, '--check'],
                           capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.SubprocessError):
        return None
    return json.loads(r.stdout)['torch'] if r.returncode == 0 else None


class Peer:
    """The same model in PyTorch, from the same ``weights``, in a process
    of its own (``peer_torch.py``) that trains one epoch when asked:
    ``epoch()`` returns (its seconds, its perplexity). A context manager:
    the process ends with the ``with``."""

    def __init__(self, spec, data, hp, weights):
        corpus_indices, _, _, vocab_size = data
        self.spec = spec
        self.tmp = tempfile.TemporaryDirectory(prefix='d2l_ch6-peer-')
        arrays = os.path.join(self.tmp.name, 'arrays.npz')
        np.savez(arrays, corpus=np.asarray(corpus_indices, dtype=np.int32),
                 **{'w:' + k: v for k, v in weights.items()})
        job = os.path.join(self.tmp.name, 'job.json')
        with open(job, 'w', encoding='utf-8') as f:
            json.dump(dict(arrays=arrays, spec=asdict(spec),
                           vocab_size=vocab_size, threads=threads(),
                           hyper=dict(batch_size=hp.batch_size,
                                      num_steps=hp.num_steps, lr=hp.lr,
                                      clipping_theta=hp.clipping_theta)),
                      f)
        self.process = subprocess.Popen(
            [sys.executable, PEER, job], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=dict(os.environ, OMP_NUM_THREADS=str(threads())))
        self.info = self._answer()
        self.perplexity = []

    def _answer(self):
        line = self.process.stdout.readline()
        if not line:
            err = self.process.stderr.read().strip().splitlines()
            raise BadInput('the PyTorch peer failed on %s: %s' % (
                self.spec.describe(), err[-1] if err else 'no output'))
        return json.loads(line)

    def epoch(self):
        self.process.stdin.write('epoch\n')
        self.process.stdin.flush()
        answer = self._answer()
        self.perplexity.append(answer['perplexity'])
        return answer['seconds']

    def phases(self):
        """One epoch timed part by part (as :func:`phase_epoch`)."""
        self.process.stdin.write('phases\n')
        self.process.stdin.flush()
        answer = self._answer()
        phases = dict(answer['phases'], epoch=answer['seconds'])
        phases['rest'] = phases['epoch'] - sum(
            phases[k] for k in ('model', 'clip', 'update'))
        return phases

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=60)
        self.tmp.cleanup()
