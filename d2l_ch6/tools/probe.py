"""Inside a model: every model of the chapter run again in numpy as the
sections' scratch cells, step by step, keeping what the model itself
throws away -- the hidden state H (and an LSTM's cell C) of every layer
and direction after each character, the gates, and the probabilities of
the next character. ``inspect`` draws them.

A scratch or fast model's ``state_dict()`` is the sections' layout; a
Gluon model's layers convert with ``core.parity`` (a GRU then in Gluon's
reset-after form, ``gru.gru_cell_gluon``, which is what ``rnn.GRU``
computes). tests/test_inspect.py proves the probabilities equal the
model's own outputs.
"""
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from ..core.models import GATES
from ..core.parity import scratch_cell_params, scratch_dense_params

# what each recorded series of a cell is, in the order the page lists them
SERIES = {'rnn': ('H',), 'gru': ('H', 'R', 'Z', 'H~'),
          'lstm': ('H', 'C', 'I', 'F', 'O', 'C~')}
NAMES = {'H': 'hidden state H', 'C': 'memory cell C',
         'I': 'input gate I', 'F': 'forget gate F', 'O': 'output gate O',
         'C~': 'candidate memory C~', 'R': 'reset gate R',
         'Z': 'update gate Z', 'H~': 'candidate state H~'}


@dataclass
class Cell:
    """One layer in one direction, as a scratch cell computes it: all its
    gates' input weights side by side, W_x (in, g*h) (or the gather table
    (vocab, g*h) of a one-hot first layer), W_h (h, g*h) and b (g*h,), in
    the book's gate order (GRU Z, R, H~; LSTM I, F, O, C~). ``b_hh`` is
    the second candidate bias of Gluon's GRU (reset gate after the
    product)."""
    cell: str  # 'rnn', 'gru' or 'lstm'
    W_x: np.ndarray
    W_h: np.ndarray
    b: np.ndarray
    activation: str = 'tanh'
    b_hh: Optional[np.ndarray] = None

    @property
    def num_hiddens(self):
        return self.W_h.shape[0]


@dataclass
class Trace:
    """What :meth:`Probe.run` records over a text of T characters:
    ``log_probs`` (T, vocab), ln p of the character after each one, and
    ``series``: [(layer, direction, name, values (T, h))], the values
    after each character was read (direction '→' forward, '←'
    backward); ``bidirectional``: the guesses saw the text after them."""
    log_probs: np.ndarray
    series: List[tuple]
    bidirectional: bool = False


def _numpy(arrays):
    return [a.asnumpy().astype(np.float64) for a in arrays]


def _cell(cell, params, activation):
    """A :class:`Cell` from the sections' flat parameters of one cell:
    three per gate (W_x, W_h, b), a Gluon GRU's candidate four."""
    b_hh = None
    if cell == 'gru' and len(params) == 10:  # Gluon's form
        b_hh, params = params[9], params[:9]
    g = len(GATES[cell])
    return Cell(cell, np.concatenate(params[0:3 * g:3], axis=1),
                np.concatenate(params[1:3 * g:3], axis=1),
                np.concatenate(params[2:3 * g:3]), activation, b_hh)


class Probe:
    """A model's weights as numpy cells (see the module's docstring):
    ``cells[layer]`` holds one :class:`Cell` per direction, ``embed`` the
    embedding table (None: one-hot inputs), ``W_hq``, ``b_q`` the output
    layer."""

    def __init__(self, model):
        spec = self.spec = model.spec
        D = spec.num_directions
        g = len(GATES[spec.cell])
        if spec.impl == 'gluon':
            block = model.block
            layer = block.rnn
            activation = layer._mode[4:] if spec.cell == 'rnn' else 'tanh'
            self.cells = [[_cell(spec.cell, _numpy(
                scratch_cell_params(layer, k, d)), activation)
                for d in 'lr'[:D]] for k in range(spec.num_layers)]
            self.embed = None if block.embedding is None else _numpy(
                [block.embedding.weight.data(model.ctx)])[0]
            self.W_hq, self.b_q = _numpy(scratch_dense_params(block.dense))
        else:  # the sections' layout, fast or not
            arrays = model.state_dict()
            params = _numpy([arrays[str(i)] for i in range(len(arrays))])
            self.embed = params.pop(0) if spec.embed_size else None
            self.cells = []
            for _ in range(spec.num_layers):
                self.cells.append([])
                for _ in range(D):
                    self.cells[-1].append(_cell(spec.cell, params[:3 * g],
                                                spec.activation))
                    params = params[3 * g:]
            self.W_hq, self.b_q = params

    def run(self, indices):
        """The :class:`Trace` of the text ``indices`` read from the zero
        state, as ``model(X, begin_state(1))`` reads it at once: a
        bidirectional model's backward layer starts from its end."""
        indices = np.asarray(indices, dtype=np.int64)
        below = None if self.embed is None else self.embed[indices]
        series = []
        for k, cells in enumerate(self.cells):
            Hs = []
            for cell, arrow in zip(cells, '→←'):
                if below is None:  # one-hot: the rows of the table
                    XW = cell.W_x[indices] + cell.b
                else:
                    XW = below @ cell.W_x + cell.b
                recorded = _unroll(cell, XW, reverse=arrow == '←')
                series += [(k + 1, arrow, name, recorded[name])
                           for name in SERIES[cell.cell]]
                Hs.append(recorded['H'])
            below = np.concatenate(Hs, axis=1)
        logits = below @ self.W_hq + self.b_q
        logits -= logits.max(axis=1, keepdims=True)
        log_probs = logits - np.log(np.exp(logits).sum(axis=1,
                                                       keepdims=True))
        return Trace(log_probs, series, self.spec.bidirectional)

    def num_values(self):
        """How many values a character's trace holds (all series)."""
        return sum(len(SERIES[cell.cell]) * cell.num_hiddens
                   for cells in self.cells for cell in cells)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


ACTIVATIONS = {'tanh': np.tanh, 'relu': lambda x: np.maximum(x, 0)}


def _unroll(cell, XW, reverse=False):
    """Run ``cell`` over the input products ``XW`` (T, g*h) (biases
    included) from a zero state; {series name: (T, h)} in time order."""
    T, h = XW.shape[0], cell.num_hiddens
    out = {name: np.empty((T, h)) for name in SERIES[cell.cell]}
    H, C = np.zeros(h), np.zeros(h)
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        if cell.cell == 'rnn':
            H = ACTIVATIONS[cell.activation](XW[t] + H @ cell.W_h)
        elif cell.cell == 'lstm':
            Z = XW[t] + H @ cell.W_h
            I, F, O = (_sigmoid(Z[j * h:(j + 1) * h]) for j in range(3))
            C_tilda = np.tanh(Z[3 * h:])
            C = F * C + I * C_tilda
            H = O * np.tanh(C)
            out['C'][t], out['I'][t], out['F'][t] = C, I, F
            out['O'][t], out['C~'][t] = O, C_tilda
        else:  # GRU: Z and R read H; the candidate reads R * H (the
            # book's) or R * (H W_hh + b_hh) (Gluon's)
            ZR = _sigmoid(XW[t, :2 * h] + H @ cell.W_h[:, :2 * h])
            Zg, R = ZR[:h], ZR[h:]
            if cell.b_hh is None:
                H_tilda = np.tanh(XW[t, 2 * h:]
                                  + (R * H) @ cell.W_h[:, 2 * h:])
            else:
                H_tilda = np.tanh(XW[t, 2 * h:] + R * (
                    H @ cell.W_h[:, 2 * h:] + cell.b_hh))
            H = Zg * H + (1 - Zg) * H_tilda
            out['R'][t], out['Z'][t], out['H~'][t] = R, Zg, H_tilda
        out['H'][t] = H
    return out


# -- which units are worth a look ------------------------------------------

# what a unit may track, each a number per character read (the page
# explains them with these words)
QUOTES = {'"': '"', '“': '”', '‘': '’', '「': '」', '『': '』', '«': '»',
          "'": "'"}
BRACKETS = {'(': ')', '[': ']', '{': '}', '（': '）', '【': '】', '《': '》',
            '〈': '〉', '<': '>'}
FEATURES = {
    'line position': 'how many characters since the last line break',
    'word position': 'how many characters since the last space',
    'inside quotes': "inside a quotation (\"…\", '…', “…”, 「…」)",
    'inside brackets': 'inside brackets ((…), […], （…）, 《…》)',
    'after a space': 'the character just read is a space (a word starts '
                     'next)',
    'line end next': 'the next character is a line break',
}


def features(text):
    """{feature: (T,) values} for the characters of ``text``: the value
    at t describes the text read up to and including character t. Those
    constant over the text (no line break, no quote) are left out: they
    explain nothing."""
    T = len(text)
    line, word = np.zeros(T), np.zeros(T)
    quoted, bracketed = np.zeros(T), np.zeros(T)
    since_line = since_space = 0
    open_quote, depth = None, 0
    closing = set(BRACKETS.values())
    for t, c in enumerate(text):
        since_line = 0 if c == '\n' else since_line + 1
        since_space = 0 if c in ' \n' else since_space + 1
        if c == "'":  # a quote, unless inside a word (an apostrophe)
            before = text[t - 1].isalnum() if t else False
            after = text[t + 1].isalnum() if t + 1 < T else False
            if open_quote is None and after and not before:
                open_quote = c
            elif open_quote == c and not after:
                open_quote = None
        elif open_quote is not None and c == QUOTES[open_quote]:
            open_quote = None
        elif open_quote is None and c in QUOTES:
            open_quote = c
        if c in BRACKETS:
            depth += 1
        elif c in closing and depth:
            depth -= 1
        line[t], word[t] = since_line, since_space
        quoted[t], bracketed[t] = open_quote is not None, depth > 0
    chars = np.array(list(text)) if T else np.array([], dtype=str)
    found = {'line position': line, 'word position': word,
             'inside quotes': quoted, 'inside brackets': bracketed,
             'after a space': (chars == ' ').astype(float),
             'line end next': np.append(chars[1:] == '\n', False)
             .astype(float)}
    if '\n' not in text:
        del found['line position']
    return {name: v for name, v in found.items() if v.std() > 0}


def correlations(values, found):
    """(U, F) Pearson correlations of the units' values (T, U) with the
    features ``found`` ({name: (T,)}); 0 for a unit that never moves."""
    if not found:
        return np.zeros((values.shape[1], 0))

    def standard(x):
        sd = x.std(axis=0)
        return (x - x.mean(axis=0)) / np.where(sd > 1e-12, sd, np.inf)
    F = np.stack(list(found.values()), axis=1)
    return standard(values).T @ standard(F) / len(values)
