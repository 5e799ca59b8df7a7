"""The registry of the chapter's exercises and the words their answers
are made of: each experiment is registered under an ID with the book's
question and the learner's answer, returns a :class:`Result` of tables, an
answer and a verdict, and chooses its words ('faster', 'lower', ...) from
measured numbers with the helpers below."""
import math
import statistics
from dataclasses import dataclass, field
from typing import Callable, List

TOLERANCE = 0.1  # ratios within 10% of 1 are 'about the same'


@dataclass
class Table:
    """A measured table: ``rows`` of already formatted cells."""
    header: tuple
    rows: list
    title: str = ''


@dataclass
class Result:
    """What an experiment found: what was run (``settings``), its tables,
    the ``answer`` (computed from the numbers), the ``verdict`` on the
    learner's note ('confirmed', 'refuted', 'partly confirmed' or 'not
    checked') with the evidence (``note``), and the raw numbers
    (``data``)."""
    settings: str
    tables: List[Table]
    answer: str
    verdict: str
    note: str
    data: dict = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(frozen=True)
class Exercise:
    """One registered experiment: the book's question (in our words), the
    learner's answer (paraphrased) and the function that runs it."""
    id: str
    question: str
    learner: str
    run: Callable


REGISTRY = {}


def exercise(id, question, learner):
    """Register ``fn(lab) -> Result`` under ``id``."""
    def register(fn):
        REGISTRY[id] = Exercise(id, question, learner, fn)
        return fn
    return register


def judge(checks):
    """(verdict, note) from [(claim, holds, evidence)]: 'confirmed' if all
    hold, 'refuted' if none, else 'partly confirmed'."""
    if not checks:
        return 'not checked', ''
    held = [holds for _, holds, _ in checks]
    verdict = ('confirmed' if all(held) else
               'refuted' if not any(held) else 'partly confirmed')
    note = ' '.join('%s: %s (%s).' % (claim, 'confirmed' if holds else
                                      'refuted', evidence)
                    for claim, holds, evidence in checks)
    return verdict, note


# --- words chosen by numbers -------------------------------------------------


def ratio(a, b):
    """a / b (inf if b is 0)."""
    return a / b if b else math.inf


def speed(a, b, than=''):
    """How a time ``a`` compares with ``b``: '2.1x slower [than B]',
    '1.5x faster [than B]' or 'about as fast [as B] (1.03x the time)'."""
    r = ratio(a, b)
    if r > 1 + TOLERANCE:
        return '%.1fx slower%s' % (r, ' than ' + than if than else '')
    if r < 1 / (1 + TOLERANCE):
        return '%.1fx faster%s' % (1 / r, ' than ' + than if than else '')
    return 'about as fast%s (%.2fx the time)' % (
        ' as ' + than if than else '', r)


def compare(a, b, tol=0.05):
    """'lower', 'higher' or 'about the same' for ``a`` against ``b``."""
    if not (math.isfinite(a) and math.isfinite(b)):
        return 'not comparable'
    if a < b * (1 - tol):
        return 'lower'
    if a > b * (1 + tol):
        return 'higher'
    return 'about the same'


def fmt(x, spec='%.2f'):
    """A number for a table; nan as '-', huge ones as 1.23e+45."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return '-'
    if abs(x) >= 1e6:
        return '%.3g' % x
    return spec % x


def speed_ppl(a, b):
    """'x.x times lower' / 'x.x times higher' / 'about the same'."""
    word = compare(a, b)
    if word in ('lower', 'higher'):
        return '%.1fx %s' % (max(a, b) / min(a, b), word)
    return word


def steady(seconds):
    """Seconds per epoch: the median after the first (warm-up) epoch."""
    s = list(seconds[1:] or seconds)
    return statistics.median(s) if s else math.nan
