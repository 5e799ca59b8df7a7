"""Errors a user can cause and fix, and the runner of every command
(:func:`run`), which prints their message as one line, without a
traceback, and stops cleanly on Ctrl-C, SIGTERM and SIGHUP. Imported
before numpy and mxnet (it imports neither at the top), so that a Ctrl-C
while they load is one line too."""
import argparse
import errno
import os
import re
import signal
import sys
import warnings
from functools import partial


class D2LError(Exception):
    """Base class: the message says what went wrong and what to do."""

    exit_code = 2


class BadInput(D2LError, ValueError):
    """An argument, a prefix or a device that cannot be used."""


class CorpusError(D2LError, OSError):
    """A corpus that is missing, corrupt or cannot be downloaded."""


class OutputError(D2LError, OSError):
    """A file that cannot be written: a parent that is a file, no
    permission, no space left, a read-only file system."""


class TrainingDiverged(D2LError, FloatingPointError):
    """The loss became nan or inf."""

    exit_code = 3

    def __init__(self, epoch, last_finite=None, last_epoch=None):
        self.epoch, self.last_finite = epoch, last_finite
        last = ('no epoch finished with a finite perplexity'
                if last_finite is None else
                'last finite perplexity %f at epoch %d'
                % (last_finite, last_epoch))
        super().__init__(
            'training diverged at epoch %d (the mean loss is nan, or so '
            'large that its exp overflows; %s). '
            'Clip the gradients (--clip 0.01, the book\'s value) or lower '
            'the learning rate (--lr).' % (epoch, last))


class Terminated(KeyboardInterrupt):
    """The process was asked to stop by a signal (SIGTERM from ``kill``,
    ``timeout`` or a job scheduler, SIGHUP from a closing terminal): handled
    as Ctrl-C, with the exit status 128 + the signal's number."""

    def __init__(self, signum, name):
        super().__init__(name)
        self.signum, self.name = signum, name


# Signals whose exception has been raised and not yet reached run(): Python
# prints and drops an exception raised inside a __del__ (mxnet frees every
# NDArray in one), so a signal landing there would be lost; the training
# loop calls raise_pending_stop() after every batch to raise it again.
_pending = []


def stop_on_signal(signum, frame=None):
    """Signal handler: raise Terminated (KeyboardInterrupt for SIGINT) and
    remember it until clear_pending_stop()."""
    _pending.append(signum)
    raise _stop_error(signum)


def raise_pending_stop():
    """Raise again a stop signal's exception that was swallowed; cheap (no
    host sync), so the training loop calls it after every batch."""
    if _pending:
        raise _stop_error(_pending[0])


def clear_pending_stop():
    del _pending[:]


def _stop_error(signum):
    if signum == signal.SIGINT:
        return KeyboardInterrupt()
    return Terminated(signum, signal.Signals(signum).name)


def mxnet_reason(error):
    """The line of an MXNetError that says what went wrong: mxnet's message
    is a C++ stack trace ('Traceback (most recent call last):', file and
    line entries) around one 'MXNetError: ...' line, or that line first
    and its 'Stack trace:' after it."""
    # '[12:00:00] ../src/storage/storage.cc:199: text' -> 'text'
    lines = [re.sub(r'^\[[\d:]+\] \S+:\d+: ', '', line.strip())
             for line in str(error).strip().splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith('MXNetError:'):
            return line[len('MXNetError:'):].strip() or line
    frames = ('Traceback', 'File ', '[bt]', 'Stack trace')
    meaningful = [line for line in lines if not line.startswith(frames)]
    # '[10:11:12] src/x.cc:9: message' then 'Stack trace:' and its frames
    return meaningful[0] if meaningful else type(error).__name__


def from_command_line():
    """True while ``python -m d2l_ch6[.module]`` or the ``d2l-ch6`` script
    imports the package (Python sets ``sys.argv[0]`` to '-m' until the
    module is found)."""
    argv0 = sys.argv[0] if sys.argv else ''
    return argv0 == '-m' or os.path.basename(argv0) == 'd2l-ch6'


def _exit_while_starting(signum, frame=None):
    sys.stderr.write('interrupted\n' if signum == signal.SIGINT
                     else 'stopped by %s\n' % signal.Signals(signum).name)
    sys.stderr.flush()
    os._exit(128 + signum)  # nothing to save yet; no traceback of imports


def stop_quietly_while_starting():
    """On the command line, a stop signal that comes while numpy and mxnet
    are still being imported ends the process with one line and the
    conventional status (130 for Ctrl-C); the command's runner
    (``cli.run``) then takes the signals over. A signal ignored at start
    (``nohup``) stays ignored."""
    if not from_command_line():
        return
    for name in ('SIGINT', 'SIGTERM', 'SIGHUP'):
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) \
                is not signal.SIG_IGN:
            signal.signal(signum, _exit_while_starting)


def refuse_environment(problems):
    """The environment holds values mxnet or d2l_ch6 cannot use: on the
    command line one line and exit status 2, else BadInput."""
    message = 'the environment is wrong: ' + '; '.join(problems)
    if from_command_line():
        sys.stderr.write('error: %s\n' % message)
        sys.exit(2)
    raise BadInput(message)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """A flag's default after its help where it says something (not None,
    not a switch's False, not already in the help); the description and
    the epilog as they are written."""

    def _get_help_string(self, action):
        text = action.help or ''
        if any(action.default is v for v in (None, False, argparse.SUPPRESS)) \
                or 'default' in text or not action.option_strings:
            return text
        return text + ' (default: %(default)s)'


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser whose mistakes are one line, as every other error
    of the command line: ``error: PROG: what is wrong (PROG --help lists
    the flags)``, exit status 2, without the usage block; its help shows
    the defaults (:class:`HelpFormatter`)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault('formatter_class', HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, 'error: %s: %s (%s --help lists the flags)\n'
                  % (self.prog, message, self.prog))


# Ctrl-C, and what `kill`, `timeout`, a job scheduler or a closing terminal
# send
STOP_SIGNALS = [getattr(signal, name)
                for name in ('SIGINT', 'SIGTERM', 'SIGHUP')
                if hasattr(signal, name)]


def _quiet_stop(print_unraisable, unraisable):
    """A stop signal's exception dropped in a __del__ is raised again by
    the training loop: no 'Exception ignored' traceback for it."""
    if not isinstance(unraisable.exc_value, KeyboardInterrupt):
        print_unraisable(unraisable)


# what writing the standard output to a full or broken disk raises
OUTPUT_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EIO, errno.EROFS,
                 getattr(errno, 'EDQUOT', errno.ENOSPC)}


def _drop_stdout():
    """Point the standard output at the null device: what is left in its
    buffer must not fail again, as a traceback, when Python exits."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError, AttributeError):
        pass


def run(main, argv=None):
    """Run ``main(argv)`` as a command: a D2LError or an mxnet error is one
    line on stderr and a non-zero exit; Ctrl-C, SIGTERM and SIGHUP stop it
    at once and cleanly (a checkpoint being written is left as it was),
    with the conventional status 130, 143 and 129."""
    from mxnet.base import MXNetError  # imported by now (not at the top:
    # this module is loaded before mxnet, to catch a Ctrl-C during import)
    # a warning (e.g. a corpus copy with the wrong sha1) is one line too
    warnings.formatwarning = lambda message, *args, **kwargs: \
        'warning: %s\n' % message
    # a signal ignored at start (SIGHUP under nohup, SIGINT in a background
    # job) stays ignored
    previous = {s: signal.signal(s, stop_on_signal) for s in STOP_SIGNALS
                if signal.getsignal(s) is not signal.SIG_IGN}
    print_unraisable = sys.unraisablehook
    sys.unraisablehook = partial(_quiet_stop, print_unraisable)
    try:
        main(argv)
        raise_pending_stop()  # one that landed in a __del__ after the loop
        sys.stdout.flush()  # a full disk under `> out.txt` shows here
    except D2LError as e:
        print('error: %s' % e, file=sys.stderr)
        sys.exit(e.exit_code)
    except MXNetError as e:
        print('error: mxnet failed: %s' % mxnet_reason(e), file=sys.stderr)
        sys.exit(1)
    except Terminated as e:
        print('stopped by %s' % e.name, file=sys.stderr)
        sys.exit(128 + e.signum)
    except KeyboardInterrupt:
        print('interrupted', file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:  # e.g. `python -m d2l_ch6 6.3 | head`
        sys.stderr.close()
        sys.exit(0)
    except OSError as e:  # printing to a full disk (`> /dev/full`)
        if e.errno not in OUTPUT_ERRNOS:
            raise
        _drop_stdout()
        print('error: cannot write the output: %s' % (e.strerror or e),
              file=sys.stderr)
        sys.exit(2)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        sys.unraisablehook = print_unraisable
        clear_pending_stop()
    return 0
