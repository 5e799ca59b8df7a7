"""Bad input, through the real command line: each case exits non-zero with
one clear message that says what to do, and no Python traceback. Then
what must not be lost: an interrupted run keeps its last complete epoch,
a diverged run says where it diverged, the same seed gives the same run."""
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from d2l_ch6.core import checkpoint, corpus

TINY = ['--epochs', '1', '--pred-period', '1', '--pred-len', '5',
        '--num-hiddens', '16', '--ctx', 'cpu']


def cli(sandbox, *args, timeout=300):
    return subprocess.run([sys.executable, '-m', 'd2l_ch6', *args],
                          cwd=str(sandbox['work']), env=sandbox['env'],
                          capture_output=True, text=True, timeout=timeout)


def spoil(sandbox, content):
    (sandbox['corpora'] / corpus.CORPORA['jaychou'].file).write_bytes(content)


def saved_model(sandbox):
    path = sandbox['tmp'] / 'rnn.params'
    r = cli(sandbox, '6.5', *TINY, '--save', str(path))
    assert r.returncode == 0, r.stderr
    return path


# (id, how to set the case up, argv, what the message must say)
CASES = [
    ('corpus missing, no network',
     lambda s: (s['corpora'] / corpus.CORPORA['jaychou'].file).unlink(),
     ['6.3'], 'corpus file jaychou_lyrics.txt.zip not found'),
    ('corrupt zip', lambda s: spoil(s, b'PK\x03\x04 not really a zip'),
     ['6.3'], 'wrong sha1'),
    ('wrong sha1', lambda s: spoil(s, b'another version of the lyrics'),
     ['6.5'] + TINY, 'Download it by hand from'),
    ('empty corpus', lambda s: spoil(s, b''), ['6.3'], 'wrong sha1'),
    ('too-short corpus', None, ['6.5', '--num-chars', '1'] + TINY,
     'needs at least 2'),
    ('prefix outside the vocabulary', None,
     ['6.5', '--prefixes', '分开☃'] + TINY, "not in the vocabulary: '☃'"),
    ('batch longer than the corpus', None,
     ['6.4', '--num-chars', '300', '--batch-size', '32'] + TINY,
     'yields no batch at all'),
    ('num_steps 0', None, ['6.5', '--num-steps', '0'] + TINY,
     'must be a positive integer'),
    ('num_steps negative', None, ['6.4', '--num-steps', '-3'] + TINY,
     'must be a positive integer'),
    ('lr 0', None, ['6.5', '--lr', '0'] + TINY,
     'learning rate must be positive'),
    ('lr negative', None, ['6.7', '--lr', '-1'] + TINY,
     'argument --lr: must be 0 or a number in'),
    ('unknown ctx', None, ['6.5', '--ctx', 'tpu'] + TINY[:-2],
     'unknown context'),
    ('GPU that does not exist', None, ['6.5', '--ctx', 'gpu:3'] + TINY[:-2],
     'GPU 3 was asked for'),
    ('unknown section', None, ['6.11'], 'unknown section or command'),
    ('unknown exercise', None, ['exercises', '6.4-nonsense', '--quick'],
     '6.4-nonsense'),
    ('unknown corpus', None, ['6.3', '--corpus', 'shakespeare'],
     "no corpus 'shakespeare': not a built-in corpus"),
    ('negative clipping', None, ['6.5', '--clip', '-1'] + TINY,
     'argument --clip: must be 0 or a number in'),
    ('valid fraction of 1', None, ['6.5', '--valid-frac', '1'] + TINY,
     'must be in [0, 1)'),
    ('checkpoint of another model',
     lambda s: saved_model(s),
     ['6.7', '--impl', 'scratch', '--resume', '{tmp}/rnn.params'] + TINY,
     'holds a rnn.RNN'),
    ('checkpoint of another vocabulary',
     lambda s: saved_model(s),
     ['6.5', '--num-chars', '5000', '--resume', '{tmp}/rnn.params'] + TINY,
     'another vocabulary'),
    ('truncated checkpoint',
     lambda s: (s['tmp'] / 'cut.params').write_bytes(
         saved_model(s).read_bytes()[:-100]),
     ['generate', '{tmp}/cut.params'], 'not a complete d2l_ch6 checkpoint'),
    ('missing checkpoint', None, ['generate', '{tmp}/none.params'],
     'no checkpoint at'),
    ('negative generation length', lambda s: saved_model(s),
     ['generate', '{tmp}/rnn.params', '--length', '-5'], 'must be >= 0'),
    ('negative temperature', lambda s: saved_model(s),
     ['generate', '{tmp}/rnn.params', '--temperature', '-1'],
     'argument --temperature'),
]


@pytest.mark.parametrize('name, prepare, argv, message', CASES,
                         ids=[c[0] for c in CASES])
def test_bad_input_gets_one_clear_message(sandbox, name, prepare, argv,
                                          message):
    if prepare is not None:
        prepare(sandbox)
    argv = [a.format(tmp=sandbox['tmp']) for a in argv]
    r = cli(sandbox, *argv)
    assert r.returncode != 0, r.stdout
    assert 'Traceback' not in r.stderr, r.stderr
    assert message in r.stderr, r.stderr
    errors = [line for line in r.stderr.splitlines()
              if line.startswith('error:') or ': error:' in line]
    assert len(errors) == 1, r.stderr


def _default_sigint():
    # a shell starts background jobs with SIGINT ignored, and Python keeps
    # an ignored SIGINT ignored: give the child the default, as in a terminal
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_interrupted_training_keeps_the_last_epoch_and_resumes(sandbox):
    """Ctrl-C (SIGINT) in the middle of training with --save: a clean exit
    with a message, the checkpoint of the last complete epoch on disk, and
    --resume continues from it."""
    path = sandbox['tmp'] / 'run.params'
    argv = [sys.executable, '-m', 'd2l_ch6', '6.5', '--epochs', '500',
            '--pred-period', '1000', '--num-hiddens', '32', '--ctx', 'cpu',
            '--save', str(path)]
    proc = subprocess.Popen(argv, cwd=str(sandbox['work']),
                            env=sandbox['env'], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)
    deadline = time.time() + 120
    while not path.exists() and time.time() < deadline:
        time.sleep(0.2)
    assert path.exists(), 'no checkpoint after 120 s'
    time.sleep(1.0)  # into a later epoch
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert 'Traceback' not in err
    assert '--resume %s' % path in err
    saved = checkpoint.load(str(path))  # complete, not half-written
    assert 1 <= saved.epoch < 500
    assert len(saved.history().perplexity) == saved.epoch
    leftovers = [f for f in os.listdir(sandbox['tmp'])
                 if f.startswith('.run.params')]
    assert leftovers == []

    r = cli(sandbox, '6.5', '--epochs', str(saved.epoch + 1),
            '--pred-period', '1', '--pred-len', '5', '--num-hiddens', '32',
            '--ctx', 'cpu', '--resume', str(path), '--save', str(path))
    assert r.returncode == 0, r.stderr
    assert 'resuming %s from epoch %d' % (path, saved.epoch) in r.stdout
    assert re.search(r'^epoch %d, perplexity' % (saved.epoch + 1),
                     r.stdout, re.M)
    assert checkpoint.load(str(path)).epoch == saved.epoch + 1


def test_divergence_is_reported_not_overflow(sandbox):
    """No clipping and a learning rate far too large: the run stops with
    the epoch and the last finite perplexity, exit code 3, a hint."""
    r = cli(sandbox, '6.4', '--sampling', 'consecutive', '--clip', '0',
            '--lr', '1e6', '--epochs', '5', '--pred-period', '1',
            '--pred-len', '5', '--num-hiddens', '32', '--ctx', 'cpu')
    assert r.returncode == 3
    assert 'OverflowError' not in r.stderr and 'Traceback' not in r.stderr
    m = re.search(r'error: training diverged at epoch (\d+)', r.stderr)
    assert m, r.stderr
    printed = re.findall(r'^epoch (\d+), perplexity', r.stdout, re.M)
    assert int(m.group(1)) == len(printed) + 1  # the epoch after the last
    assert '--clip' in r.stderr and '--lr' in r.stderr


def test_same_seed_same_run_in_two_processes(sandbox):
    """Same --seed: the same perplexities and text in separate processes
    (random sampling, so python's RNG matters too); another seed differs."""
    argv = ['6.4', '--sampling', 'random', '--epochs', '2', '--pred-period',
            '1', '--pred-len', '20', '--num-hiddens', '32', '--ctx', 'cpu']

    def lines(r):
        assert r.returncode == 0, r.stderr
        return [re.sub(r'time [\d.]+ sec', '', line)
                for line in r.stdout.splitlines()]

    a = lines(cli(sandbox, *argv, '--seed', '7'))
    b = lines(cli(sandbox, *argv, '--seed', '7'))
    c = lines(cli(sandbox, *argv, '--seed', '8'))
    assert a == b and a != c
