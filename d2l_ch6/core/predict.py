"""Writing text with a trained model: the book's greedy prediction and,
beyond the book, seeded sampling (temperature, top-k, nucleus), beam
search and the acrostic (藏头诗), from a prefix.

Defined in section 6.4 (``predict_rnn``); the rest is ``generate``'s
options (``--temperature/--top-k/--top-p/--beam/--acrostic/--lines``).
"""
import math
import re
from dataclasses import dataclass

import numpy as np
from mxnet import nd

from .data import UNK
from .errors import BadInput, raise_pending_stop

# what a backslash escape in a prefix stands for: two characters typed on
# a command line become one (a line break, a tab, a backslash)
ESCAPES = {'n': '\n', 't': '\t', '\\': '\\'}


def unescape(text):
    """``\\n`` -> a line break, ``\\t`` -> a tab, ``\\\\`` -> one
    backslash; any other backslash stays as it is (so a Windows path or a
    lone backslash is not changed)."""
    return re.sub(r'\\([nt\\])', lambda m: ESCAPES[m.group(1)], text)


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


def nucleus(p, top_p):
    """``p`` (probabilities) kept on its nucleus and renormalised: the
    smallest set of the most likely characters whose total probability
    reaches ``top_p`` (Holtzman et al.'s top-p); zero elsewhere. Ties are
    taken in index order, so the set is the same in every run."""
    order = np.argsort(-p, kind='stable')
    total = np.cumsum(p[order])
    # the first place where the total reaches top_p (all of them, where
    # rounding leaves the total of everything a hair below 1)
    n = min(int(np.searchsorted(total, top_p)) + 1, p.size)
    kept = np.zeros_like(p)
    kept[order[:n]] = p[order[:n]]
    return kept / kept.sum()


def distribution(Y, temperature=1.0, top_k=None, top_p=None):
    """What a :func:`sampler` draws from, given outputs ``Y`` (1, vocab):
    softmax(Y / T), zero outside the ``top_k`` largest outputs, then kept
    on its nucleus of mass ``top_p`` (float64, summing to 1)."""
    logits = Y[0].asnumpy().astype(np.float64) / temperature
    if top_k is not None and top_k < logits.size:
        logits[logits < np.sort(logits)[-top_k]] = -np.inf
    p = np.exp(logits - logits.max())
    p = p / p.sum()
    return p if top_p is None else nucleus(p, top_p)


def sampler(temperature=1.0, top_k=None, seed=None, top_p=None):
    """A ``pick`` for :func:`generate` that samples from softmax(Y / T),
    among the ``top_k`` largest outputs if given, and within the nucleus
    of mass ``top_p`` if given (:func:`nucleus`), with its own seeded RNG
    (so a seed gives the same text in every process)."""
    if not temperature > 0:
        raise BadInput('the temperature must be positive, got %r'
                       % temperature)
    if top_k is not None and top_k < 1:
        raise BadInput('top_k must be >= 1, got %r' % top_k)
    if top_p is not None and not 0 < top_p <= 1:
        raise BadInput('top_p must be in (0, 1], got %r' % top_p)
    rng = np.random.RandomState(seed)

    def pick(Y):
        p = distribution(Y, temperature, top_k, top_p)
        return int(rng.choice(p.size, p=p))
    return pick


def generate(step, state, prefix, num_chars, idx_to_char, char_to_idx,
             pick=greedy, stop=None):
    """Feed ``prefix`` one character at a time, then ``num_chars`` more
    chosen by ``pick`` from the outputs; return prefix + new characters.
    ``stop(char)``, if given, sees each new character and ends the text
    after the first for which it is true (``generate --lines``).

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
            if stop is not None and stop(idx_to_char[output[-1]]):
                break
    # the prefix as given (a rare character stays itself, not <unk>)
    return prefix + ''.join(idx_to_char[i] for i in output[len(prefix):])


def predict(model, prefix, num_chars, idx_to_char, char_to_idx,
            pick=greedy, stop=None):
    """Text from a ScratchModel or GluonModel (greedy by default)."""
    return generate(model.step, model.begin_state(1), prefix, num_chars,
                    idx_to_char, char_to_idx, pick, stop)


# -- beam search --------------------------------------------------------------

def log_softmax(Y):
    """ln softmax of the rows of outputs ``Y`` (an NDArray), in float64."""
    Y = Y.asnumpy().astype(np.float64)
    Y = Y - Y.max(axis=1, keepdims=True)
    return Y - np.log(np.exp(Y).sum(axis=1, keepdims=True))


def batch_axes(model):
    """The batch axis of each array of the model's state: 0 for the
    scratch and fast models' (batch, h), 1 for Gluon's (layers *
    directions, batch, h); read from the zero states of batches 1 and 2."""
    return [next(i for i, (a, b) in enumerate(zip(s1.shape, s2.shape))
                 if a != b)
            for s1, s2 in zip(model.begin_state(1), model.begin_state(2))]


@dataclass
class Beam:
    """What :func:`beam_search` found: the text (prefix included) and the
    total log-probability (nats) of its new characters, with greedy's
    beside it; ``from_greedy`` says the greedy text was the better one."""
    text: str
    log_prob: float
    greedy_text: str
    greedy_log_prob: float
    from_greedy: bool


def beam_search(model, prefix, num_chars, idx_to_char, char_to_idx,
                beam_size):
    """The ``num_chars`` characters after ``prefix`` that the beam finds
    most likely: ``beam_size`` hypotheses kept by their total
    log-probability, each expanded by every character at every step.

    The hypotheses run as one batch: their states are the rows of one
    state, and ``model(X, state)`` with X (K + 1, 1) advances them all;
    the last row follows greedy's choice, whose text and total come for
    free. Beam search is a heuristic (a hypothesis ahead at step t may
    end behind), so where greedy's text ends more likely than every
    hypothesis it is the answer (``from_greedy``): the result is never
    less likely than greedy's. Returns a :class:`Beam`."""
    check_prefix(prefix, char_to_idx)
    if beam_size < 1:
        raise BadInput('the beam size must be >= 1, got %r' % beam_size)
    unk = char_to_idx.get(UNK)
    indices = [char_to_idx.get(c, unk) for c in prefix]
    state = model.begin_state(1)
    for i in indices:
        raise_pending_stop()
        Y, state = model.step(i, state)
    if num_chars == 0:
        return Beam(prefix, 0.0, prefix, 0.0, False)
    K = beam_size
    rows = nd.zeros((K + 1,), ctx=model.ctx)  # the state copied K+1 times
    axes = batch_axes(model)
    state = [nd.take(s, rows, axis=a) for s, a in zip(state, axes)]
    logp = np.repeat(log_softmax(Y), K + 1, axis=0)  # (K + 1, V)
    V = logp.shape[1]
    scores = np.full(K, -math.inf)
    scores[0] = 0.0  # one live hypothesis: the prefix
    texts, greedy_text, greedy_score = [[] for _ in range(K)], [], 0.0
    for t in range(num_chars):
        raise_pending_stop()
        total = scores[:, None] + logp[:K]
        best = np.argsort(-total, axis=None, kind='stable')[:K]
        parents, chars = np.divmod(best, V)
        scores = total[parents, chars]
        texts = [texts[p] + [c] for p, c in zip(parents, chars)]
        g = int(np.argmax(logp[K]))
        greedy_text.append(g)
        greedy_score += logp[K, g]
        if t == num_chars - 1:
            break
        rows = nd.array(np.append(parents, K), ctx=model.ctx)
        state = [nd.take(s, rows, axis=a) for s, a in zip(state, axes)]
        X = nd.array(np.append(chars, g)[:, None], ctx=model.ctx)
        Y, state = model(X, state)  # (K + 1, V): one step, time-major
        logp = log_softmax(Y)

    def text(indices):
        return prefix + ''.join(idx_to_char[i] for i in indices)
    k = int(np.argmax(scores))
    from_greedy = greedy_score > scores[k]
    best_text, best_score = (greedy_text, greedy_score) if from_greedy \
        else (texts[k], scores[k])
    return Beam(text(best_text), float(best_score), text(greedy_text),
                float(greedy_score), bool(from_greedy))


# -- the acrostic ------------------------------------------------------------

def acrostic(step, state, heads, idx_to_char, char_to_idx, pick=greedy,
             max_line=100):
    """An acrostic (藏头诗): one line per character of ``heads``, each
    starting with it. The head is fed as if the model had written it, the
    model writes on (``pick``) until it writes a line break or the line
    has ``max_line`` characters after its head (then the break is fed as
    if written), and the next head starts the next line. The model is
    first fed a line break, so that the first head, too, starts a line.
    Needs a model trained with lines kept (a line break in its
    vocabulary); BadInput for a head it does not know."""
    newline = char_to_idx.get('\n')
    if newline is None:
        raise BadInput('this model was trained with its text\'s lines '
                       'turned into spaces (its vocabulary has no line '
                       'break), so it never ends a line: an acrostic needs '
                       'a model trained with lines kept')
    if not heads:
        raise BadInput('the acrostic is empty: give the characters its '
                       'lines start with')
    unknown = [c for c in dict.fromkeys(heads)
               if c not in char_to_idx or c.isspace()]
    if unknown:
        raise BadInput(
            'the acrostic %r has character(s) that cannot start a line of '
            'this model (not in its vocabulary, or white space): %s'
            % (heads, ', '.join(repr(c) for c in unknown)))
    _, state = step(newline, state)
    lines = []
    for head in heads:
        line = [char_to_idx[head]]
        Y, state = step(line[0], state)
        while len(line) <= max_line:
            raise_pending_stop()
            i = pick(Y)
            if i == newline:
                break
            line.append(i)
            Y, state = step(i, state)
        _, state = step(newline, state)  # the line ends
        lines.append(''.join(idx_to_char[i] for i in line))
    return '\n'.join(lines)
