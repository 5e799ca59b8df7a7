"""The engine d2l_ch6 chooses for mxnet before it is imported (see
d2l_ch6/core/env.py): the naive engine on a CPU-only mxnet, mxnet's own on a
CUDA build, a value the user set kept, and no log line of mxnet's on the
terminal. Each case in a new process: the engine is made once."""
import os
import subprocess
import sys

import pytest

PROBE = ('import d2l_ch6, os, sys; from mxnet import nd; '
         'print(os.environ.get("MXNET_ENGINE_TYPE")); '
         'print((nd.ones((2, 2)) * 3).sum().asscalar())')


def probe(env_changes, path=None):
    env = {k: v for k, v in os.environ.items()
           if k != 'MXNET_ENGINE_TYPE'}
    env.update(env_changes)
    if path:
        env['PYTHONPATH'] = os.pathsep.join(
            [path] + [p for p in [env.get('PYTHONPATH')] if p])
    return subprocess.run([sys.executable, '-c', PROBE], env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_naive_engine_on_a_cpu_build_without_a_log_line():
    r = probe({})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ['NaiveEngine', '12.0']
    assert 'start using engine' not in r.stderr
    assert r.stderr == ''


@pytest.mark.parametrize('engine', ['ThreadedEnginePerDevice',
                                    'NaiveEngine'])
def test_the_users_engine_is_kept(engine):
    r = probe({'MXNET_ENGINE_TYPE': engine})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [engine, '12.0']
    assert 'start using engine' not in r.stderr


def test_a_cuda_build_keeps_mxnets_engine(tmp_path):
    (tmp_path / 'mxnet_cu112-1.9.1.dist-info').mkdir()
    r = probe({}, str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ['None', '12.0']


def test_other_stderr_lines_pass(monkeypatch, capfd):
    """What mxnet prints while its engine starts, but its engine line,
    still reaches stderr."""
    from d2l_ch6.core import env as _env
    import mxnet
    monkeypatch.setenv('MXNET_ENGINE_TYPE', 'NaiveEngine')

    calls = []

    def noisy(size):  # as the engine's creation, at the first call
        if not calls:
            os.write(2, b'[00:00:00] engine.cc:54: MXNet start using '
                        b'engine: NaiveEngine\nsomething else\n')
        calls.append(size)
        return 1
    monkeypatch.setattr(mxnet.engine, 'set_bulk_size', noisy)
    _env.start_engine()
    assert capfd.readouterr().err == 'something else\n'
