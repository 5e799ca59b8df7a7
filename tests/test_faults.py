"""The faults a long run meets in real use, through the real command line:
an output that cannot be written (checked before any work), a write that
fails (the previous checkpoint untouched, no temporary file), SIGTERM and
SIGHUP (stopped as Ctrl-C, the checkpoint loads and --resume continues,
even when the signal lands in a __del__),
a damaged checkpoint (one clear error) and one written before digests
(loads, with a warning), a run shorter than pred_period (ends with its
numbers), and the three ways a GPU can be missing. Each ends in one line,
no traceback, the conventional exit status."""
import errno
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from mxnet import nd

from d2l_ch6 import __main__ as entry
from d2l_ch6.core import checkpoint, cli, device, errors
from d2l_ch6.core import trainer as train_mod
from d2l_ch6.core.errors import BadInput, OutputError, mxnet_reason
from d2l_ch6.core.models import ModelSpec
from d2l_ch6.core.trainer import Hyper, fit
from d2l_ch6.tools.zoo import build_model

from test_errors import TINY
from test_errors import cli as run_cli


def one_error(r, status=2):
    """The one 'error: ...' line of a failed run (no traceback)."""
    assert r.returncode == status, (r.returncode, r.stdout, r.stderr)
    assert 'Traceback' not in r.stderr, r.stderr
    errors = [line for line in r.stderr.splitlines()
              if line.startswith('error: ')]
    assert len(errors) == 1, r.stderr
    return errors[0]


def leftovers(folder):
    """Temporary files atomic writes or probes left in ``folder``."""
    return [f for f in os.listdir(folder) if f.startswith('.')]


# -- outputs that cannot be written, found before any work ------------------

def test_a_parent_that_is_a_file(sandbox, tmp_path):
    blocker = tmp_path / 'afile'
    blocker.write_text('x')
    start = time.time()
    for args in (['6.5', '--save', str(blocker / 'x.params')],
                 ['6.4', '--plot', str(blocker / 'sub' / 'p.png')],
                 ['bench', '--json', str(blocker / 'b.json'), '--models',
                  'rnn-gluon', '--timed-epochs', '1', '--no-book',
                  '--quiet'],
                 ['exercises', '6.2-output-size', '--quick', '--report',
                  str(blocker / 'r.md')]):
        line = one_error(run_cli(sandbox, *args, *(
            TINY if args[0].startswith('6.') else ['--ctx', 'cpu'])))
        assert str(blocker) in line and 'is a file, not a folder' in line
        assert 'epoch' not in line
    assert time.time() - start < 120  # no training ran first


def test_a_folder_that_is_the_target(sandbox, tmp_path):
    line = one_error(run_cli(sandbox, '6.5', *TINY, '--save',
                             str(tmp_path)))
    assert 'is a folder; name a file' in line


def test_no_permission_or_read_only(tmp_path, monkeypatch):
    """Where the folder refuses a file (a read-only file system, no
    permission: what root never meets), the check says so."""
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EROFS, os.strerror(errno.EROFS),
                              str(tmp_path))
    monkeypatch.setattr('d2l_ch6.core.files.tempfile.mkstemp', refuse)
    with pytest.raises(OutputError, match='Read-only file system'):
        cli.options(cli.parser('rnn', 'x').parse_args(
            ['--save', str(tmp_path / 'a.params')]))


def test_a_folder_that_can_be_made_is_made(tmp_path):
    target = tmp_path / 'new' / 'deeper' / 'a.params'
    opts = cli.options(cli.parser('rnn', 'x').parse_args(
        ['--save', str(target)]))
    assert opts.save == str(target) and target.parent.is_dir()
    assert leftovers(target.parent) == []


# -- writes that fail -------------------------------------------------------

def small_tmpfs(tmp_path):
    """A 1 MiB tmpfs to fill, or None where this machine cannot mount."""
    mount = tmp_path / 'small'
    mount.mkdir()
    r = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=1m', 'tmpfs',
                        str(mount)], capture_output=True)
    return mount if r.returncode == 0 else None


def test_a_full_disk_is_one_line_and_keeps_the_old_checkpoint(sandbox,
                                                             tmp_path):
    mount = small_tmpfs(tmp_path)
    if mount is None:
        pytest.skip('cannot mount a tmpfs here (the injected-error test '
                    'below covers the path)')
    try:
        path = mount / 'rnn.params'
        r = run_cli(sandbox, '6.5', *TINY, '--save', str(path))
        assert r.returncode == 0, r.stderr  # fits: 16 hidden units
        before = path.read_bytes()
        (mount / 'filler').write_bytes(b'\0' * (1024 * 1024 - len(before)
                                               - 4096))
        r = run_cli(sandbox, '6.5', *TINY, '--epochs', '2', '--save',
                    str(path))
        line = one_error(r)
        assert 'cannot write %s' % path in line
        assert 'No space left on device' in line
        assert path.read_bytes() == before
        assert leftovers(mount) == []
    finally:
        subprocess.run(['umount', str(mount)])


@pytest.mark.parametrize('error', [
    OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)),
    OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))])
def test_a_failing_write_is_one_line(error, tmp_path, monkeypatch, capsys):
    path = tmp_path / 'rnn.params'
    assert entry.main(['6.5', *TINY, '--quiet', '--save', str(path)]) == 0
    before = path.read_bytes()

    def broken(fname, arrays):
        with open(fname, 'wb') as f:
            f.write(b'half')
        raise error
    monkeypatch.setattr(checkpoint.nd, 'save', broken)
    with pytest.raises(SystemExit) as e:
        entry.main(['6.5', *TINY, '--quiet', '--save', str(path)])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert 'error: cannot write %s: %s' % (path, error.strerror) in err
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_mxnet_errors_are_their_meaningful_line(capsys):
    from mxnet.base import MXNetError
    text = ('Traceback (most recent call last):\n'
            '  File "../src/io/local_filesys.cc", line 209\n'
            'MXNetError: Check failed: fp_ != nullptr: Cannot open file')

    def fail(argv):
        raise MXNetError(text)
    with pytest.raises(SystemExit) as e:
        cli.run(fail)
    assert e.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err == ('error: mxnet failed: Check failed: fp_ != nullptr: '
                   'Cannot open file')
    assert mxnet_reason(MXNetError('[10:11:12] ../src/c.cc:9: Compile with '
                                   'USE_CUDA=1')) == 'Compile with USE_CUDA=1'


# -- signals ------------------------------------------------------------------

def _default_stop_signals():
    # as from a terminal, however pytest was started (nohup ignores SIGHUP,
    # a background job SIGINT, and a child inherits that)
    for s in errors.STOP_SIGNALS:
        signal.signal(s, signal.SIG_DFL)


def start(sandbox, *args):
    return subprocess.Popen([sys.executable, '-m', 'd2l_ch6', *args],
                            cwd=str(sandbox['work']), env=sandbox['env'],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=_default_stop_signals)


@pytest.mark.parametrize('signame, status, says', [
    ('SIGINT', 130, 'interrupted'), ('SIGTERM', 143, 'stopped by SIGTERM'),
    ('SIGHUP', 129, 'stopped by SIGHUP')])
def test_a_signal_stops_as_ctrl_c(sandbox, tmp_path, signame, status, says):
    path = tmp_path / 'r.params'
    args = ['6.4', '--sampling', 'random', '--epochs', '400',
            '--num-chars', '2000', '--num-hiddens', '16', '--ctx', 'cpu',
            '--pred-period', '1000', '--save', str(path)]
    p = start(sandbox, *args)
    deadline = time.time() + 120
    while not path.exists() and time.time() < deadline:
        time.sleep(0.1)
    assert path.exists(), 'no checkpoint was written'
    time.sleep(0.5)  # somewhere in a later epoch, or in a save
    p.send_signal(getattr(signal, signame))
    out, err = p.communicate(timeout=120)
    assert p.returncode == status, err
    assert 'Traceback' not in err
    assert says in err
    assert '--resume %s' % path in err
    epoch = int(re.search(r'last complete epoch \((\d+)\)', err).group(1))
    assert leftovers(tmp_path) == []
    ckpt = checkpoint.load(str(path))
    assert ckpt.epoch == epoch >= 1
    r = run_cli(sandbox, *(args[:4] + [str(epoch + 2)] + args[5:]),
                '--resume', str(path), timeout=300)
    assert r.returncode == 0, r.stderr
    assert 'resuming %s from epoch %d' % (path, epoch) in r.stdout
    assert checkpoint.load(str(path)).epoch == epoch + 2


def test_a_signal_before_the_first_checkpoint(sandbox, tmp_path):
    path = tmp_path / 'never.params'
    # a long first epoch: the whole corpus, 512 hidden units
    p = start(sandbox, '6.5', '--ctx', 'cpu', '--save', str(path),
              '--num-chars', 'all', '--num-hiddens', '512')
    while not p.stdout.readline().startswith('untrained:'):
        pass  # 6.5 prints its untrained model's text, then trains
    time.sleep(0.5)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 143 and 'Traceback' not in err
    assert not path.exists() and leftovers(tmp_path) == []


class FreedInside:
    """An object whose __del__ is where the signal lands: Python prints the
    exception a handler raises there and goes on, as it does when mxnet
    frees an NDArray while SIGTERM arrives."""

    def __del__(self):
        errors.stop_on_signal(signal.SIGTERM)


def test_a_signal_swallowed_by_a_del_still_stops(capsys):
    def main(argv):
        FreedInside()  # freed at once; the handler's Terminated is dropped
    with pytest.raises(SystemExit) as e:
        cli.run(main, [])
    assert e.value.code == 143
    err = capsys.readouterr().err
    assert err == 'stopped by SIGTERM\n'  # no 'Exception ignored' traceback
    errors.raise_pending_stop()  # run() forgot it: nothing left to raise


def test_a_signal_ignored_at_start_stays_ignored():
    seen = {}

    def main(argv):
        seen.update({s: signal.getsignal(s) for s in errors.STOP_SIGNALS})
    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    try:
        cli.run(main, [])
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, before)
    assert seen[signal.SIGHUP] is signal.SIG_IGN
    assert seen[signal.SIGTERM] is errors.stop_on_signal


@pytest.mark.filterwarnings('ignore::pytest.PytestUnraisableExceptionWarning')
def test_fit_stops_at_the_batch_after_a_swallowed_signal(jay, ctx, capsys):
    corpus_indices, char_to_idx, idx_to_char, vocab_size = jay
    model = build_model(ModelSpec('gluon', 'rnn', 8), vocab_size, ctx)
    model.prepare()
    batches = []
    real_step = train_mod.Trainer.step

    def step(self, *args, **kwargs):
        batches.append(1)
        if len(batches) == 3:
            FreedInside()
        return real_step(self, *args, **kwargs)
    hp = Hyper(8, 100, 35, 4, 1.0, 1.0, 1000, 5, ('分开',))
    try:
        with pytest.MonkeyPatch.context() as m:
            m.setattr(train_mod.Trainer, 'step', step)
            with pytest.raises(errors.Terminated):
                fit(model, corpus_indices[:2000], idx_to_char, char_to_idx,
                    hp, ctx=ctx, log=lambda *a: None)
    finally:
        errors.clear_pending_stop()
    assert len(batches) == 3  # not 100 epochs of 14 batches


# -- damaged and old checkpoints ---------------------------------------------

@pytest.fixture
def saved(sandbox, tmp_path):
    path = tmp_path / 'rnn.params'
    r = run_cli(sandbox, '6.5', *TINY, '--save', str(path))
    assert r.returncode == 0, r.stderr
    return path


def flip(path, offset, n=64):
    data = bytearray(path.read_bytes())
    for i in range(offset, offset + n):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize('where', [0.3, 0.5, 0.9])
def test_flipped_bytes_are_one_clear_error(sandbox, saved, where):
    flip(saved, int(saved.stat().st_size * where))
    line = one_error(run_cli(sandbox, 'generate', str(saved), '--ctx',
                             'cpu'))
    assert str(saved) in line
    assert 'damaged' in line or 'not a complete' in line


def test_damage_in_the_parameters_is_caught_by_the_digest(saved):
    """Flipped bytes that still parse: only the digest can tell."""
    ckpt = checkpoint.load(str(saved))
    name = sorted(ckpt.arrays)[0]
    arrays = {'param:' + k: v for k, v in ckpt.arrays.items()}
    arrays['param:' + name] = arrays['param:' + name] + 1e-3
    meta = nd.array(np.frombuffer(__import__('json').dumps(
        ckpt.meta, ensure_ascii=False).encode(), dtype=np.uint8),
        dtype='uint8')
    nd.save(str(saved), dict(arrays, meta=meta))
    with pytest.raises(checkpoint.CheckpointError,
                       match='damaged: parameter %s' % name):
        checkpoint.load(str(saved))


def test_a_checkpoint_without_digest_loads_with_a_warning(sandbox, saved):
    ckpt = checkpoint.load(str(saved))
    meta = {k: v for k, v in ckpt.meta.items() if k != 'digest'}
    meta['version'] = 1
    arrays = {'param:' + k: v for k, v in ckpt.arrays.items()}
    arrays['meta'] = nd.array(np.frombuffer(__import__('json').dumps(
        meta, ensure_ascii=False).encode(), dtype=np.uint8), dtype='uint8')
    nd.save(str(saved), arrays)
    r = run_cli(sandbox, 'generate', str(saved), '--ctx', 'cpu',
                '--length', '5')
    assert r.returncode == 0, r.stderr
    warnings = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1 and warnings[0].startswith('warning: ')
    assert 'no digest' in warnings[0]
    assert r.stdout.startswith('分开')


# -- short runs end with their numbers ---------------------------------------

def test_a_short_run_prints_its_last_epoch(sandbox):
    r = run_cli(sandbox, '6.4', '--epochs', '2', '--num-hiddens', '16',
                '--ctx', 'cpu', '--pred-len', '5')
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    for sampling in ('random', 'consecutive'):
        i = lines.index(next(line for line in lines
                             if line.startswith(sampling)))
        assert re.match(r'epoch 2, perplexity [0-9.]+, time', lines[i + 1])
        assert lines[i + 2].startswith(' - 分开')
        assert lines[i + 3].startswith(' - 不分开')
    assert not any(line.startswith('epoch 1,') for line in lines)


# -- GPUs ---------------------------------------------------------------------

@pytest.mark.parametrize('cuda, gpus, reason, says', [
    (False, 0, None, 'built without CUDA'),
    (True, 0, None, 'mxnet sees no GPU'),
    (True, 1, None, 'mxnet sees 1 GPU(s), gpu:0 to gpu:0'),
    (True, 2, 'CUDA: no kernel image is available for execution on the '
     'device', 'is there, but mxnet cannot compute on it: CUDA: no kernel'),
])
def test_three_gpu_faults_three_messages(cuda, gpus, reason, says,
                                         monkeypatch, capsys):
    monkeypatch.setattr(device, 'cuda_build', lambda: cuda)
    monkeypatch.setattr(device, 'num_gpus', lambda: gpus)
    monkeypatch.setattr(device, 'probe', lambda ctx: reason)
    index = 1 if (cuda and gpus == 1) else 0
    with pytest.raises(BadInput, match=re.escape(says)):
        device.parse_ctx('gpu:%d' % index)
    with pytest.raises(SystemExit) as e:
        entry.main(['6.5', '--ctx', 'gpu:%d' % index])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and says in err and '--ctx cpu' in err
