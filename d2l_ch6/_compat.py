"""The one place that makes mxnet 1.9.1 importable with numpy 1.24-1.26.

mxnet 1.9.1 (the last mxnet release) reads the aliases ``np.bool``,
``np.int``, ``np.float``, ... that numpy deprecated in 1.20 and removed in
1.24; that is all that stops ``import mxnet`` under numpy 1.24-1.26. They
were plain aliases of the Python builtins, so restoring them changes no
behaviour. This module runs before anything imports mxnet (it is the first
import of the package); numpy 2 removed more than aliases and stays
unsupported. Code that imports mxnet itself must import d2l_ch6 first.
"""
import numpy as np

_ALIASES = {'bool': bool, 'int': int, 'float': float, 'complex': complex,
            'object': object, 'str': str}


def restore_numpy_aliases():
    """Put back the removed builtin aliases that numpy no longer has."""
    for name, builtin in _ALIASES.items():
        if name not in np.__dict__:
            setattr(np, name, builtin)


restore_numpy_aliases()
