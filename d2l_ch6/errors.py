"""Errors a user can cause and fix; the command line prints their message
without a traceback."""
import re
import signal


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
