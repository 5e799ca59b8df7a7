"""The command line: `python -m d2l_ch6` lists the sections, runs 6.4/6.5,
turns a user's mistake into one `error:` line and seeds everything.

The commands run as real processes, a few at a time, once per module; the
rest calls the same code in this process.
"""
import os
import random
import re
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import mxnet as mx
import numpy as np
import pytest

import d2l_ch6
from d2l_ch6 import __main__ as entry
from d2l_ch6.core import cli, device
from d2l_ch6 import rnn_gluon, rnn_scratch
from d2l_ch6.core.errors import BadInput

EPOCH_LINE = re.compile(
    r'^epoch (\d+), perplexity (\d+\.\d{6}), time \d+\.\d\d sec$', re.M)
TINY = ['--num-hiddens', '8', '--num-chars', '600', '--epochs', '1',
        '--batch-size', '4', '--num-steps', '10',
        '--pred-period', '1', '--pred-len', '3', '--ctx', 'cpu']
SEEDED_65 = ['6.5', '--epochs', '2', '--pred-period', '1',
             '--num-hiddens', '32', '--ctx', 'cpu']


def closed_port_url():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    return 'http://127.0.0.1:%d' % port


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    """name -> finished `python -m d2l_ch6 ...` (args, returncode, stdout,
    stderr), run three at a time."""
    cwd = tmp_path_factory.mktemp('cwd')
    env = {k: v for k, v in os.environ.items() if k != 'D2L_CH6_QUICK'}
    m = ['-m', 'd2l_ch6']
    commands = {
        'list': m,
        'unknown': m + ['6.99'],
        'gpu': m + ['6.5', '--ctx', 'gpu'],
        'module_lr0': ['-m', 'd2l_ch6.rnn_scratch', '--lr', '0'],
        'seed0': m + SEEDED_65 + ['--seed', '0'],
        'seed0_again': m + SEEDED_65 + ['--seed', '0'],
        'seed1': m + SEEDED_65 + ['--seed', '1'],
    }

    def run(name):
        p = subprocess.run([sys.executable] + commands[name], env=env,
                           cwd=str(cwd), capture_output=True, text=True,
                           timeout=300)
        return name, SimpleNamespace(args=commands[name], rc=p.returncode,
                                     out=p.stdout, err=p.stderr)

    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(pool.map(run, commands))


def assert_one_error(run, code=2):
    """Exit ``code``, one `error:` line on stderr, no traceback."""
    assert run.rc == code, run
    assert 'Traceback' not in run.err + run.out, run
    lines = run.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), run
    return lines[0]


def perplexities(text):
    return [float(p) for _, p in EPOCH_LINE.findall(text)]


def test_lists_the_sections(runs):
    r = runs['list']
    assert r.rc == 0 and r.err == ''
    for number, module, title in cli.SECTIONS:
        assert re.search(r'^\s*%s\s+%s\s+%s$' % (
            re.escape(number), module, re.escape(title)), r.out, re.M), \
            number
    numbers = [n for n, _, _ in cli.SECTIONS]
    assert numbers == ['6.%d' % i for i in range(1, 11)]


def test_unknown_section(runs):
    assert "'6.99'" in assert_one_error(runs['unknown'])


@pytest.mark.skipif(device.num_gpus() > 0, reason='a GPU is here')
def test_missing_gpu(runs):
    line = assert_one_error(runs['gpu'])
    assert 'GPU' in line and '--ctx cpu' in line


def test_lr_zero_from_the_module_command(runs):
    line = assert_one_error(runs['module_lr0'])
    assert 'learning rate must be positive' in line


def test_missing_corpus(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv('D2L_CH6_DATA', raising=False)
    monkeypatch.setenv('D2L_CH6_CACHE', str(tmp_path / 'cache'))
    monkeypatch.setenv('D2L_CH6_MIRROR', closed_port_url())
    monkeypatch.setenv('NO_PROXY', '127.0.0.1,localhost')
    monkeypatch.setattr('d2l_ch6.core.corpus._CHECKOUT_DATA', str(tmp_path))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        entry.main(['6.5', '--data-dir', str(tmp_path), '--ctx', 'cpu'])
    assert e.value.code == 2
    err = capsys.readouterr().err
    # the attempt is announced, then one error says what to do
    assert err.startswith('downloading jaychou_lyrics.txt.zip from ')
    assert err.count('error:') == 1
    assert 'error: corpus file jaychou_lyrics.txt.zip not found' in err
    assert d2l_ch6.CORPORA['jaychou'].url in err


def without_times(text):
    return [line for line in text.splitlines()
            if not EPOCH_LINE.match(line)]


def test_seed_gives_the_same_run(runs):
    first = perplexities(runs['seed0'].out)
    assert len(first) == 2, runs['seed0']
    assert perplexities(runs['seed0_again'].out) == first
    assert without_times(runs['seed0_again'].out) \
        == without_times(runs['seed0'].out)  # the same predictions
    other = perplexities(runs['seed1'].out)
    assert len(other) == 2 and other != first


def test_seed_gives_the_same_random_batches(capsys):
    # 6.4's random sampling shuffles with python's random: unless --seed
    # reseeds it, the second run would draw other batches
    argv = TINY + ['--sampling', 'random', '--seed', '3']
    first = rnn_scratch.main(argv)['random'].history.perplexity
    again = rnn_scratch.main(argv)['random'].history.perplexity
    other = rnn_scratch.main(TINY + ['--sampling', 'random', '--seed', '4'])
    assert again == first != other['random'].history.perplexity


def test_seed_seeds_python_numpy_and_mxnet():
    def draws():
        return (random.random(), float(np.random.rand()),
                float(mx.nd.random.uniform(shape=(1,)).asscalar()))

    args = cli.parser('rnn_gluon', rnn_gluon.__doc__).parse_args(
        ['--seed', '5', '--ctx', 'cpu'])
    assert cli.setup(args) == mx.cpu()
    ours = draws()
    random.seed(5)
    np.random.seed(5)
    mx.random.seed(5)
    assert draws() == ours
    d2l_ch6.core.trainer.seed_all(6)
    assert all(a != b for a, b in zip(draws(), ours))


def test_book_defaults(no_quick):
    args = cli.parser('rnn_gluon', rnn_gluon.__doc__, d2l_ch6.BOOK) \
        .parse_args([])
    # 6.4/6.5 of the book, field by field
    book = d2l_ch6.Hyper(num_hiddens=256, num_epochs=250, num_steps=35,
                         batch_size=32, lr=1e2, clipping_theta=1e-2,
                         pred_period=50, pred_len=50,
                         prefixes=('分开', '不分开'))
    assert cli.hyper(args) == book == d2l_ch6.BOOK
    assert (args.ctx, args.corpus, args.num_chars, args.seed) == (
        'auto', 'jaychou', 10000, 0)


def test_quick_shortens_the_defaults(monkeypatch):
    monkeypatch.setenv('D2L_CH6_QUICK', '1')
    args = cli.parser('rnn_gluon', rnn_gluon.__doc__, d2l_ch6.BOOK) \
        .parse_args([])
    assert args.num_epochs < d2l_ch6.BOOK.num_epochs
    assert args.pred_period <= args.num_epochs  # it still prints
    assert args.num_hiddens == d2l_ch6.BOOK.num_hiddens
    gated = cli.parser('gru', 'x', d2l_ch6.BOOK_GATED).parse_args([])
    assert gated.num_epochs < d2l_ch6.BOOK_GATED.num_epochs
    monkeypatch.setenv('D2L_CH6_QUICK', '0')
    args = cli.parser('rnn_gluon', rnn_gluon.__doc__, d2l_ch6.BOOK) \
        .parse_args([])
    assert args.num_epochs == d2l_ch6.BOOK.num_epochs


def test_flags_to_hyper():
    p = cli.parser('rnn_scratch', rnn_scratch.__doc__, d2l_ch6.BOOK)
    args = p.parse_args(['--clip', '0', '--num-chars', 'all', '--lr', '3',
                         '--prefixes', '我', '你'])
    hp = cli.hyper(args)
    assert hp.clipping_theta is None and hp.lr == 3.0
    assert hp.prefixes == ('我', '你') and args.num_chars is None


@pytest.mark.parametrize('flags', [['--epochs', '0'], ['--num-steps', '-1'],
                                   ['--batch-size', 'x'],
                                   ['--corpus', 'shakespeare']])
def test_bad_flags_are_usage_errors(flags, capsys):
    with pytest.raises(SystemExit) as e:
        entry.main(['6.5'] + flags)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert 'error:' in err and 'Traceback' not in err


@pytest.mark.parametrize('argv, message', [
    (['6.5', '--lr', '-1'], 'argument --lr: must be 0 or a number in'),
    (['6.4', '--pred-len', '-2'], 'argument --pred-len: must be >= 0'),
    (['6.5', '--ctx', 'tpu'], 'auto, cpu, gpu or gpu:N'),
    (['6.5', '--batch-size', '64', '--num-steps', '35', '--num-chars',
      '100', '--prefixes', '想'], 'no batch'),
    (['6.5', '--prefixes', '☃'] + TINY, '☃'),
])
def test_user_errors_in_process(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        entry.main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith('error: ') and message in err
    assert len(err.strip().splitlines()) == 1


def test_run_turns_mxnet_errors_and_ctrl_c_into_exits(capsys):
    def mxnet_fails(argv):
        raise mx.base.MXNetError('device gone\n  stack frame 1\n')

    def interrupted(argv):
        raise KeyboardInterrupt

    def bad(argv):
        raise BadInput('no good')

    for main, code, message in ((mxnet_fails, 1, 'device gone'),
                                (interrupted, 130, 'interrupted'),
                                (bad, 2, 'error: no good')):
        with pytest.raises(SystemExit) as e:
            cli.run(main, [])
        assert e.value.code == code
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1
    assert cli.run(lambda argv: None, []) == 0


def test_section_aliases(capsys):
    with pytest.raises(SystemExit) as e:
        entry.main(['rnn_gluon', '--help'])
    assert e.value.code == 0
    assert '6.5' in capsys.readouterr().out


def test_main_6_5_returns_its_trainer(capsys):
    trainer = rnn_gluon.main(TINY)
    history = trainer.history
    out = capsys.readouterr().out
    assert isinstance(history, d2l_ch6.History)
    assert history.epochs == [1] and trainer.model.spec.impl == 'gluon'
    assert perplexities(out) == pytest.approx(history.perplexity, rel=1e-6)
    assert entry.main(['6.5'] + TINY) == 0  # through the runner
    # the same (default) seed: the same numbers
    assert perplexities(capsys.readouterr().out) == perplexities(out)


def test_main_6_4_returns_both_histories(capsys):
    histories = {k: t.history for k, t in rnn_scratch.main(TINY).items()}
    out = capsys.readouterr().out
    assert list(histories) == ['random', 'consecutive']  # the book's order
    assert [h.epochs for h in histories.values()] == [[1], [1]]
    printed = perplexities(out)
    assert len(printed) == 2
    for p, h in zip(printed, histories.values()):
        assert p == pytest.approx(h.perplexity[0], rel=1e-6)
