"""What a run measures: perplexity, the loss of a held-out text read in
batches, and the :class:`History` of a training run.

Defined in section 6.4 (perplexity, ``exp`` of the mean cross-entropy).
"""
import math
from dataclasses import dataclass, field

from mxnet import nd
from mxnet.gluon import loss as gloss

from .data import as_array
from .errors import raise_pending_stop


def perplexity(mean_loss):
    """exp(mean cross-entropy); inf (not OverflowError) if it overflows."""
    try:
        return math.exp(mean_loss)
    except OverflowError:
        return math.inf


def mean(l_sum, n):
    """A device sum of losses over ``n`` tokens, as a float64 mean: under
    numpy 2 a float32 divided by an int stays float32."""
    return float(l_sum.asscalar()) / n


LOSS = gloss.SoftmaxCrossEntropyLoss()


def evaluate_loss(model, corpus_indices, num_steps, ctx, batch_size=1):
    """(summed cross-entropy, tokens scored) of ``model`` on a held-out
    text. With ``batch_size=1`` the text is read as one sequence, the state
    carried over, in chunks of ``num_steps``: tokens 1..n-1 are predicted,
    as generation would (``num_steps=1`` feeds one character at a time).
    With ``batch_size=B`` it is cut into B streams read side by side, as
    the consecutive sampler cuts the training text: B times fewer calls,
    and the first token of each stream is only read, and the streams after
    the first start without the context before them (their first few
    predictions see less history), so the figure is a little higher than
    batch 1's on the same text. ``corpus_indices``: a list or any array."""
    corpus = as_array(corpus_indices)
    B = max(1, min(batch_size, len(corpus) // 2))
    length = len(corpus) // B  # tokens per stream; the tail is left out
    rows = corpus[:B * length].reshape((B, length))  # a view, read a
    state, l_sum = model.begin_state(B), nd.zeros((1,), ctx=ctx)  # window
    for i in range(0, length - 1, num_steps):  # at a time
        j = min(i + num_steps, length - 1)
        X = nd.array(rows[:, i:j], ctx=ctx, dtype='float32')
        y = nd.array(rows[:, i + 1:j + 1].T.reshape(-1), ctx=ctx,
                     dtype='float32')  # time-major, as the outputs
        outputs, state = model(X, state)  # (T*B, vocab)
        l_sum += LOSS(outputs, y).sum()
        raise_pending_stop()
    return l_sum, B * (length - 1)


def evaluate_perplexity(model, corpus_indices, num_steps, ctx,
                        batch_size=1):
    """Perplexity of ``model`` on a held-out text (see
    :func:`evaluate_loss`; batch 1 unless told)."""
    l_sum, n = evaluate_loss(model, corpus_indices, num_steps, ctx,
                             batch_size)
    return perplexity(mean(l_sum, n))


@dataclass
class History:
    """What a training run measured, one record per epoch (or per
    evaluation, when a trainer evaluates every N batches): the epoch and
    the batches trained by then, the training perplexity since the record
    before, the seconds, the held-out perplexity (with a held-out text),
    the learning rate after the record (a schedule may cut it), and the
    last predictions. It holds results only: the model is the trainer's.
    """
    epochs: list = field(default_factory=list)
    perplexity: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    valid_perplexity: list = field(default_factory=list)
    lr: list = field(default_factory=list)
    batches: list = field(default_factory=list)
    predictions: dict = field(default_factory=dict)  # prefix -> text

    @property
    def best(self):
        """The index of the record with the lowest held-out perplexity
        (None without a held-out text)."""
        v = self.valid_perplexity
        return min(range(len(v)), key=v.__getitem__) if v else None

    @property
    def best_epoch(self):
        """The epoch of the lowest held-out perplexity (None without a
        held-out text)."""
        return None if self.best is None else self.epochs[self.best]

    def asdict(self):
        return {k: list(getattr(self, k)) for k in (
            'epochs', 'perplexity', 'seconds', 'valid_perplexity', 'lr',
            'batches')}

    @classmethod
    def fromdict(cls, d):
        """From :meth:`asdict` (a checkpoint's; older ones lack batches)."""
        return cls(**{k: list(v) for k, v in d.items()})

    def __repr__(self):
        if not self.epochs:
            return 'History(no epoch)'
        return 'History(%d records, perplexity %.3f -> %.3f, %.1f s)' % (
            len(self.epochs), self.perplexity[0], self.perplexity[-1],
            sum(self.seconds))
