"""Writing text with a trained model: the book's greedy prediction and
seeded sampling, from a prefix.

Defined in section 6.4 (``predict_rnn``); the sampling is beyond the
book (``generate --temperature/--top-k``).
"""
import numpy as np

from .data import UNK
from .errors import BadInput, raise_pending_stop


def check_prefix(prefix, char_to_idx):
    """Raise BadInput unless every character of ``prefix`` is known (any
    character is, to a vocabulary with ``<unk>``)."""
    if not prefix:
        raise BadInput('the prefix is empty: give at least one character')
    if UNK in char_to_idx:
        return
    unknown = [c for c in dict.fromkeys(prefix) if c not in char_to_idx]
    if unknown:
        raise BadInput(
            'prefix %r has character(s) not in the vocabulary: %s. Use '
            'characters of the training corpus.'
            % (prefix, ', '.join(repr(c) for c in unknown)))


def greedy(Y):
    """The book's choice: the index of the largest output."""
    return int(Y.argmax(axis=1).asscalar())


def sampler(temperature=1.0, top_k=None, seed=None):
    """A ``pick`` for :func:`generate` that samples from softmax(Y / T),
    among the ``top_k`` largest outputs if given, with its own seeded RNG
    (so a seed gives the same text in every process)."""
    if not temperature > 0:
        raise BadInput('the temperature must be positive, got %r'
                       % temperature)
    if top_k is not None and top_k < 1:
        raise BadInput('top_k must be >= 1, got %r' % top_k)
    rng = np.random.RandomState(seed)

    def pick(Y):
        logits = Y[0].asnumpy().astype(np.float64) / temperature
        if top_k is not None and top_k < logits.size:
            logits[logits < np.sort(logits)[-top_k]] = -np.inf
        p = np.exp(logits - logits.max())
        return int(rng.choice(logits.size, p=p / p.sum()))
    return pick


def generate(step, state, prefix, num_chars, idx_to_char, char_to_idx,
             pick=greedy):
    """Feed ``prefix`` one character at a time, then ``num_chars`` more
    chosen by ``pick`` from the outputs; return prefix + new characters.

    ``step(index, state) -> (Y, state)`` with ``Y`` of shape (1, vocab).
    """
    check_prefix(prefix, char_to_idx)
    unk = char_to_idx.get(UNK)
    output = [char_to_idx.get(prefix[0], unk)]
    for t in range(num_chars + len(prefix) - 1):
        raise_pending_stop()  # a Ctrl-C that landed in a __del__
        Y, state = step(output[-1], state)
        if t < len(prefix) - 1:
            output.append(char_to_idx.get(prefix[t + 1], unk))
        else:
            output.append(pick(Y))
    # the prefix as given (a rare character stays itself, not <unk>)
    return prefix + ''.join(idx_to_char[i] for i in output[len(prefix):])


def predict(model, prefix, num_chars, idx_to_char, char_to_idx,
            pick=greedy):
    """Text from a ScratchModel or GluonModel (greedy by default)."""
    return generate(model.step, model.begin_state(1), prefix, num_chars,
                    idx_to_char, char_to_idx, pick)
