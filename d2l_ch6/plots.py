"""PNG plots a person can open (matplotlib's Agg canvas: no display and no
pyplot state needed), written whole or not at all."""
from ._io import atomic_path


def new_figure(figsize=(6.4, 4)):
    """(figure, axes) drawn on an Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def save_figure(fig, path):
    """Write ``fig`` to ``path`` as a PNG (folders created) and return it."""
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format='png', dpi=100)
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
