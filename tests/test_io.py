"""Files written whole or not at all, with ordinary permissions."""
import os

import pytest

from d2l_ch6.core.files import atomic_path, write_text


def test_written_whole_with_the_umask_permissions(tmp_path):
    path = tmp_path / 'sub' / 'report.md'
    old = os.umask(0o022)
    try:
        write_text(str(path), '困惑度\n')
    finally:
        os.umask(old)
    assert path.read_text(encoding='utf-8') == '困惑度\n'
    assert path.stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600
    assert os.listdir(path.parent) == ['report.md']  # no temporary left


def test_an_error_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / 'run.params'
    path.write_bytes(b'the last complete epoch')
    with pytest.raises(RuntimeError):
        with atomic_path(str(path)) as tmp:
            with open(tmp, 'wb') as f:
                f.write(b'half of a new ')
            raise RuntimeError('interrupted')
    assert path.read_bytes() == b'the last complete epoch'
    assert os.listdir(tmp_path) == ['run.params']
