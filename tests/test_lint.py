"""The project's own lint (ruff, configured in pyproject.toml) is part of
the test suite, so a red lint fails CI like a red test."""
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_ruff_clean():
    if shutil.which('ruff') is None and subprocess.run(
            [sys.executable, '-m', 'ruff', '--version'],
            capture_output=True).returncode != 0:
        pytest.skip('ruff is not installed (pip install -e .[test])')
    r = subprocess.run([sys.executable, '-m', 'ruff', 'check', 'd2l_ch6',
                        'tests'], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
