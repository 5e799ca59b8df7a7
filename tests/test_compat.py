"""mxnet 1.9.1 under numpy 1.24-1.26: importing d2l_ch6 first restores the
builtin aliases numpy removed, and nothing else changes."""
import subprocess
import sys

import numpy as np

from d2l_ch6 import _compat


def test_aliases_are_the_builtins():
    _compat.restore_numpy_aliases()
    for name, builtin in _compat._ALIASES.items():
        assert getattr(np, name) is builtin


def test_mxnet_imports_after_d2l_ch6_in_a_fresh_process():
    code = ('import d2l_ch6, mxnet, numpy; from mxnet import nd; '
            'print(numpy.__version__, nd.one_hot(nd.array([1]), 3))')
    r = subprocess.run([sys.executable, '-c', code], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert np.__version__ in r.stdout
    assert '[[0. 1. 0.]]' in r.stdout


def test_numpy_kept_below_2():
    major = int(np.__version__.split('.')[0])
    assert major < 2, 'numpy 2 removed more than aliases: see setup.cfg'
