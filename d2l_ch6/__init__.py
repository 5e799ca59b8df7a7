"""d2l_ch6: chapter 6 (循环神经网络) of Dive into Deep Learning, runnable.

``import d2l_ch6 as d2l`` runs the book's chapter-6 cells in place of
``d2lzh``: the same names, argument order and printed lines.

The package is a house of layers (README: How the code is laid out): the
library below (data, models, training, the fast path, checkpoints, the
command-line frame), the sections 6.1-6.10 above it in the book's order,
then the factory (``zoo``), the tools and the exercises.
"""
from .core import errors as _errors

_errors.stop_quietly_while_starting()  # Ctrl-C while mxnet loads: one line
from .core import env as _env  # checked, and thread defaults, before mxnet
from .core import compat as _compat  # before mxnet is imported

if _env.PROBLEMS:
    _errors.refuse_environment(_env.PROBLEMS)

try:
    import mxnet
except ModuleNotFoundError as e:
    if e.name != 'mxnet':
        raise
    raise ModuleNotFoundError(
        'd2l_ch6 needs mxnet 1.9.1, which is not installed: run pip '
        'install --no-deps mxnet==1.9.1 (its wheel pins numpy<2, which has '
        'no wheel for Python 3.13; the README says why)', name='mxnet'
    ) from None
_env.start_engine()  # the engine _env chose, without mxnet's log line

from .core.book import (clip_gradient, fit_gluon, grad_clipping, predict_rnn,
                        predict_rnn_gluon, train_and_predict_rnn,
                        train_and_predict_rnn_gluon)
from .core.corpus import CORPORA, find_corpus, read_corpus
from .core.data import (data_iter_consecutive, data_iter_random, load_corpus,
                        load_data_jay_lyrics, load_data_time_machine)
from .core.device import try_all_gpus, try_gpu
from .core.errors import BadInput, CorpusError, D2LError, TrainingDiverged
from .core.models import (GluonModel, ModelSpec, RNNModel, ScratchModel,
                          new_params, to_onehot, unroll)
from .core.predict import predict
from .core.hyper import BOOK, BOOK_GATED, Hyper, seed_all
from .core.optim import sgd
from .core.trainer import (History, Trainer, evaluate_perplexity, fit,
                           perplexity)

__version__ = '0.1.0'
