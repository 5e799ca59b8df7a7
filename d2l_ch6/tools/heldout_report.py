"""What ``heldout`` shows: its tables, its plot, its rows as JSON, and the
Markdown report of a run (docs/heldout.md is one), the sentences of
which are chosen by the numbers."""
import json

from ..core.files import atomic_path
from ..core.plots import new_figure, save_figure


def table(rows):
    """The Markdown table of one corpus' rows."""
    lines = ['| model | recipe | training perplexity | held-out perplexity '
             '| epoch kept (of) | training time |',
             '|---|---|---|---|---|---|']
    for r in rows:
        epoch = '—' if r['best_epoch'] is None else '%d (%d)' % (
            r['best_epoch'], r['epochs'])
        held = '%.2f' % r['heldout_perplexity']
        if 'best_heldout' in r:
            held += ' (%.2f at epoch %d)' % (r['best_heldout'],
                                              r['best_heldout_epoch'])
        lines.append('| %s | %s | %.2f | %s | %s | %.0f s |' % (
            r['model'], r['recipe'], r['train_perplexity'], held, epoch,
            r['seconds']))
    return '\n'.join(lines)


def plot(path, rows):
    """Training (dashed) and held-out (solid) perplexity per epoch of each
    network: one panel per corpus and recipe."""
    panels = sorted({(r['corpus'], r['recipe']) for r in rows
                     if r['kind'] == 'network'})
    if not panels:
        return None
    fig, _ = new_figure(figsize=(6.4 * min(len(panels), 2),
                                 4.2 * ((len(panels) + 1) // 2)))
    fig.clf()
    for i, (corpus, recipe) in enumerate(panels):
        ax = fig.add_subplot((len(panels) + 1) // 2, min(len(panels), 2),
                             i + 1)
        nets = [r for r in rows if (r['corpus'], r['recipe'])
                == (corpus, recipe) and r['kind'] == 'network']
        for j, r in enumerate(nets):
            epochs = range(1, len(r['train_curve']) + 1)
            ax.semilogy(epochs, r['heldout_curve'], '-', color='C%d' % j,
                        label=r['model'])
            ax.semilogy(epochs, r['train_curve'], '--', color='C%d' % j)
        best = min((r['heldout_perplexity'] for r in rows if r['corpus']
                    == corpus and r['kind'] == 'ngram'), default=None)
        if best is not None:
            ax.axhline(best, color='k', lw=0.8, ls=':',
                       label='best n-gram (held-out)')
        ax.set_title('%s, %s recipe' % (corpus, recipe), fontsize='medium')
        ax.set_xlabel('epoch')
        ax.set_ylabel('perplexity (solid: held-out, dashed: training)',
                      fontsize='small')
        ax.grid(True, which='both', alpha=0.3)
        ax.legend(fontsize='x-small')
    return save_figure(fig, path)


def write_json(path, rows):
    with atomic_path(path) as tmp:
        with open(tmp, 'w', encoding='utf-8') as f:
            json.dump(rows, f, ensure_ascii=False, indent=1)
    return path


def read_rows(path):
    with open(path, encoding='utf-8') as f:
        return json.load(f)


TITLES = {'timemachine': 'The Time Machine', 'jaychou': 'The Jay Chou lyrics'}


def _best(rows, kind, recipe=None):
    rows = [r for r in rows if r['kind'] == kind and (
        recipe is None or r['recipe'] == recipe)]
    return min(rows, key=lambda r: r['heldout_perplexity']) if rows else None


def _finding(name, rows):
    """One sentence on corpus ``name``: the best network against the best
    n-gram, chosen by their numbers."""
    gram = _best(rows, 'ngram')
    net = _best([r for r in rows if ',' not in r['recipe']], 'network')
    if gram is None or net is None:
        return None
    wins = net['heldout_perplexity'] < gram['heldout_perplexity']
    return ('**%s: the %s win.** The best network (%s, %s recipe) reaches '
            '%.2f held-out perplexity, the best n-gram (%s) %.2f%s.' % (
                TITLES.get(name, name), 'networks' if wins else 'n-grams',
                net['model'], net['recipe'], net['heldout_perplexity'],
                gram['model'], gram['heldout_perplexity'],
                '' if wins else ': %.0f %% above it' % (
                    100 * (net['heldout_perplexity'] /
                           gram['heldout_perplexity'] - 1))))


def _ablations(name, rows):
    """The recipe without each of its tools, as a sentence."""
    full = [r for r in rows if r['recipe'] == 'regularized'
            and r['model'].startswith('LSTM, Gluon')]
    parts = ['%s %.2f' % (r['recipe'].split(', ', 1)[1],
                          r['heldout_perplexity'])
             for r in rows if r['recipe'].startswith('regularized, ')]
    if not full or not parts:
        return None
    return ('%s, the Gluon LSTM of the recipe %.2f; without each of its '
            'tools: %s.' % (TITLES.get(name, name),
                            full[0]['heldout_perplexity'], ', '.join(parts)))


def markdown(rows, command):
    """The report: how it was measured, a table per corpus, what the
    numbers show."""
    lines = [
        '# Held-out perplexity: do the networks generalize?', '',
        'Written by `%s` (do not edit by hand; `--rows` redraws it from '
        'the JSON of a run). The rows are [heldout.json](heldout.json), '
        'the curves [heldout.png](heldout.png).' % command, '',
        'The book reports training perplexity, which a model that '
        'memorises its text drives toward 1. `heldout` holds out the last '
        '10 % of each corpus, trains every model on the rest and scores '
        'them all on the same held-out characters. The vocabulary has an '
        '`<unk>` for the characters seen fewer than `--min-freq` (2) times '
        'in the training part. The n-grams of 6.1: add-k, orders 1-4, k '
        'picked on the held-out text itself (an optimistic baseline), and '
        'interpolated Kneser-Ney, orders 1-5, the discount chosen on the '
        'training part. The networks: the RNN, GRU and LSTM, scratch (the '
        'fast form) and Gluon, under two recipes: `book`, each section\'s '
        'model and hyper-parameters for the book\'s number of updates; '
        '`regularized`, an embedding of 64, layers of 256 (the lyrics: one '
        'of 128), dropout, Adam, clipping at 1, weights from '
        'U(-1/sqrt(h), 1/sqrt(h)), the learning rate halved after an epoch '
        'without a better validation perplexity and early stopping after '
        '3 (the validation split is the training part\'s last 10 %: the '
        'held-out text is never looked at). `book` rows give the held-out '
        'perplexity after the last epoch and, in brackets, the best over '
        'the epochs (looked at, so only reported).', '']
    names = []
    for r in rows:
        if r['corpus'] not in names:
            names.append(r['corpus'])
    for name in names:
        mine = [r for r in rows if r['corpus'] == name]
        lines += ['## %s' % TITLES.get(name, name), '', table(mine), '']
    lines += ['## What it shows', '']
    for name in names:
        mine = [r for r in rows if r['corpus'] == name]
        for sentence in (_finding(name, mine), _ablations(name, mine)):
            if sentence:
                lines += ['- ' + sentence]
    # <unk> would be read as an HTML tag
    return '\n'.join(lines).replace(' <unk>', ' `<unk>`') + '\n'
