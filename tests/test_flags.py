"""Every flag a training section's --help lists works with the others: each
section runs once with every flag beyond the book at once, and once with
each flag that changes its model alone (tiny models, one epoch). A
section that prints an error, or raises, fails."""
import contextlib
import io
import os
import re

import pytest

from d2l_ch6.__main__ import main

TINY = ['--epochs', '2', '--num-hiddens', '8', '--num-chars', '1500',
        '--batch-size', '4', '--num-steps', '5', '--pred-len', '3',
        '--pred-period', '1', '--quiet', '--ctx', 'cpu']

# flag -> the arguments that try it (with what it needs)
MODEL_FLAGS = {
    '--activation': ['--activation', 'relu'],
    '--sampling': ['--sampling', 'consecutive'],
    '--impl': ['--impl', 'scratch'],
    '--dropout': ['--dropout', '0.2'],
    '--embed-size': ['--embed-size', '6'],
    '--cell': ['--cell', 'lstm'],
    '--num-layers': ['--num-layers', '3'],
    '--min-freq': ['--min-freq', '3'],
    '--optimizer': ['--optimizer', 'adam', '--lr', '0.01'],
}
OTHER_FLAGS = {
    '--random-offset': ['--random-offset'],
    '--valid-frac': ['--valid-frac', '0.2'],
    '--wd': ['--wd', '0.001'],
    '--patience': ['--patience', '1'],
    '--lr-decay': ['--lr-decay', '0.5'],
    '--clip': ['--clip', '0.5'],
    '--lower': ['--lower'],
    '--prefixes': ['--prefixes', '分开'],
}
TRAINING = ['6.4', '6.5', '6.7', '6.8', '6.9', '6.10']


def flags_of(section):
    """The long flags `python -m d2l_ch6 SECTION --help` lists."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main([section, '--help'])
    return set(re.findall(r'(?<![\w-])--[a-z][a-z-]*', out.getvalue()))


def run(section, args):
    """(status, stdout, stderr) of `python -m d2l_ch6 SECTION args`."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main([section] + TINY + args)
        except SystemExit as e:
            status = e.code
    return status, out.getvalue(), err.getvalue()


def test_every_flag_is_tried():
    """A new flag on a training section must be added here."""
    known = set(MODEL_FLAGS) | set(OTHER_FLAGS) | {
        '--help', '--save', '--resume', '--plot', '--quiet', '--seed', '--lr',
        '--ctx', '--corpus', '--data-dir'} | {a for a in TINY
                                              if a.startswith('--')}
    for section in TRAINING:
        assert flags_of(section) <= known, section


@pytest.mark.parametrize('section', TRAINING)
def test_all_flags_together(section, tmp_path):
    flags = flags_of(section)
    args = [a for flag, more in {**MODEL_FLAGS, **OTHER_FLAGS}.items()
            if flag in flags for a in more]
    args += ['--save', str(tmp_path / 'm.params'),
             '--plot', str(tmp_path / 'm.png')]
    status, out, err = run(section, args)
    assert status == 0, err
    assert 'error' not in err
    assert os.listdir(tmp_path)


@pytest.mark.parametrize('section,flag', [
    (s, f) for s in TRAINING for f in MODEL_FLAGS
    if f in flags_of(s)])
def test_each_model_flag_alone(section, flag):
    status, out, err = run(section, MODEL_FLAGS[flag])
    assert status == 0, err
    assert 'perplexity' in out
