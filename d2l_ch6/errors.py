"""Errors a user can cause and fix; the command line prints their message
without a traceback."""


class D2LError(Exception):
    """Base class: the message says what went wrong and what to do."""

    exit_code = 2


class BadInput(D2LError, ValueError):
    """An argument, a prefix or a device that cannot be used."""


class CorpusError(D2LError, OSError):
    """A corpus that is missing, corrupt or cannot be downloaded."""


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
