"""The metadata is in setup.cfg. This file only adds the start-up hook:
``d2l_ch6-mxnet-compat.pth``, written into site-packages beside the
package, runs ``d2l_ch6/_hook.py`` when Python starts, so that ``import
mxnet`` first works too (see d2l_ch6/core/compat.py and the README)."""
import os

from setuptools import setup
from setuptools.command.build_py import build_py

PTH = 'd2l_ch6-mxnet-compat.pth'
# one line, run by site.py: finds the package without importing it and runs
# its hook file; a no-op once d2l_ch6 is gone
LINE = ("import importlib.util as _u; _s = _u.find_spec('d2l_ch6'); "
        "_h = _s and _u.spec_from_file_location('_d2l_ch6_hook', "
        "_s.submodule_search_locations[0] + '/_hook.py'); "
        "_h and _h.loader.exec_module(_u.module_from_spec(_h))\n")


class BuildPy(build_py):
    """build_py that also writes the .pth file: into the wheel's root (a
    normal install), or, for ``pip install -e``, into the editable wheel
    (setuptools writes whatever lands in ``install_lib`` there)."""

    def run(self):
        super().run()
        if getattr(self, 'editable_mode', False):
            folder = self.get_finalized_command('install').install_lib
        else:
            folder = self.build_lib
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, PTH), 'w') as f:
            f.write(LINE)

    def get_outputs(self, *args, **kwargs):
        outputs = super().get_outputs(*args, **kwargs)
        if not getattr(self, 'editable_mode', False):
            outputs.append(os.path.join(self.build_lib, PTH))
        return outputs


setup(cmdclass={'build_py': BuildPy})
