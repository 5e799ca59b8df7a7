"""The book's chapter-6 functions with d2lzh's names, argument order and
printed lines: thin fronts over the library, so that ``import d2l_ch6 as
d2l`` runs the book's cells.

Defined in sections 6.3 (``to_onehot``), 6.4 (``grad_clipping``,
``sgd``, ``predict_rnn``, ``train_and_predict_rnn``) and 6.5
(``predict_rnn_gluon``, ``train_and_predict_rnn_gluon``).
"""
from .device import try_all_gpus, try_gpu  # noqa: F401  (the book's)
from .models import GluonModel, ScratchModel, to_onehot  # noqa: F401
from .predict import predict
from .optim import clip_gradients, sgd  # noqa: F401  (the book's sgd)
from .trainer import BOOK, Hyper, fit


def grad_clipping(params, theta, ctx=None):
    """Clip the gradient: if the global L2 norm ``g`` of all gradients
    exceeds ``theta``, scale every gradient by ``theta / g``.

    ``params`` are NDArrays with attached gradients (``theta=None``: no-op).
    Same numbers as the book's, computed on the device (``ctx`` is kept for
    the book's signature; the gradients' own context is used).
    """
    clip_gradients([p.grad for p in params], theta)


clip_gradient = grad_clipping  # the project card's name


def predict_rnn(prefix, num_chars, rnn, params, init_rnn_state,
                num_hiddens, vocab_size, ctx, idx_to_char, char_to_idx):
    """Predict ``num_chars`` characters after ``prefix`` with a scratch
    model (the book's greedy argmax). Unknown characters: BadInput."""
    model = ScratchModel(rnn, params, init_rnn_state, num_hiddens,
                         vocab_size, ctx)
    return predict(model, prefix, num_chars, idx_to_char, char_to_idx)


def predict_rnn_gluon(prefix, num_chars, model, vocab_size, ctx, idx_to_char,
                      char_to_idx):
    """Predict ``num_chars`` characters after ``prefix`` with a Gluon
    model (the book's greedy argmax). Unknown characters: BadInput."""
    return predict(GluonModel(model, ctx), prefix, num_chars, idx_to_char,
                   char_to_idx)


def _book_hyper(num_hiddens, num_epochs, num_steps, lr, clipping_theta,
                batch_size, pred_period, pred_len, prefixes):
    return Hyper(num_hiddens, num_epochs, num_steps, batch_size, lr,
                 clipping_theta, pred_period, pred_len, tuple(prefixes))


def train_and_predict_rnn(rnn, get_params, init_rnn_state, num_hiddens,
                          vocab_size, ctx, corpus_indices, idx_to_char,
                          char_to_idx, is_random_iter, num_epochs, num_steps,
                          lr, clipping_theta, batch_size, pred_period,
                          pred_len, prefixes):
    """Train a from-scratch RNN and predict the next characters (the book's
    routine and printed lines). Returns the History; the parameters of
    ``get_params()`` are trained in place."""
    hp = _book_hyper(num_hiddens, num_epochs, num_steps, lr, clipping_theta,
                     batch_size, pred_period, pred_len, prefixes)
    model = ScratchModel(rnn, get_params(), init_rnn_state, num_hiddens,
                         vocab_size, ctx)
    return fit(model, corpus_indices, idx_to_char, char_to_idx, hp,
               ctx=ctx, is_random_iter=is_random_iter)


def fit_gluon(model, corpus_indices, idx_to_char, char_to_idx, hp=BOOK, *,
              ctx, initialize=True, **fit_kwargs):
    """Train a Gluon block with :func:`trainer.fit`, as the book does:
    weights re-initialised from N(0, 0.01^2) (unless ``initialize=False``),
    and a HybridBlock hybridized into one cached graph. Returns the
    History; ``model`` itself is trained."""
    net = GluonModel(model, ctx).prepare(initialize)
    return fit(net, corpus_indices, idx_to_char, char_to_idx, hp, ctx=ctx,
               **fit_kwargs)


def train_and_predict_rnn_gluon(model, num_hiddens, vocab_size, ctx,
                                corpus_indices, idx_to_char, char_to_idx,
                                num_epochs, num_steps, lr, clipping_theta,
                                batch_size, pred_period, pred_len, prefixes):
    """Train a Gluon model (consecutive sampling, weights re-initialised
    from N(0, 0.01^2)) and predict: the book's routine and printed lines.
    Returns the History; ``model`` itself is trained."""
    hp = _book_hyper(num_hiddens, num_epochs, num_steps, lr, clipping_theta,
                     batch_size, pred_period, pred_len, prefixes)
    return fit_gluon(model, corpus_indices, idx_to_char, char_to_idx, hp,
                     ctx=ctx)
