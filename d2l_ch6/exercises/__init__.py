"""Exercises of chapter 6, each answered by a run — 练习：用实验回答。

Every exercise of the chapter that a run can answer is an experiment with
an ID (``python -m d2l_ch6.exercises --list``). An experiment runs what it
needs, prints its table, and states an answer whose words are chosen by the
measured numbers ('faster' or 'slower' from a ratio, 'diverged at epoch N'
from the exception), and whether the learner's own answer (paraphrased
from 阿臻's public study notes, 《阿臻的学习笔记》, page 《第六章》 of its
MXNet part) is confirmed or refuted by that run.

The package: :mod:`.registry` (the registry and the words answers are
made of), :mod:`.lab` (the corpus, the device, quick mode and the one way
experiments train), :mod:`.report` (running them, the command line, the
Markdown report), and one module per section, named after the section's
own module (``exercises/gru.py`` holds 6.7's): a new exercise goes in the
module of its section. ``python -m d2l_ch6 exercises --help`` shows the
usage.

Without ``--quick`` the runs use the book's settings where the exercise is
about the book's run, and a stated shorter schedule where only a
comparison is asked (each experiment's settings say which): about an
hour for all of them on a 2-core CPU. Models compared with each other train
side by side, one epoch each in turn, so that their times per epoch see
the same machine load. ``--quick`` (or D2L_CH6_QUICK=1) shrinks every model
to 1/16 of its hidden units, every schedule to two epochs and the corpus to
3,000 characters, for tests: the numbers then answer nothing.
"""
# the experiments register on import, in the book's order (the order of
# --list and of the report)
from . import lang_model, rnn, lang_model_dataset  # noqa: F401  6.1-6.3
from . import rnn_scratch, rnn_gluon, bptt  # noqa: F401  6.4-6.6
from . import gru, lstm, deep_rnn, bi_rnn  # noqa: F401  6.7-6.10
from .lab import Lab, Run, make_lab  # noqa: F401
from .registry import REGISTRY, Result, Table, fmt  # noqa: F401
from .report import (main, markdown_table, report, run_exercise,  # noqa
                     select, show, text_table)
