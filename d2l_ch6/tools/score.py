"""Score a text with a trained model: loss, perplexity, bits per character.

``python -m d2l_ch6 score CKPT FILE`` reads FILE as a stream, with the
preprocessing the checkpoint's training text had (line breaks to spaces
unless it was trained with lines kept, lower case if it was lower-cased),
maps each character to the checkpoint's vocabulary (a character it does
not know becomes its ``<unk>``; without one, the command lists them and
stops) and scores every character after the first.

The text is cut into ``--batch-size`` streams read side by side, in
chunks of ``--num-steps`` (the checkpoint's by default): B times fewer
calls, but each stream after the first starts without the text before
it, so its first few predictions see less context and the figure is a
little higher than one stream's, and the first character of each stream
is read, not predicted (and the last ``len % B`` characters are left
out). ``--batch-size 1`` reads the text as one stream, each character
predicted from everything before it: that is the figure ``inspect`` shows
(for a bidirectional model, also give ``--num-steps`` the text's length:
``inspect`` reads such a model's text at once).
"""
import json
import math
import os

import numpy as np

from ..core import cli, corpus, files, flags
from ..core.data import UNK
from ..core.device import parse_ctx
from ..core.errors import ArgumentParser, BadInput
from ..core.trainer import evaluate_loss, mean, perplexity
from .zoo import restore


# -- the checkpoint's reading of a text ------------------------------------

def preprocessing(meta):
    """(lower, keep_newlines) of the text a checkpoint was trained on:
    ``meta['lower']`` (None: as the book reads its corpus, lower case for
    The Time Machine) and ``meta['keep_newlines']`` (absent: the book's
    line breaks to spaces)."""
    lower = meta.get('lower')
    if lower is None:
        name = meta.get('corpus')
        lower = bool(name and corpus.is_builtin(name)
                     and corpus.CORPORA[name].lower)
    return bool(lower), bool(meta.get('keep_newlines'))


def preprocess(text, meta):
    """``text`` as the checkpoint's training text was read: line breaks
    and carriage returns to spaces (or, with lines kept, CR LF and a lone
    CR to one line break), lower case if it was lower-cased."""
    lower, keep_newlines = preprocessing(meta)
    text = corpus.lines(text, keep_newlines)
    return text.lower() if lower else text


def text_chunks(path, meta):
    """The text of a user's file, chunk by chunk, read as the checkpoint's
    training text was (see :func:`preprocess`); BadInput if it is
    missing, CorpusError if it cannot be read as text."""
    if not os.path.exists(path):
        raise BadInput('no such file: %s' % path)
    return corpus.text_chunks(path, *preprocessing(meta))


class Indexer:
    """Maps text to the checkpoint's indices, chunk after chunk, counting
    the characters its vocabulary lacks: they become ``<unk>`` where it
    has one; without one, :meth:`check` lists them."""

    def __init__(self, char_to_idx):
        self.char_to_idx = char_to_idx
        self.unk = char_to_idx.get(UNK)
        self.unknown = {}  # character -> how often
        self.num_chars = 0

    def __call__(self, text):
        get, unk = self.char_to_idx.get, self.unk
        indices = np.fromiter((get(c, -1) for c in text), dtype=np.int64,
                              count=len(text))
        for i in np.flatnonzero(indices < 0):
            self.unknown[text[i]] = self.unknown.get(text[i], 0) + 1
        if unk is not None:
            indices[indices < 0] = unk
        self.num_chars += len(text)
        return indices

    def check(self, what):
        """BadInput if ``what`` had characters the vocabulary lacks and
        it has no ``<unk>``."""
        if self.unk is not None or not self.unknown:
            return
        chars = sorted(self.unknown, key=lambda c: -self.unknown[c])
        shown = ', '.join(repr(c) for c in chars[:20])
        raise BadInput(
            "%s has %d character(s) not in the checkpoint's vocabulary, "
            'which has no %s: %s%s. Score it with a model trained with '
            '--min-freq K (its rare characters become %s), or leave them '
            'out' % (what, len(chars), UNK, shown,
                     ' and %d more' % (len(chars) - 20)
                     if len(chars) > 20 else '', UNK))

    @property
    def num_unknown(self):
        return sum(self.unknown.values())


def read_indices(path, ckpt, max_chars=None, keep_text=False):
    """(indices, text or None, indexer, cut): a file read as the
    checkpoint's training text was, mapped to its vocabulary, stopping
    after ``max_chars`` characters (``cut``: there were more). The
    characters are turned into indices chunk by chunk (4 bytes each, not
    the whole text); ``keep_text`` also keeps the text."""
    indexer = Indexer(ckpt.char_to_idx)
    parts, texts, n, cut = [], [], 0, False
    reader = text_chunks(path, ckpt.meta)
    for text in reader:
        if max_chars is not None and n + len(text) > max_chars:
            text, cut = text[:max_chars - n], True
        parts.append(indexer(text).astype(np.int32))
        if keep_text:
            texts.append(text)
        n += len(text)
        if cut:
            reader.close()
            break
    indexer.check(path)
    check_length(n, path)
    return np.concatenate(parts), ''.join(texts) if keep_text else None, \
        indexer, cut


def check_length(num_chars, what):
    """BadInput for a text too short to score (the first character is
    read, the next ones predicted)."""
    if num_chars == 0:
        raise BadInput('%s is empty: there is nothing to score' % what)
    if num_chars < 2:
        raise BadInput('%s has one character: a score needs at least 2 '
                       '(the first is read, the next ones predicted)' % what)


# -- the score ----------------------------------------------------------------

def score(model, corpus_indices, num_steps, ctx, batch_size=1):
    """{'loss' (nats per character), 'perplexity', 'bits_per_char',
    'predicted' (characters scored), 'batch_size' (streams)} of
    ``model`` on ``corpus_indices`` (see ``trainer.evaluate_loss``)."""
    l_sum, n = evaluate_loss(model, corpus_indices, num_steps, ctx,
                             batch_size)
    loss = mean(l_sum, n)
    return dict(loss=loss, perplexity=perplexity(loss),
                bits_per_char=loss / math.log(2),
                predicted=n, batch_size=max(1, min(batch_size,
                                                   len(corpus_indices) // 2)))


def parser():
    p = ArgumentParser(
        prog='python -m d2l_ch6 score', description=__doc__.split('\n')[0])
    p.add_argument('checkpoint', help='a file written by --save')
    p.add_argument('file', help='the text to score (UTF-8, or UTF-16/32 '
                   'with a BOM; or a .zip holding one)')
    for name in ('--batch-size', '--num-steps', '--json', '--ctx'):
        flags.add(p, name, 'score')
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    files.check_outputs([('--json', args.json)],
                        [('CHECKPOINT', args.checkpoint),
                         ('FILE', args.file)])
    ctx = parse_ctx(args.ctx)
    model, ckpt = restore(args.checkpoint, ctx)
    num_steps = args.num_steps or ckpt.meta['hyper']['num_steps']
    indices, _, indexer, _ = read_indices(args.file, ckpt)
    result = score(model, indices, num_steps, ctx, args.batch_size)
    result.update(checkpoint=args.checkpoint, file=args.file,
                  model=ckpt.spec.describe(), characters=indexer.num_chars,
                  unknown=indexer.num_unknown if indexer.unk is not None
                  else 0, num_steps=num_steps)
    B = result['batch_size']
    print('%s on %s: %d characters%s, %d predicted (%s, chunks of %d)' % (
        args.checkpoint, args.file, result['characters'],
        ' (%d read as %s)' % (result['unknown'], UNK)
        if result['unknown'] else '', result['predicted'],
        'one stream' if B == 1 else '%d streams of %d' % (
            B, len(indices) // B), num_steps))
    print('loss %.4f nats/char | perplexity %.4f | %.4f bits/char'
          % (result['loss'], result['perplexity'], result['bits_per_char']))
    if ckpt.spec.bidirectional:
        print('(a bidirectional model: its guesses in a chunk saw the rest '
              'of the chunk, so the figure falls as --num-steps grows; '
              '--num-steps 1 scores the text as generation reads it)')
    if args.json:
        files.write_text(args.json, json.dumps(result, indent=1) + '\n')
    return result


if __name__ == '__main__':
    cli.run(main)
