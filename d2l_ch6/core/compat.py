"""What mxnet 1.9.1 needs from Python and numpy that they no longer have.

mxnet 1.9.1 (the last mxnet release) loads its library through ctypes; all
that stops it on today's Pythons and numpys is a handful of Python-level
names it reads, most of them while it is imported. This module puts back
exactly those, and only where they are missing, before mxnet is imported:

* Python 3.12 removed ``distutils``; mxnet reads ``distutils.version``.
* numpy 1.24 removed the builtin aliases (``np.bool``, ``np.int``, ...),
  numpy 2 a set of constants and old function names.

Everything restored is what the name meant before (an alias, a constant or
a thin wrapper of the function that replaced it), so no behaviour changes.
It does not restore ``ndarray.tostring`` (used by ``mxnet.recordio``
only): numpy 2 removed a method of its own array type, which cannot be put
back from outside; this project does not use recordio.

It is the first import of ``d2l_ch6``; the start-up hook (``_hook.py``,
run by the ``.pth`` file the package installs) loads it on the first
``import mxnet`` too, so ``import mxnet`` first works as well. It depends
on nothing of the package: the hook loads it alone.
"""
import math
import re
import sys
import types
import warnings

import numpy as np


def _distutils_version():
    """A stand-in for the ``distutils.version`` Python 3.12 removed: its
    two classes, comparing the numeric parts of a version string."""
    module = types.ModuleType('distutils.version')

    class Version:
        def __init__(self, vstring):
            self.vstring = str(vstring)
            # '1.26.4' -> (1, 26, 4); '2.5.0rc1' -> (2, 5, 0)
            self.version = tuple(int(part) for part in re.findall(
                r'\d+', re.split(r'[^\d.]', self.vstring)[0]))

        def _cmp(self, other):
            if not isinstance(other, Version):
                other = type(self)(other)
            return (self.version > other.version) - \
                (self.version < other.version)

        def __eq__(self, other):
            return self._cmp(other) == 0

        def __lt__(self, other):
            return self._cmp(other) < 0

        def __le__(self, other):
            return self._cmp(other) <= 0

        def __gt__(self, other):
            return self._cmp(other) > 0

        def __ge__(self, other):
            return self._cmp(other) >= 0

        def __repr__(self):
            return '%s(%r)' % (type(self).__name__, self.vstring)

    for name in ('LooseVersion', 'StrictVersion'):
        cls = type(name, (Version,), {'__module__': module.__name__})
        setattr(module, name, cls)
    return module


def restore_distutils():
    """Register the stand-in as ``distutils.version`` if this Python has
    no distutils (3.12 and later without setuptools' copy). Read by
    mxnet/numpy_dispatch_protocol.py (``LooseVersion``, at import) and
    mxnet/numpy_op_fallback.py (``StrictVersion``, at import)."""
    try:
        import distutils.version  # noqa: F401
        return False
    except ImportError:
        pass
    package = types.ModuleType('distutils')
    package.__path__ = []  # a package with no other submodule
    package.version = _distutils_version()
    sys.modules['distutils'] = package
    sys.modules['distutils.version'] = package.version
    return True


def _expired(name):
    """What numpy 1.20-1.26 put in place of a financial function it had
    removed: a function that says where it went."""
    def expired(*args, **kwargs):
        raise RuntimeError(
            'numpy.%s was removed in numpy 1.20; it lives in the '
            'numpy_financial package' % name)
    expired.__name__ = name
    return expired


def _wrapper(name, fn):
    """A function of its own (so that mxnet's dispatch table, keyed by
    numpy function, does not rebind ``fn``) that calls ``fn``."""
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    wrapper.__name__ = name
    wrapper.__doc__ = 'numpy.%s, removed in numpy 2: calls %s' % (
        name, getattr(fn, '__name__', fn))
    return wrapper


def _in1d(ar1, ar2, assume_unique=False, invert=False, **kwargs):
    return np.isin(ar1, ar2, assume_unique=assume_unique,
                   invert=invert, **kwargs).ravel()


def _msort(a):
    return np.sort(a, axis=0)


def _numpy_names():
    """{name: value} of everything restored, with the mxnet file that
    reads it; built lazily, since it refers to numpy 2's own functions."""
    return {
        # numpy 1.24 removed the aliases of the builtins:
        # mxnet/numpy/utils.py (np.bool, at import), mxnet/test_utils.py
        # (np.bool in the default tolerances of assert_almost_equal,
        # np.int in chi_square_check), mxnet/numpy/multiarray.py (np.bool,
        # boolean indexing). numpy 2 has np.bool again (its own bool_).
        'bool': bool,
        'int': int,
        # numpy 2 removed these constants: mxnet/numpy/utils.py, at import
        'PZERO': 0.0, 'NZERO': -0.0, 'PINF': math.inf, 'NINF': -math.inf,
        'NAN': math.nan, 'NaN': math.nan,
        # ... and np.Inf: the default of a parameter in
        # mxnet/gluon/contrib/estimator/event_handler.py, at import
        'Inf': math.inf,
        # old function names numpy 2 removed: mxnet/numpy/fallback.py
        # (at import), and the table mxnet/numpy_dispatch_protocol.py
        # looks up (sometrue, round_, product) at import
        'alltrue': _wrapper('alltrue', np.all),
        'sometrue': _wrapper('sometrue', np.any),
        'product': _wrapper('product', np.prod),
        'round_': _wrapper('round_', np.round),
        'trapz': _wrapper('trapz', getattr(np, 'trapezoid', None)
                          or getattr(np, 'trapz', None)),
        'in1d': _wrapper('in1d', _in1d),
        'msort': _wrapper('msort', _msort),
        # the financial functions numpy 1.20 removed; numpy 1.20-1.26 kept
        # stubs that raise, mxnet/numpy/fallback.py reads them at import
        **{name: _expired(name)
           for name in ('mirr', 'npv', 'pmt', 'ppmt', 'pv', 'rate')},
    }


def _has(name):
    if name in vars(np):
        return True
    # numpy answers a deprecated or removed name from its module
    # __getattr__: a warning and the alias (numpy 1.20-1.23), a stub
    # (the financial functions), or an AttributeError
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        try:
            getattr(np, name)
            return True
        except AttributeError:
            return False


def restore_numpy():
    """Put back the names mxnet reads that this numpy lacks; return them
    (empty under numpy 1.23, where mxnet runs as it is)."""
    restored = []
    for name, value in _numpy_names().items():
        if not _has(name):
            setattr(np, name, value)
            restored.append(name)
    # np.compat.basestring: read by mx.np.pad (mxnet/ndarray/numpy/_op.py,
    # mxnet/symbol/numpy/_symbol.py); numpy 2 removed numpy.compat
    compat = getattr(np, 'compat', None)
    if compat is None:
        compat = types.ModuleType('numpy.compat')
        np.compat = compat
    if not hasattr(compat, 'basestring'):
        compat.basestring = str
        restored.append('compat.basestring')
    return restored


RESTORED = (['distutils.version'] if restore_distutils() else []) \
    + restore_numpy()
