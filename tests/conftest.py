"""Shared fixtures: every test starts from the same seeds, on the CPU, with
the corpora found through D2L_CH6_DATA (CI) or the usual places."""
import os
import random
import shutil
import socket

# pytest-xdist: the workers share the cores, so each gets its share of the
# OpenMP threads (set before d2l_ch6 sets its default; the test processes
# a test starts inherit it)
_WORKERS = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '1'))
if _WORKERS > 1:
    _cores = (int(os.environ['OMP_NUM_THREADS'])
              if os.environ.get('OMP_NUM_THREADS', '').isdigit()
              else len(os.sched_getaffinity(0))
              if hasattr(os, 'sched_getaffinity') else os.cpu_count())
    os.environ['OMP_NUM_THREADS'] = str(max(1, _cores // _WORKERS))

# first: d2l_ch6 restores the numpy aliases mxnet needs (numpy >= 1.24)
import d2l_ch6 as d2l  # noqa: I001
from d2l_ch6.core import corpus
import mxnet as mx
import numpy as np
import pytest


@pytest.fixture(autouse=True)
def seed():
    """Seed python, numpy and mxnet before every test."""
    random.seed(0)
    np.random.seed(0)
    mx.random.seed(0)
    return 0


@pytest.fixture
def ctx():
    return mx.cpu()


@pytest.fixture(scope='session')
def jay():
    """The book's 4-tuple: (corpus_indices, char_to_idx, idx_to_char,
    vocab_size) of the first 10,000 characters of the Jay Chou lyrics."""
    return d2l.load_data_jay_lyrics()


@pytest.fixture
def no_quick(monkeypatch):
    """Book defaults even when D2L_CH6_QUICK is set in the environment."""
    monkeypatch.delenv('D2L_CH6_QUICK', raising=False)


def pytest_report_header(config):
    return 'D2L_CH6_DATA=%s mxnet %s numpy %s' % (
        os.environ.get('D2L_CH6_DATA'), mx.__version__, np.__version__)


def closed_port():
    """A local URL nobody listens on: 'no network' without waiting."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return 'http://127.0.0.1:%d/' % s.getsockname()[1]


@pytest.fixture
def sandbox(tmp_path):
    """An empty working folder, an empty cache, no network, the corpora
    only where D2L_CH6_DATA says (a copy we may spoil)."""
    corpora = tmp_path / 'corpora'
    corpora.mkdir()
    for c in corpus.CORPORA.values():
        shutil.copy(os.path.join(os.environ['D2L_CH6_DATA'], c.file),
                    corpora / c.file)
    work = tmp_path / 'work'
    work.mkdir()
    env = dict(os.environ, D2L_CH6_DATA=str(corpora),
               D2L_CH6_CACHE=str(tmp_path / 'cache'),
               D2L_CH6_MIRROR=closed_port(), NO_PROXY='127.0.0.1',
               MPLBACKEND='Agg')
    env.pop('D2L_CH6_QUICK', None)
    return dict(env=env, work=work, corpora=corpora, tmp=tmp_path)
