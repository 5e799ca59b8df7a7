"""Files written whole or not at all, and durably; output paths checked
before any work."""
import contextlib
import os
import tempfile

from .errors import OutputError


def _reason(e):
    """The OS's words for an OSError ('No space left on device')."""
    return e.strerror or str(e)


def check_writable(path, flag=None):
    """OutputError unless a file can be written at ``path``: its folder
    exists or can be made, is a folder, and takes a new file (tried, since
    permissions, quotas and read-only file systems only show when one
    writes). ``flag`` ('--save') names the option in the message."""
    what = '%s %s' % (flag, path) if flag else path
    if os.path.isdir(path):
        raise OutputError('cannot write %s: it is a folder; name a file'
                          % what)
    folder = os.path.dirname(os.path.abspath(path))
    parent = folder
    while not os.path.exists(parent):  # the first part that exists
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise OutputError('cannot write %s: %s is a file, not a folder'
                          % (what, parent))
    try:
        os.makedirs(folder, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix='.d2l_ch6-probe-', dir=folder)
        os.close(fd)
        os.remove(probe)
    except OSError as e:
        raise OutputError('cannot write %s: %s (%s)' % (
            what, _reason(e), e.filename or folder)) from None
    return path


def _fsync_folder(folder):
    """Make a rename in ``folder`` durable (a no-op where folders cannot
    be opened, e.g. on Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path`` to write to; on success it is
    flushed to the disk (fsync), renamed to ``path`` (a reader never sees
    half a file) and the rename flushed too, so that a power loss leaves
    the old file or the new one. On an error the temporary file is removed
    and ``path`` is left as it was; an OSError (no space left, quota,
    read-only file system) becomes one OutputError naming the file. The
    file gets the permissions of a file opened normally (mkstemp's are
    private, 0600)."""
    folder = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path),
                                   dir=folder)
        os.close(fd)
        yield tmp
        with open(tmp, 'rb+') as f:
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
        _fsync_folder(folder)
    except OSError as e:
        if isinstance(e, OutputError):
            raise
        raise OutputError('cannot write %s: %s' % (path, _reason(e))) \
            from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)


def write_text(path, text):
    """Write ``text`` (UTF-8) to ``path`` through :func:`atomic_path`."""
    with atomic_path(path) as tmp:
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(text)
    return path
