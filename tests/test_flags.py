"""Every flag a training section's --help lists works with the others: each
section runs once with every flag beyond the book at once, and once with
each flag that changes its model alone (tiny models, one epoch). A
section that prints an error, or raises, fails."""
import contextlib
import importlib
import importlib.util
import io
import os
import re

import pytest

from d2l_ch6 import bi_rnn
from d2l_ch6.__main__ import COMMANDS, main
from d2l_ch6.core import cli, flags
from d2l_ch6.core.hyper import BOOK, BOOK_GATED

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
    '--keep-newlines': ['--keep-newlines'],
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


# -- one meaning and one default per shared flag ---------------------------

class _Parsed(Exception):
    """Raised instead of parsing: the command's parser is what we want."""

    def __init__(self, parser):
        super().__init__()
        self.parser = parser


def parser_of(command, monkeypatch):
    """The ArgumentParser of ``python -m d2l_ch6 COMMAND`` (it is built,
    then parse_args raises instead of running the command)."""
    import argparse

    def capture(self, *args, **kwargs):
        raise _Parsed(self)
    with monkeypatch.context() as m:
        m.setattr(argparse.ArgumentParser, 'parse_args', capture)
        module = importlib.import_module('d2l_ch6.' + MODULES[command])
        try:
            module.main([])
        except _Parsed as e:
            return e.parser
    raise AssertionError('%s built no parser' % command)


MODULES = {number: module for number, module, _ in cli.SECTIONS}
MODULES.update(COMMANDS)


def own_default_command(command):
    """The name a command has in the flag table's per-command defaults."""
    return command if command in ('6.1', '6.2', '6.6', '6.10') or \
        not command.startswith('6.') else flags.SECTIONS


@pytest.mark.parametrize('command', sorted(MODULES))
def test_every_shared_flag_has_the_tables_meaning_and_default(
        command, monkeypatch):
    parser = parser_of(command, monkeypatch)
    hp = {'6.4': BOOK, '6.5': BOOK, '6.7': BOOK_GATED, '6.8': BOOK_GATED,
          '6.9': BOOK, '6.10': bi_rnn.BOOK_BI}.get(command)
    for action in parser._actions:
        for name in action.option_strings:
            if name not in flags.FLAGS:
                continue
            flag = flags.FLAGS[name]
            assert action.help == flag.help, (command, name)
            if flag.type is not None and flag.action is None:
                assert action.type is flag.type, (command, name)
            assert action.choices == flag.choices or (
                flag.choices is None), (command, name)
            expected = flag.default_for(name, own_default_command(command),
                                        hp)
            if name == '--epochs' and hp is not None:
                expected = cli.book_hyper(hp).num_epochs  # quick mode too
            if name == '--pred-period' and hp is not None:
                expected = cli.book_hyper(hp).pred_period
            assert action.default == expected, (command, name)


@pytest.mark.parametrize('command', sorted(MODULES))
def test_usage_names_a_command_that_runs(command, monkeypatch):
    """The usage line (and every error, which repeats it) names a command a
    user can type: `python -m d2l_ch6 COMMAND` or an importable module."""
    prog = parser_of(command, monkeypatch).prog
    words = prog.split()
    assert words[:2] == ['python', '-m'], prog
    if words[2] == 'd2l_ch6':
        assert words[3:] == [command], prog
    else:
        assert words[3:] == [] and importlib.util.find_spec(words[2]), prog


def test_a_flag_two_commands_take_is_in_the_table(monkeypatch):
    """A flag shared by several commands is declared once, in the table
    (a command's own flags may mean what they like)."""
    seen = {}
    for command in MODULES:
        for action in parser_of(command, monkeypatch)._actions:
            for name in action.option_strings:
                seen.setdefault(name, set()).add(command)
    shared = {n for n, cs in seen.items() if len(cs) > 1}
    # --models: which models to run, each command from its own list
    own = {'-h', '--help', '--models'}
    assert shared - own <= set(flags.FLAGS), shared - set(flags.FLAGS)


def test_the_docs_table_is_up_to_date():
    path = os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), 'docs', 'flags.md')
    with open(path, encoding='utf-8') as f:
        assert f.read() == flags.table(), 'run: python -m d2l_ch6 flags ' \
            '> docs/flags.md'
