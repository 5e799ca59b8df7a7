"""mxnet 1.9.1 on today's Pythons and numpys: the compatibility layer
restores exactly the names numpy and Python lack, each means what it meant,
and in a fresh process mxnet computes correctly after ``import d2l_ch6``
and, through the start-up hook, when ``import mxnet`` comes first."""
import configparser
import json
import os
import re
import subprocess
import sys
import sysconfig

import numpy as np
import pytest

from d2l_ch6.core import compat as _compat

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NUMPY = tuple(int(x) for x in np.__version__.split('.')[:2])

# a real computation, checked against numpy in the same fresh process:
# dot, autograd, an rnn.LSTM forward and backward against a numpy LSTM
# (finite differences for the gradient), save/load of arrays and of a block
WORK = r'''
import json, os, sys, tempfile
import numpy as np
from mxnet import autograd, nd
from mxnet.gluon import rnn

rng = np.random.RandomState(0)
out = {}
A, B = rng.randn(3, 4), rng.randn(4, 2)
out['dot'] = float(np.abs(nd.dot(nd.array(A), nd.array(B)).asnumpy()
                          - A @ B).max())
x = nd.array([1.0, 2.0, 3.0])
x.attach_grad()
with autograd.record():
    y = (x * x).sum()
y.backward()
out['autograd'] = float(np.abs(x.grad.asnumpy() - 2 * np.array([1, 2, 3]))
                        .max())

T, N, I, H = 5, 2, 3, 4
layer = rnn.LSTM(H, input_size=I)
layer.initialize()
for p in layer.collect_params().values():
    p.set_data(nd.array(rng.uniform(-0.5, 0.5, p.shape)))
X = rng.randn(T, N, I)
G = rng.randn(T, N, H)  # the loss is sum(Y * G)
W = {k.split('_', 1)[1]: p.data().asnumpy().astype(np.float64)
     for k, p in layer.collect_params().items()}


def numpy_lstm(Wi):
    h, c, ys = np.zeros((N, H)), np.zeros((N, H)), []
    for t in range(T):
        z = X[t] @ Wi.T + W['l0_i2h_bias'] + h @ W['l0_h2h_weight'].T \
            + W['l0_h2h_bias']
        i, f, g, o = (z[:, k * H:(k + 1) * H] for k in range(4))
        sig = lambda v: 1 / (1 + np.exp(-v))
        c = sig(f) * c + sig(i) * np.tanh(g)
        h = sig(o) * np.tanh(c)
        ys.append(h)
    return np.stack(ys)


Xnd = nd.array(X)
with autograd.record():
    Y = layer(Xnd)
    loss = (Y * nd.array(G)).sum()
loss.backward()
Wi = W['l0_i2h_weight']
out['forward'] = float(np.abs(Y.asnumpy() - numpy_lstm(Wi)).max())
numeric = np.zeros_like(Wi)
for idx in np.ndindex(*Wi.shape):
    d = np.zeros_like(Wi)
    d[idx] = 1e-6
    numeric[idx] = ((numpy_lstm(Wi + d) * G).sum()
                    - (numpy_lstm(Wi - d) * G).sum()) / 2e-6
grad = layer.l0_i2h_weight.grad().asnumpy()
out['backward'] = float(np.abs(grad - numeric).max() / np.abs(numeric).max())

folder = tempfile.mkdtemp()
nd.save(os.path.join(folder, 'a'), {'x': nd.array(A)})
out['save'] = float(np.abs(nd.load(os.path.join(folder, 'a'))['x']
                           .asnumpy() - A).max())
layer.save_parameters(os.path.join(folder, 'p'))
copy = rnn.LSTM(H, input_size=I)
copy.load_parameters(os.path.join(folder, 'p'))
out['load'] = float(np.abs(copy(Xnd).asnumpy() - Y.asnumpy()).max())
out['numpy'] = np.__version__
print(json.dumps(out))
'''


def run(code, **env):
    """Run ``code`` in a fresh interpreter of this environment."""
    return subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, timeout=300,
                          env=dict(os.environ, **env))


def check_work(r):
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out['numpy'] == np.__version__
    assert out['dot'] < 1e-5 and out['autograd'] == 0
    assert out['forward'] < 1e-5, out
    assert out['backward'] < 1e-3, out
    assert out['save'] < 1e-6 and out['load'] == 0


def test_mxnet_computes_after_import_d2l_ch6():
    check_work(run('import d2l_ch6\n' + WORK))


def test_import_mxnet_first_works_through_the_hook():
    r = run(WORK)
    check_work(r)


@pytest.mark.skipif(NUMPY < (1, 24), reason='mxnet imports as it is here')
def test_without_the_hook_import_mxnet_first_fails():
    """The hook is what makes it work: turned off, mxnet fails on a name
    numpy removed (so the test above can fail)."""
    r = run('import mxnet', D2L_CH6_NO_HOOK='1')
    assert r.returncode != 0
    assert re.search(r"AttributeError: (module 'numpy' has no attribute|"
                     r"`np\.)", r.stderr), r.stderr[-500:]


def test_the_install_put_the_hook_into_site_packages():
    pth = os.path.join(sysconfig.get_paths()['purelib'],
                       'd2l_ch6-mxnet-compat.pth')
    assert os.path.isfile(pth), 'pip install -e . writes it (setup.py)'
    with open(pth) as f:
        assert f.read().startswith('import ')


def test_the_layer_restores_only_what_is_missing():
    """In a fresh process: the names numpy lacks before the layer runs are
    exactly the ones it restores, and mxnet then finds them all."""
    code = ('import numpy, json, warnings\n'
            'warnings.simplefilter("ignore")\n'
            'names = %r\n'
            'def has(n):\n'
            '    try:\n        getattr(numpy, n); return True\n'
            '    except AttributeError:\n        return False\n'
            'missing = [n for n in names if not has(n)]\n'
            'if not hasattr(getattr(numpy, "compat", None), "basestring"):\n'
            '    missing.append("compat.basestring")\n'
            'from d2l_ch6.core import compat as _compat\n'
            'print(json.dumps([missing, [n for n in _compat.RESTORED '
            'if n != "distutils.version"]]))'
            % sorted(_compat._numpy_names()))
    r = run(code, D2L_CH6_NO_HOOK='1')
    assert r.returncode == 0, r.stderr
    missing, restored = json.loads(r.stdout)
    assert sorted(missing) == sorted(restored)
    if NUMPY >= (2, 0):
        assert {'PZERO', 'NINF', 'Inf', 'in1d', 'compat.basestring'} \
            <= set(restored)


def test_restored_names_mean_what_they_meant():
    names = _compat._numpy_names()
    assert names['PZERO'] == 0 and np.signbit(names['NZERO'])
    assert names['PINF'] == np.inf == -names['NINF'] == names['Inf']
    assert np.isnan(names['NAN']) and np.isnan(names['NaN'])
    a = np.array([[3, 1], [2, 5]])
    assert names['alltrue']([1, 1]) and not names['alltrue']([1, 0])
    assert names['sometrue']([0, 1]) and not names['sometrue']([0, 0])
    assert names['product'](a) == 30
    assert names['round_'](2.567, 2) == 2.57
    assert names['trapz']([1, 2, 3]) == 4.0
    np.testing.assert_array_equal(names['msort'](a), [[2, 1], [3, 5]])
    np.testing.assert_array_equal(names['in1d'](a, [1, 5]),
                                  [False, True, False, True])
    # functions of their own: mxnet's dispatch table is keyed by them
    assert names['sometrue'] is not np.any
    with pytest.raises(RuntimeError, match='numpy_financial'):
        names['npv'](0.1, [1, 2])


def test_distutils_stand_in_compares_versions():
    version = _compat._distutils_version()
    for cls in (version.LooseVersion, version.StrictVersion):
        assert cls('1.26.4') >= cls('1.17')
        assert cls('2.5.0rc1') >= '1.6.0'
        assert cls('1.9') < cls('1.10')
        assert not cls('1.16.6') >= '1.17'
        assert cls('1.17.0') == '1.17.0'


def test_what_the_metadata_says_is_tested():
    """python_requires and the classifiers name 3.8-3.13, the Pythons the
    README and CI speak of; nothing caps numpy below 2."""
    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(ROOT, 'setup.cfg'))
    assert cfg['options']['python_requires'] == '>=3.8,<3.14'
    versions = {line.rsplit(':: ', 1)[1] for line in
                cfg['metadata']['classifiers'].splitlines()
                if 'Python :: 3.' in line}
    assert versions == {'3.%d' % m for m in range(8, 14)}
    requires = cfg['options']['install_requires']
    assert 'numpy>=1.16\n' in requires + '\n'
    assert 'mxnet==1.9.1; python_version < "3.13"' in requires
