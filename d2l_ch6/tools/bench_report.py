"""The benchmark's table and pictures (rows as ``bench`` makes them)."""
from ..core.plots import new_figure, save_figure


def label(r, sweep):
    """'gru scratch fast cpu(0)' (+ ' 20000 chars h=512' when sweeping)."""
    text = '%s %s%s %s' % (r['model'], r['impl'],
                           ' fast' if r['fast'] else '', r['ctx'])
    if sweep:
        text += ' %s chars h=%d' % (r['corpus_chars'], r['num_hiddens'])
    return text


def _pair(sec, ratio):
    return '%7.3f %6.2fx' % (sec, ratio) if ratio else '%7s %7s' % ('-', '-')


def table(rows, sweep=False):
    """The rows as a text table: ours, the book's routine, the peer, the
    two limits."""
    width = max([28] + [len(label(r, sweep)) for r in rows])
    lines = ['%-*s %17s %9s %8s %7s %6s %6s %7s %7s %7s %8s' % (
        width, 'model', 'sec/epoch (min-max)', 'tokens/s', 'GFLOP/ep',
        'GFLOP/s', 'square', 'shapes', 'book s', 'book/us', 'torch s',
        'torch/us')]
    for r in rows:
        lines.append(
            '%-*s %5.3f (%.3f-%.3f) %9.0f %8.2f %7.1f %5.0f%% %5.0f%% %s %s'
            % (width, label(r, sweep), r['sec_per_epoch'], r['sec_min'],
               r['sec_max'], r['tokens_per_sec'], r['gflop_per_epoch'],
               r['gflops'], 100 * r['limit_fraction'],
               100 * r['shape_fraction'],
               _pair(r['book_sec_per_epoch'], r['speedup_vs_book']),
               _pair(r['peer_sec_per_epoch'], r['speedup_vs_peer'])))
    return '\n'.join(lines)


PARTS = ('model', 'clip', 'update', 'rest')


def phase_table(rows, sweep=False):
    """Where an epoch's time goes (rows with ``phases``): per framework,
    milliseconds per batch of forward + loss + backward, clipping, the
    update and the rest."""
    width = max([28] + [len(label(r, sweep)) for r in rows])
    lines = ['ms per batch, the host waiting after each part: model '
             '(forward, loss, backward), clip, update, rest (sampler, '
             'state)',
             '%-*s %-7s %8s %8s %8s %8s %8s' % (
                 width, 'model', 'who', *PARTS, 'batch')]
    for r in rows:
        for who, key in (('d2l_ch6', 'phases'), ('torch', 'peer_phases')):
            p = r.get(key)
            if not p:
                continue
            n = r['batches_per_epoch']
            lines.append('%-*s %-7s %s %8.2f' % (
                width, label(r, sweep), who,
                ' '.join('%8.2f' % (1e3 * p[k] / n) for k in PARTS),
                1e3 * p['epoch'] / n))
    return '\n'.join(lines)


def plot_scaling(path, rows):
    """A sweep's picture: seconds per epoch against the GFLOP of an epoch,
    one line per model (ours solid, the book's routine dashed), log-log;
    a time that follows the work runs parallel to the grey slope 1."""
    fig, ax = new_figure((7.5, 5))
    models = {}
    for r in rows:
        models.setdefault((r['model'], r['impl'], r['ctx']), []).append(r)
    for i, ((model, impl, ctx), group) in enumerate(models.items()):
        group = sorted(group, key=lambda r: r['gflop_per_epoch'])
        gflop = [r['gflop_per_epoch'] for r in group]
        ax.plot(gflop, [r['sec_per_epoch'] for r in group], 'o-',
                color='C%d' % i, label='%s %s %s' % (model, impl, ctx))
        if all(r['book_sec_per_epoch'] for r in group):
            ax.plot(gflop, [r['book_sec_per_epoch'] for r in group], 'o--',
                    color='C%d' % i, alpha=0.5)
    lo = min(r['gflop_per_epoch'] for r in rows)
    hi = max(r['gflop_per_epoch'] for r in rows)
    t0 = min(r['sec_per_epoch'] for r in rows)
    ax.plot([lo, hi], [t0, t0 * hi / lo], color='grey', lw=1, alpha=0.5,
            label='time proportional to the work')
    ax.set_xscale('log')
    ax.set_yscale('log')
    ax.set_xlabel('GFLOP per epoch (matrix products, forward and backward)')
    ax.set_ylabel('seconds per epoch (median)')
    ax.set_title("time per epoch against work (dashed: the book's routine)")
    ax.legend(fontsize='small')
    ax.grid(True, which='both', alpha=0.3)
    return save_figure(fig, path)


def plot(path, rows, sweep=False, title=None):
    """A bar chart: seconds per epoch of the book's routine, ours and the
    peer's side by side, our speedup over each written above; for a
    sweep, :func:`plot_scaling`."""
    if sweep:
        return plot_scaling(path, rows)
    fig, ax = new_figure((max(6.4, 1.1 * len(rows) + 1.5), 4.8))
    x = range(len(rows))
    bars = [("the book's routine", 'book_sec_per_epoch', 'C1'),
            ('d2l_ch6', 'sec_per_epoch', 'C0'),
            ('PyTorch', 'peer_sec_per_epoch', 'C2')]
    bars = [b for b in bars if any(r[b[1]] for r in rows)]
    w = 0.8 / len(bars)
    for j, (name, key, color) in enumerate(bars):
        ax.bar([i + (j - (len(bars) - 1) / 2) * w for i in x],
               [r[key] or 0 for r in rows], w, label=name, color=color)
    for i, r in zip(x, rows):
        words = ['%.2fx' % r[k] for k in ('speedup_vs_book',
                                          'speedup_vs_peer') if r[k]]
        top = max(r[key] or 0 for _, key, _ in bars)
        if words:
            ax.annotate('\n'.join(words), (i, top), ha='center',
                        va='bottom', fontsize='x-small')
    ax.set_xticks(list(x))
    ax.set_xticklabels([label(r, False).replace(' ', '\n', 2)
                        for r in rows], fontsize='small')
    ax.set_ylabel('seconds per epoch (median)')
    ax.set_title(title or 'seconds per epoch, book settings (above: ours '
                 'faster by)')
    ax.legend(fontsize='small')
    ax.grid(True, axis='y', alpha=0.3)
    return save_figure(fig, path)


def _name(r):
    return '%s, %s%s' % (r['model'], 'Gluon' if r['impl'] == 'gluon'
                         else 'scratch', ' (fast)' if r['fast'] else '')


def _x(value):
    return '%.2f×' % value if value else '—'


def _s(value):
    return '%.3f' % value if value else '—'


def markdown(rows, command, machine=''):
    """docs/benchmark.md: how it was measured, the table, where the time
    goes (with --phases), and what the numbers show, in sentences chosen
    by them."""
    settings = rows[0].get('mxnet', {}) if rows else {}
    lines = [
        '# Benchmark', '',
        'Written by `%s` (do not edit by hand; `--rows` redraws it from '
        'the JSON of a run).%s' % (command, ' ' + machine if machine
                                    else ''), '',
        'Every model of the chapter trains with the book\'s settings '
        '(batch 32, 35 steps, lr 100, clipping 0.01, 256 hidden units, '
        'the first 10,000 characters of the lyrics, consecutive '
        'sampling): a warm-up epoch, then the timed ones; the median '
        'counts. `book/us`: the book\'s own routine (d2lzh) on the same '
        'model in the same process, its epochs interleaved with ours. '
        '`torch/us`: the same model in PyTorch, from the same initial '
        'weights, with the same clipping, sgd and threads, one epoch right '
        'after each of ours. Both are their seconds over ours: above 1, '
        'ours is faster. GFLOP: the matrix products of an epoch, forward '
        'and backward, counted from the shapes; "of the square limit": '
        'that work\'s rate over the best large square product measured '
        'in the same process.', '']
    if settings:
        lines += ['mxnet ran with the %(engine)s, %(omp_threads)d OpenMP '
                  'threads (d2l_ch6/core/env.py says why).' % settings, '']
    lines += ['| model | ours s/epoch | book s/epoch | book/us | PyTorch '
              's/epoch | torch/us | GFLOP/s | of the square limit |',
              '|---|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append('| %s | %.3f | %s | %s | %s | %s | %.0f | %.0f %% |' % (
            _name(r), r['sec_per_epoch'], _s(r['book_sec_per_epoch']),
            _x(r['speedup_vs_book']), _s(r['peer_sec_per_epoch']),
            '**%s**' % _x(r['speedup_vs_peer']) if r['speedup_vs_peer']
            else '—', r['gflops'], 100 * r['limit_fraction']))
    phased = [r for r in rows if r.get('phases')]
    if phased:
        lines += ['', '## Where the time goes', '',
                  'Milliseconds per batch, the host waiting after each '
                  'part (`--phases`: so the parts add up to a little more '
                  'than a batch of the timed epochs): the model\'s forward, '
                  'loss and backward; clipping; the update; the rest (the '
                  'sampler, the state, the epoch\'s end).', '',
                  '| model | who | forward + loss + backward | clip | '
                  'update | rest | batch |', '|---|---|---|---|---|---|---|']
        for r in phased:
            n = r['batches_per_epoch']
            for who, key in (('d2l_ch6', 'phases'), ('PyTorch',
                                                      'peer_phases')):
                p = r.get(key)
                if p:
                    lines.append('| %s | %s | %s | %.1f |' % (
                        _name(r), who, ' | '.join(
                            '%.1f' % (1e3 * p[k] / n) for k in PARTS),
                        1e3 * p['epoch'] / n))
    lines += ['', '## What it shows', '']
    peer = [r['speedup_vs_peer'] for r in rows if r['speedup_vs_peer']]
    if peer:
        ahead = sum(v >= 1 for v in peer)
        lines.append('- **Against PyTorch**: torch/us %.2f–%.2f; ours is '
                     'at least as fast on %d of the %d models%s.' % (
                         min(peer), max(peer), ahead, len(peer),
                         '' if ahead == len(peer) else ' (behind on: %s)'
                         % ', '.join(_name(r) for r in rows
                                     if r['speedup_vs_peer']
                                     and r['speedup_vs_peer'] < 1)))
    for impl, what in (('scratch', 'the fast scratch models'),
                       ('gluon', 'the Gluon models')):
        book = [r['speedup_vs_book'] for r in rows
                if r['impl'] == impl and r['speedup_vs_book']]
        if book:
            lines.append('- **Against the book\'s routine**, %s: %.2f–%.2f '
                         'times faster.' % (what, min(book), max(book)))
    return '\n'.join(lines) + '\n'
