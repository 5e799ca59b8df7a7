"""The start-up hook that lets ``import mxnet`` come first.

Installing d2l_ch6 puts ``d2l_ch6-mxnet-compat.pth`` into site-packages; Python
runs its one line at start-up, which runs this file (found without importing
the package). It only adds a finder to ``sys.meta_path``: nothing is imported
and numpy is not touched until something imports mxnet. Then the finder loads
``core/compat.py`` alone (as ``d2l_ch6.core.compat``, without the rest of
d2l_ch6), steps aside and lets mxnet's own import go on, so a notebook that
starts with ``import mxnet`` works under numpy 2 or Python 3.12+ too.
``D2L_CH6_NO_HOOK=1`` turns it off.
"""
import os
import sys
import warnings

COMPAT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'core',
                      'compat.py')


def load_compat():
    """Run core/compat.py as ``d2l_ch6.core.compat`` (once per process)."""
    name = 'd2l_ch6.core.compat'
    if name in sys.modules:
        return
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, COMPAT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # mxnet's own import will say what is wrong
        del sys.modules[name]
        warnings.warn('d2l_ch6 could not prepare numpy for mxnet: %s' % e,
                      stacklevel=2)


class MxnetFirst:
    """On the first import of mxnet: load the compatibility layer, leave
    ``sys.meta_path`` and let the other finders find mxnet."""

    def find_spec(self, name, path=None, target=None):
        if name.partition('.')[0] == 'mxnet':
            uninstall()
            load_compat()
        return None


def uninstall():
    sys.meta_path[:] = [f for f in sys.meta_path
                        if type(f).__name__ != MxnetFirst.__name__]


def install():
    """Add the finder, unless mxnet is imported already or the user
    turned the hook off."""
    # the words of d2l_ch6.core.env.switch (a wrong value: the package says so)
    if os.environ.get('D2L_CH6_NO_HOOK', '').strip().lower() in (
            '1', 'true', 'yes', 'on'):
        return
    if 'mxnet' in sys.modules or not os.path.exists(COMPAT):
        return
    uninstall()  # never twice
    sys.meta_path.insert(0, MxnetFirst())


install()
