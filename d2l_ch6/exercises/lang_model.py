"""The exercises of 6.1 语言模型, each answered by a run."""
import math
from dataclasses import dataclass

import numpy as np

from .. import lang_model
from ..core.corpus import read_corpus
from ..core.errors import CorpusError
from .registry import Result, Table, exercise, judge




@dataclass
class Storage:
    """Distinct n-grams (the counts a model stores) against the number of
    positions (the upper bound T-n+1), n = 1..max_n, of one text."""
    text: str
    tokens: int
    distinct: tuple
    positions: tuple
    how: str = 'counted'  # or how the numbers were estimated

    @property
    def total(self):
        return sum(self.distinct)


def storage(name, tokens, max_n):
    """The Storage of ``tokens``, counted."""
    return Storage(name, len(tokens),
                   tuple(len(lang_model.count_ngrams(tokens, n))
                         for n in range(1, max_n + 1)),
                   tuple(max(len(tokens) - n + 1, 0)
                         for n in range(1, max_n + 1)))


def estimate_storage(name, tokens, max_n, target, parts=5):
    """Storage at ``target`` tokens for a text shorter than that: Heaps'
    law ``distinct = a T^b`` fitted (least squares in log-log) to the
    counts of ``parts`` prefixes (T/2^(parts-1), ..., T/2, T), then
    extrapolated."""
    sizes = [len(tokens) >> i for i in range(parts - 1, -1, -1)]
    distinct = []
    for n in range(1, max_n + 1):
        b, a = np.polyfit(np.log(sizes), [math.log(len(lang_model.count_ngrams(
            tokens[:s], n))) for s in sizes], 1)
        distinct.append(int(round(math.exp(a) * target ** b)))
    return Storage(name, target, tuple(distinct),
                   tuple(target - n + 1 for n in range(1, max_n + 1)),
                   'estimated: distinct = a T^b fitted to %d prefixes of '
                   '%d..%d tokens' % (parts, sizes[0], sizes[-1]))




@exercise('6.1-4gram-storage',
          'With 100,000 training tokens, how many frequencies (1-gram '
          'counts) and adjacent-token counts (2-, 3-, 4-gram counts) does '
          'a 4-gram model store?',
          'one count per position: 100k frequencies + (100k-1) 2-gram + '
          '(100k-2) 3-gram + (100k-3) 4-gram counts = 399,994')
def storage_4gram(lab):
    target, max_n = 100000, 4
    rows = [storage('%s, %d characters used' % (
        lab.corpus, len(lab.corpus_indices)), lab.chars, max_n)]
    texts = [(lab.corpus, read_corpus(lab.corpus, lab.data_dir))]
    other = 'timemachine' if lab.corpus != 'timemachine' else 'jaychou'
    try:
        texts.append((other, read_corpus(other, lab.data_dir)))
    except CorpusError as e:
        lab.log('  (%s not available: %s)' % (other,
                                              str(e).splitlines()[0]))
    for name, text in texts:
        if len(text) >= target:
            rows.append(storage('%s, first %d characters' % (
                name, target), text[:target], max_n))
        else:
            rows.append(estimate_storage(
                '%s at %d characters (estimated)' % (name, target), text,
                max_n, target))
    table = Table(('text', 'tokens T', '1-grams', '2-grams', '3-grams',
                   '4-grams', 'stored', 'T+(T-1)+(T-2)+(T-3)', 'share'),
                  [(r.text, r.tokens) + tuple(r.distinct)
                   + (r.total, sum(r.positions),
                      '%.1f%%' % (100 * r.total / sum(r.positions)))
                   for r in rows])
    at_target = [r for r in rows if r.tokens == target]
    best = next((r for r in at_target if r.how == 'counted'),
                at_target[0] if at_target else rows[0])
    answer = (
        'A 4-gram model stores one count per DISTINCT n-gram of orders 1-4, '
        'not one per position: %d characters of %s (%s) give %d counts (%d '
        '1-gram frequencies, %d 2-grams, %d 3-grams, %d 4-grams), %.1f%% '
        'of the %d positions. Repeated n-grams share a count; the positions '
        'are only the upper bound. (Tokens here are characters, as in the '
        'chapter.)' % ((best.tokens, best.text.split(',')[0].split(' at ')[0],
                        'counted' if best.how == 'counted' else
                        'estimated', best.total) + tuple(best.distinct)
                       + (100 * best.total / sum(best.positions),
                          sum(best.positions))))
    exact = all(r.distinct == r.positions for r in rows)
    verdict, note = judge([(
        'the count per position', exact,
        'the positions are an upper bound the texts %s: %d stored counts '
        'against %d positions at %d tokens, and %d 1-gram frequencies, '
        'not %d' % ('reach' if exact else 'stay below', best.total,
                    sum(best.positions), best.tokens, best.distinct[0],
                    best.tokens))])
    return Result('counted the distinct n-grams (n = 1..4) of the texts; '
                  'where a corpus is shorter than 100,000 characters, '
                  "Heaps' law fitted to its prefixes estimates the counts",
                  [table], answer, verdict, note,
                  dict(rows=rows, best=best))
