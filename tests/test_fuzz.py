"""Fuzzing the command line with Hypothesis: arbitrary bytes as a corpus
file or as the member of a zip, arbitrary numbers for the numeric flags
and for `generate`'s options. Every outcome is a normal run, or an exit
status of 2 (3: training diverged) with one `error:` line on stderr and
no traceback. The runs are tiny and the examples few, so the file fits
the fast loop."""
import contextlib
import io
import math
import os
import tempfile
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from d2l_ch6.__main__ import main

# the fast loop tries the same 25 examples each time; a deeper search:
# D2L_CH6_FUZZ=500 python -m pytest tests/test_fuzz.py (new examples)
DEEP = int(os.environ.get('D2L_CH6_FUZZ', '0') or 0)
FEW = settings(max_examples=DEEP or 25, deadline=None,
               derandomize=not DEEP,
               suppress_health_check=[HealthCheck.too_slow])
TINY = ['--epochs', '1', '--num-hiddens', '4', '--batch-size', '2',
        '--num-steps', '3', '--pred-len', '2', '--quiet', '--ctx', 'cpu']


def run(argv):
    """(status, stdout, stderr) of `python -m d2l_ch6 ARGV`, in process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as e:
            status = e.code
    return status or 0, out.getvalue(), err.getvalue()


def check(argv):
    """A normal run, or one clear error: the outcome the CLI promises."""
    status, out, err = run(argv)
    assert 'Traceback' not in err, err
    if status == 0:
        assert 'error:' not in err, err
        return status, out
    assert status in (2, 3), (status, err)
    errors = [line for line in err.splitlines() if line.startswith('error:')]
    assert len(errors) == 1, err
    assert err.rstrip().splitlines()[-1] == errors[0], err
    return status, out


@FEW
@given(st.binary(max_size=300))
def test_any_bytes_as_a_corpus(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'corpus.txt')
        with open(path, 'wb') as f:
            f.write(data)
        check(['6.5', '--corpus', path, '--num-chars', 'all'] + TINY)


@FEW
@given(st.binary(max_size=300), st.integers(0, 10 ** 6),
       st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED,
                        zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]),
       st.booleans())
def test_any_bytes_in_a_zip(data, where, compression, damage):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'corpus.zip')
        with zipfile.ZipFile(path, 'w', compression) as z:
            z.writestr('text.txt', data)
        if damage:  # one flipped byte, anywhere in the archive
            with open(path, 'r+b') as f:
                size = os.fstat(f.fileno()).st_size
                f.seek(where % size)
                byte = f.read(1)
                f.seek(where % size)
                f.write(bytes([byte[0] ^ 0xFF]))
        check(['6.8', '--impl', 'gluon', '--corpus', path, '--num-chars',
               'all'] + TINY)


INTS = st.integers(-2 ** 40, 2 ** 40) | st.integers(-3, 40)
FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.floats(-2, 2)
SIZES = {'--num-hiddens': INTS, '--num-steps': INTS, '--batch-size': INTS,
         '--embed-size': INTS, '--num-layers': INTS, '--min-freq': INTS,
         '--patience': INTS, '--seed': INTS, '--pred-period': INTS,
         '--num-chars': INTS}
RATES = {'--lr': FLOATS, '--clip': FLOATS, '--wd': FLOATS,
         '--dropout': FLOATS, '--valid-frac': FLOATS, '--lr-decay': FLOATS}


def number(x):
    return repr(x) if isinstance(x, float) and not math.isfinite(x) \
        else str(x)


@FEW
@given(st.dictionaries(st.sampled_from(sorted(SIZES) + sorted(RATES)),
                       st.none(), min_size=1, max_size=3).flatmap(
    lambda keys: st.fixed_dictionaries(
        {k: {**SIZES, **RATES}[k] for k in keys})))
def test_any_numbers_for_the_numeric_flags(values):
    argv = ['6.9', '--impl', 'gluon', '--cell', 'gru', '--num-chars',
            '2000'] + TINY
    for flag, value in values.items():
        argv += [flag, number(value)]
    if ('--patience' in values or '--lr-decay' in values) \
            and '--valid-frac' not in values:
        argv += ['--valid-frac', '0.1']
    check(argv)


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('ckpt') / 'm.params')
    status, _ = check(['6.8', '--impl', 'gluon', '--save', path] + TINY)
    assert status == 0
    return path


@FEW
@given(length=st.integers(-10, 60) | st.integers(-2 ** 40, -1),
       temperature=st.none() | FLOATS, top_k=st.none() | INTS,
       seed=st.none() | INTS, prefix=st.none() | st.text(max_size=4))
def test_any_options_for_generate(checkpoint, length, temperature, top_k,
                                  seed, prefix):
    argv = ['generate', checkpoint, '--length', str(length), '--ctx', 'cpu']
    for flag, value in (('--temperature', temperature), ('--top-k', top_k),
                        ('--seed', seed), ('--prefix', prefix)):
        if value is not None:
            argv += [flag, number(value)]
    status, out = check(argv)
    if status == 0:
        assert out.startswith(prefix or '')
