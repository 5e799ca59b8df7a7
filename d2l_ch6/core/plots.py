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
