"""Plots a person can open (matplotlib's Agg canvas: no display and no
pyplot state needed), written whole or not at all: PNG, or the format
the file's name asks for (.pdf, .svg, ...)."""
import os

from .files import atomic_path
from .errors import OutputError


def figure_format(path, flag='--plot'):
    """The format matplotlib writes ``path`` in: its suffix's (png, pdf,
    svg, jpg, ...), PNG for a name without one; OutputError for a suffix
    matplotlib cannot write (checked before any work)."""
    suffix = os.path.splitext(path)[1][1:].lower()
    if not suffix:
        return 'png'
    from matplotlib.backend_bases import FigureCanvasBase
    formats = FigureCanvasBase.get_supported_filetypes()
    if suffix not in formats:
        raise OutputError('cannot write %s %s: matplotlib writes no .%s '
                          'files; name a .png (or .%s) file'
                          % (flag, path, suffix, ', .'.join(
                              f for f in sorted(formats) if f != 'png')))
    return suffix


def new_figure(figsize=(6.4, 4)):
    """(figure, axes) drawn on an Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def save_figure(fig, path):
    """Write ``fig`` to ``path`` in the format its name asks for (PNG
    without a suffix; folders created) and return it."""
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=figure_format(path), dpi=100)
    return path


def plot_perplexity(path, histories, title='perplexity per epoch'):
    """Training perplexity per epoch of each run in ``histories`` ({label:
    History}), validation perplexity dashed where a run has it; log scale.
    """
    fig, ax = new_figure()
    for i, (label, h) in enumerate(histories.items()):
        ax.semilogy(h.epochs, h.perplexity, '-', color='C%d' % i,
                    label='%s (train)' % label if h.valid_perplexity
                    else label)
        if h.valid_perplexity:
            ax.semilogy(h.epochs, h.valid_perplexity, '--', color='C%d' % i,
                        label='%s (valid)' % label)
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel('epoch')
    ax.set_ylabel('perplexity')
    ax.set_title(title)
    ax.grid(True, which='both', alpha=0.3)
    ax.legend(fontsize='small')
    return save_figure(fig, path)


# fonts with the Chinese characters of the lyrics, the first one found wins
# (matplotlib's own DejaVu draws them as boxes)
CJK_FONTS = ('Noto Sans CJK SC', 'Noto Sans CJK JP', 'WenQuanYi Zen Hei',
             'WenQuanYi Micro Hei', 'Source Han Sans SC', 'SimHei',
             'Microsoft YaHei', 'PingFang SC', 'Arial Unicode MS')


def text_font():
    """A font family that has CJK characters (None: matplotlib's default,
    which has not)."""
    from matplotlib import font_manager
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def plot_unit(path, text, values, title, per_row=30):
    """``text`` drawn character by character, ``per_row`` a row, each on a
    cell shaded by ``values`` (one number a character: a hidden unit's
    value after reading it), red above zero and blue below, with a colour
    bar: the picture of "Visualizing and Understanding Recurrent
    Networks" (Karpathy, Johnson, Fei-Fei), as a PNG."""
    import numpy as np
    values = np.asarray(values, dtype=float)
    if len(values) != len(text):
        raise ValueError('%d values for %d characters'
                         % (len(values), len(text)))
    rows = max(1, -(-len(text) // per_row))
    grid = np.full((rows, per_row), np.nan)
    grid.flat[:len(values)] = values
    size = float(np.nanmax(np.abs(values))) if len(values) else 1.0
    fig, ax = new_figure((0.32 * per_row + 1.5, 0.45 * rows + 1.2))
    image = ax.imshow(grid, cmap='coolwarm', vmin=-size or -1, vmax=size or 1,
                      aspect='auto')
    family = text_font()
    family = [family, 'DejaVu Sans'] if family else 'DejaVu Sans'
    for t, c in enumerate(text):
        shown = {'\n': '↵', ' ': '·', '\t': '→'}.get(c, c)
        ax.text(t % per_row, t // per_row, shown, ha='center', va='center',
                fontsize=11, family=family)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize='medium')
    fig.colorbar(image, ax=ax, fraction=0.03, pad=0.02)
    # a CJK font often lacks the exact weight asked: matplotlib then logs a
    # line for every character and draws the nearest, which is fine
    import logging
    log = logging.getLogger('matplotlib.font_manager')
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        return save_figure(fig, path)
    finally:
        log.setLevel(level)
