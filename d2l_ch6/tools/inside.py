"""See inside a trained model: a page of a text as the model reads it.

``python -m d2l_ch6 inspect CKPT (--text FILE | --string S) --html
PAGE.html`` writes one self-contained page (no network; it opens from
disk) showing the text with

* each character shaded by the model's surprisal, −log₂ p of it given
  everything before it, and the text's bits per character and perplexity
  (2 ** bits) at the top: the figures ``score --batch-size 1`` gives;
* on hover or tap of a character, the model's five best guesses for it;
* a chooser of hidden units -- the hidden state H of every layer and
  direction, an LSTM's cell C and gates I, F, O and candidate C~, a GRU's
  gates R, Z and candidate H~ -- that shades the text by the unit's
  value, best first by how strongly it tracks something a reader can
  see (the position in the line, being inside quotes or brackets, a
  space just read, ...).

The model is run again in numpy as the sections' cells
(:mod:`d2l_ch6.tools.probe`), which keeps the states and gates the model
itself throws away. A bidirectional model (6.10) reads the whole text at
once, as in training, so its guess for a character has seen that
character and those after it: the page says so. A text longer than
``--max-chars`` is cut, and the page and the output say so.
"""
import math
import os

import numpy as np

from ..core import cli, files, flags
from ..core.data import UNK
from ..core.device import parse_ctx
from ..core.errors import ArgumentParser, BadInput
from ..core.predict import unescape
from .inside_page import render
from .probe import FEATURES, NAMES, Probe, correlations, features
from .score import Indexer, check_length, preprocess, read_indices
from .zoo import restore

TOP = 5  # guesses shown per character
MAX_VALUES = 20_000_000  # values of a trace (8 bytes each) kept at most


def parser():
    p = ArgumentParser(
        prog='python -m d2l_ch6 inspect', description=__doc__.split('\n')[0])
    p.add_argument('checkpoint', help='a file written by --save')
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument('--text', metavar='FILE',
                        help='the text to show: a file (UTF-8, or UTF-16/32 '
                        'with a BOM; or a .zip holding one)')
    source.add_argument('--string', metavar='S',
                        help='the text to show, given here (\\n is a line '
                        'break, \\t a tab, \\\\ a backslash)')
    p.add_argument('--html', metavar='PAGE', required=True,
                   help='the page to write (one self-contained HTML file)')
    p.add_argument('--max-chars', type=flags.positive_int, default=2000,
                   help='show at most this many characters of the text '
                   '(a longer one is cut, and the page says so)')
    p.add_argument('--units', type=flags.positive_int, default=40,
                   help='how many units the chooser lists (the best by '
                   'score, and the best of each kind, layer and direction)')
    flags.add(p, '--ctx', 'inspect')
    return p


def read(args, ckpt):
    """(text, indices, indexer, cut): the text to show, read as the
    checkpoint's training text was, at most ``--max-chars`` of it."""
    if args.text is not None:
        indices, text, indexer, cut = read_indices(
            args.text, ckpt, args.max_chars, keep_text=True)
        return text, indices, indexer, cut
    text = preprocess(unescape(args.string), ckpt.meta)
    cut = len(text) > args.max_chars
    text = text[:args.max_chars]
    indexer = Indexer(ckpt.char_to_idx)
    indices = indexer(text)
    indexer.check('--string')
    check_length(len(text), '--string')
    return text, indices, indexer, cut


def guesses(log_probs, indices):
    """(surprisal, top): per character, −log₂ p of it given those before
    it (None for the first) and the model's TOP best guesses for it,
    flat [index, probability, ...] (None for the first)."""
    rows = log_probs[:-1]  # the guesses for characters 1..T-1
    surprisal = -rows[np.arange(len(rows)), indices[1:]] / math.log(2)
    best = np.argsort(-rows, axis=1, kind='stable')[:, :TOP]
    p = np.exp(np.take_along_axis(rows, best, axis=1))
    top = [[v for i, q in zip(b, ps) for v in (int(i), round(float(q), 6))]
           for b, ps in zip(best, p)]
    return [None] + list(surprisal), [None] + top


def units(trace, text, how_many):
    """The units the chooser lists, best first: the ``how_many`` with the
    best scores and the best of each series (kind, layer, direction), each
    {label, score, feature, why, signed, offset, scale, values}: the
    value at t is offset + values[t] / 100 * scale (a signed unit: ints in
    -100..100 of its largest absolute value; a gate: 0..100 from its least
    to its largest value)."""
    found = features(text)
    labels = [(layer, arrow, name, j)
              for layer, arrow, name, values in trace.series
              for j in range(values.shape[1])]
    values = np.concatenate([v for _, _, _, v in trace.series], axis=1)
    corr = correlations(values, found)
    names = list(found)
    score = np.abs(corr).max(axis=1) if names else np.zeros(len(labels))
    order = np.argsort(-score, kind='stable')
    chosen, best_of = list(order[:how_many]), {}
    for u in order:  # the best unit of each series
        best_of.setdefault(labels[u][:3], u)
    chosen += [u for u in best_of.values() if u not in chosen]
    chosen.sort(key=lambda u: -score[u])
    many_layers = len({label[0] for label in labels}) > 1
    listed = []
    for u in chosen:
        layer, arrow, name, j = labels[u]
        column = values[:, u]
        gate = name in ('I', 'F', 'O', 'R', 'Z')
        if gate:  # in 0..1: shaded from its least to its largest value
            offset = float(column.min())
            scale = float(column.max()) - offset or 1.0
        else:  # signed: shaded by its size, red or blue by its sign
            offset, scale = 0.0, float(np.abs(column).max()) or 1.0
        best = int(np.abs(corr[u]).argmax()) if names else None
        feature = names[best] if names else 'nothing'
        r = float(corr[u, best]) if names else 0.0
        label = '%s%s #%d%s' % (
            'layer %d ' % layer if many_layers else '', name, j,
            ' ' + arrow if trace.bidirectional else '')
        listed.append(dict(
            label=label, layer=layer, direction=arrow, series=name,
            index=j, score=round(float(score[u]), 4), feature=feature,
            correlations={n: round(float(c), 4)
                          for n, c in zip(names, corr[u])},
            why='%s of %s%s; its correlation with “%s” is %+.2f' % (
                NAMES[name], 'layer %d' % layer if many_layers
                else 'the layer', {'→': ', forward', '←': ', backward'}[arrow]
                if trace.bidirectional else '', feature, r),
            signed=not gate, offset=offset, scale=scale,
            values=[int(v) for v in np.rint((column - offset) / scale
                                            * 100)]))
    return listed, {n: FEATURES[n] for n in names}


def analyse(model, ckpt, text, indices, how_many=40):
    """The page's data: the model's guesses and surprisal for every
    character of ``text`` (``indices``: it mapped to the vocabulary), the
    figures, and the units worth a look."""
    probe = Probe(model)
    if probe.num_values() * len(indices) > MAX_VALUES:
        raise BadInput(
            'a trace of %d characters of this model holds %d values per '
            'character: too many to keep; lower --max-chars (to %d, say)'
            % (len(indices), probe.num_values(),
               MAX_VALUES // probe.num_values()))
    trace = probe.run(indices)
    surprisal, top = guesses(trace.log_probs, indices)
    bits = float(np.mean(surprisal[1:]))
    listed, found = units(trace, text, how_many)
    return dict(
        version=1, model=model.spec.describe(), cell=model.spec.cell,
        bidirectional=model.spec.bidirectional,
        num_layers=model.spec.num_layers, text=text,
        indices=[int(i) for i in indices], vocab=list(ckpt.idx_to_char),
        unk=ckpt.char_to_idx.get(UNK),
        surprisal=[None] + [round(float(s), 6) for s in surprisal[1:]],
        top=top, bits_per_char=bits, perplexity=2 ** bits,
        loss=bits * math.log(2), predicted=len(text) - 1,
        units=listed, features=found)


def notes(data, cut, indexer, max_chars, source):
    """The sentences the page and the command say about the text."""
    said = []
    if cut:
        said.append('!Cut: only the first %d characters of %s are shown '
                    'and scored (--max-chars %d).'
                    % (max_chars, source, max_chars))
    if data['bidirectional']:
        said.append('!This model is bidirectional (section 6.10): it reads '
                    'the whole text at once, as in training, so its guess '
                    'for each character comes from a backward layer that '
                    'has already read that character and those after it. '
                    'Where its surprisal is low, that is the leak, not '
                    'skill: fed one character at a time, as when it '
                    'writes, it does far worse.')
    if indexer.num_unknown:
        said.append('%d character(s) the vocabulary lacks are read as '
                    '<unk>.' % indexer.num_unknown)
    said.append('The first character has no guess (nothing comes before '
                'it); the figures are over the %d after it, and equal '
                '`python -m d2l_ch6 score %s FILE --batch-size 1%s` on '
                'this text.' % (data['predicted'], data['checkpoint'],
                                ' --num-steps %d' % len(data['text'])
                                if data['bidirectional'] else ''))
    return said


def main(argv=None):
    args = parser().parse_args(argv)
    files.check_outputs([('--html', args.html)],
                        [('CHECKPOINT', args.checkpoint),
                         ('--text', args.text)])
    model, ckpt = restore(args.checkpoint, parse_ctx(args.ctx))
    text, indices, indexer, cut = read(args, ckpt)
    data = analyse(model, ckpt, text, indices, args.units)
    source = args.text if args.text is not None else 'the string'
    data.update(checkpoint=os.path.basename(args.checkpoint),
                source=os.path.basename(source), cut=cut,
                max_chars=args.max_chars)
    said = notes(data, cut, indexer, args.max_chars, source)
    files.write_text(args.html, render(data, said))
    print('%s: %.4f bits per character, perplexity %.4f, over %d '
          'characters' % (source, data['bits_per_char'], data['perplexity'],
                          data['predicted']))
    for sentence in said[:-1]:
        print(sentence.lstrip('!'))
    print('units, best first: ' + '; '.join(
        '%s (%s %.2f)' % (u['label'], u['feature'], u['score'])
        for u in data['units'][:5]))
    print('wrote %s' % args.html)
    return data


if __name__ == '__main__':
    cli.run(main)
