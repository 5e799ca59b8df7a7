"""Files written whole or not at all, and durably; output paths checked
before any work."""
import contextlib
import os
import shutil
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
    if path.endswith(('/', os.sep)) or os.path.basename(path) in (
            '', '.', '..'):
        raise OutputError('cannot write %s: it names a folder; name a file '
                          'in it' % what)
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


def same_file(a, b):
    """True if the paths ``a`` and ``b`` name one file: the same real path
    (``./x``, ``x``, a symlink to it) or, both existing, the same inode (a
    hard link)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def check_outputs(outputs, inputs=(), same_ok=()):
    """OutputError unless every file a run will write (``outputs``,
    ``[(flag, path)]``) can be written (:func:`check_writable`), is none of
    the files it reads (``inputs``, likewise), and no two of them are one
    file: an output written over an input destroys it. ``same_ok`` lists
    the (output flag, input flag) pairs that may be one file (``--save``
    over ``--resume``: the checkpoint continued)."""
    outputs = [(f, p) for f, p in outputs if p]
    for i, (flag, path) in enumerate(outputs):
        check_writable(path, flag)
        for other, source in inputs:
            if source and (flag, other) not in same_ok \
                    and same_file(path, source):
                raise OutputError(
                    '%s %s is the file that %s reads: writing it would '
                    'destroy it; name another file' % (flag, path, other))
        for other, earlier in outputs[:i]:
            if same_file(path, earlier):
                raise OutputError('%s %s and %s %s are one file: name two'
                                  % (other, earlier, flag, path))


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


def _alive(pid):
    """True unless the process ``pid`` is known to be gone."""
    if os.name != 'posix':
        return True  # no cheap check: keep its files
    try:
        os.kill(pid, 0)  # signal 0: only asks whether it exists
    except ProcessLookupError:
        return False
    except OSError:  # another user's: alive
        pass
    return True


def temp_prefix(base):
    """The name a temporary file (or folder) for ``base`` starts with:
    ``.base.PID.``; the PID tells a later run whether its writer is gone."""
    return '.%s.%d.' % (base, os.getpid())


def remove_stale(folder, base):
    """Remove what a killed writer (``kill -9``, a power loss) left of
    ``base`` in ``folder``: its temporary files and folders whose process
    no longer runs."""
    prefix = '.%s.' % base
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        pid = name[len(prefix):].split('.', 1)[0]
        if name.startswith(prefix) and pid.isdigit() and pid != '0' \
                and not _alive(int(pid)):
            stale = os.path.join(folder, name)
            try:
                if os.path.isdir(stale) and not os.path.islink(stale):
                    shutil.rmtree(stale)
                else:
                    os.remove(stale)
            except OSError:
                pass


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path`` to write to; on success it is
    flushed to the disk (fsync), renamed to ``path`` (a reader never sees
    half a file) and the rename flushed too, so that a power loss leaves
    the old file or the new one. The temporary file's name holds this
    process's ID, so that one left by a killed run is removed by the next
    write of the same file (:func:`remove_stale`). On an error the
    temporary file is removed
    and ``path`` is left as it was; an OSError (no space left, quota,
    read-only file system) becomes one OutputError naming the file. The
    file gets the permissions of a file opened normally (mkstemp's are
    private, 0600)."""
    folder = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        os.makedirs(folder, exist_ok=True)
        remove_stale(folder, os.path.basename(path))
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(os.path.basename(path)),
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
