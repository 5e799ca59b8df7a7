"""A corpus of the user's own: any UTF-8 text file (or a .zip holding one)
trains every section, round-trips through --save and generate in a new
process, has the same sorted vocabulary in every process, takes prefixes
from its own text; a file that cannot serve is one clear error; large
files are read as a stream; and --random-offset lets the samplers read
every position while Y stays X shifted by one."""
import codecs
import os
import random
import re
import subprocess
import sys
import tracemalloc
import zipfile

import pytest

import d2l_ch6 as d2l
from d2l_ch6.core import cli, corpus
from d2l_ch6.core.errors import CorpusError
from d2l_ch6.tools.zoo import restore

# public domain: poems of the Tang dynasty (8th-9th century), typed here
POEMS = '''床前明月光，疑是地上霜。举头望明月，低头思故乡。
春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。
白日依山尽，黄河入海流。欲穷千里目，更上一层楼。
红豆生南国，春来发几枝。愿君多采撷，此物最相思。
空山不见人，但闻人语响。返景入深林，复照青苔上。
千山鸟飞绝，万径人踪灭。孤舟蓑笠翁，独钓寒江雪。
锄禾日当午，汗滴禾下土。谁知盘中餐，粒粒皆辛苦。
向晚意不适，驱车登古原。夕阳无限好，只是近黄昏。
松下问童子，言师采药去。只在此山中，云深不知处。
日照香炉生紫烟，遥看瀑布挂前川。飞流直下三千尺，疑是银河落九天。
朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。
月落乌啼霜满天，江枫渔火对愁眠。姑苏城外寒山寺，夜半钟声到客船。
故人西辞黄鹤楼，烟花三月下扬州。孤帆远影碧空尽，唯见长江天际流。
秦时明月汉时关，万里长征人未还。但使龙城飞将在，不教胡马度阴山。
葡萄美酒夜光杯，欲饮琵琶马上催。醉卧沙场君莫笑，古来征战几人回。
少小离家老大回，乡音无改鬓毛衰。儿童相见不相识，笑问客从何处来。
慈母手中线，游子身上衣。临行密密缝，意恐迟迟归。谁言寸草心，报得三春晖。
'''

SMALL = ['--epochs', '3', '--num-hiddens', '16', '--batch-size', '4',
         '--num-steps', '8', '--ctx', 'cpu', '--pred-len', '10',
         '--num-chars', 'all']


def book_text(text):
    """The book's preprocessing, written again here: newlines to spaces."""
    return text.replace('\n', ' ').replace('\r', ' ')


@pytest.fixture
def poems(tmp_path):
    path = tmp_path / 'tang.txt'
    path.write_text(POEMS, encoding='utf-8')
    return path


def run(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, '-m', 'd2l_ch6', *args],
                          capture_output=True, text=True, timeout=300,
                          cwd=cwd, env=dict(os.environ, **(env or {})))


def one_error(r):
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert 'Traceback' not in r.stderr, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith('error: '), r.stderr
    return lines[0]


# -- the file as the corpus --------------------------------------------------

def test_read_like_the_book_and_sorted(poems):
    data = d2l.load_corpus(str(poems), None)
    text = book_text(POEMS)
    corpus_indices, char_to_idx, idx_to_char, vocab_size = data
    assert idx_to_char == sorted(set(text))
    assert vocab_size == len(set(text))
    assert ''.join(idx_to_char[i] for i in corpus_indices) == text
    first = d2l.load_corpus(str(poems), 20)  # its own, smaller vocabulary
    assert ''.join(first[2][i] for i in first[0]) == text[:20]


def test_a_zip_of_one_file_and_lower_case(tmp_path):
    path = tmp_path / 'text.zip'
    with zipfile.ZipFile(path, 'w') as z:
        z.writestr('folder/', '')
        z.writestr('folder/A Text.txt', 'The Cat\nand THE Dog\r\n')
    assert corpus.read_corpus(str(path)) == 'The Cat and THE Dog  '
    assert corpus.read_corpus(str(path), lower=True) == \
        'the cat and the dog  '
    # --lower reaches the text through the command line's options too
    args = cli.parser('x', 'x').parse_args(['--corpus', str(path),
                                             '--lower'])
    idx_to_char = cli.load(cli.options(args))[2]
    assert idx_to_char[0] == ' ' and 'T' not in idx_to_char


def test_vocabulary_is_the_same_in_two_processes(poems):
    code = ('import d2l_ch6; print("".join(d2l_ch6.load_corpus(%r, None)'
            '[2]))' % str(poems))
    outs = [subprocess.run([sys.executable, '-c', code], capture_output=True,
                           text=True, env=dict(os.environ,
                                               PYTHONHASHSEED=seed)).stdout
            for seed in ('1', '2')]
    assert outs[0] == outs[1] == ''.join(sorted(set(book_text(POEMS)))) \
        + '\n'


def test_prefixes_are_drawn_from_the_text():
    english = 'the cat and the dog and the bird ' * 3
    assert corpus.prefixes_from_text(english) == ('the', 'and')
    chinese = book_text(POEMS)
    first, second = corpus.prefixes_from_text(chinese)
    assert len(first) == len(second) == 2
    assert first in chinese and second in chinese
    assert chinese.count(first) >= chinese.count(second)
    # lines kept: a line is not a word, and no prefix holds a line break
    lined = chinese.replace(' ', '\n')
    assert corpus.prefixes_from_text(lined) == (first, second)
    assert corpus.prefixes_from_text('the cat\nand the dog\nand the\n'
                                     * 3) == ('the', 'and')


def test_train_save_generate_in_a_new_process(poems, tmp_path):
    path = tmp_path / 'm.params'
    r = run('6.8', '--corpus', str(poems), '--save', str(path), *SMALL)
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0]
    assert first.startswith('no --prefixes given: predicting after')
    assert 'epoch 3, perplexity' in r.stdout  # the last epoch's line
    # 6.8 trains two models: m-scratch.params, m-gluon.params; generate
    # takes the base name and says which one it used
    g = run('generate', str(path), '--length', '20', '--ctx', 'cpu')
    assert g.returncode == 0, g.stderr
    assert 'm-gluon.params' in g.stderr and g.stderr.count('\n') == 1
    text = g.stdout.rstrip('\n')
    prefix = re.search(r"predicting after '([^']+)'", first).group(1)
    assert text.startswith(prefix) and len(text) == len(prefix) + 20
    assert set(text) <= set(book_text(POEMS))
    # the new process wrote what the checkpoint's model writes here
    model, ckpt = restore(str(tmp_path / 'm-gluon.params'), d2l.try_gpu())
    assert d2l.predict(model, prefix, 20, ckpt.idx_to_char,
                       ckpt.char_to_idx) == text
    assert ckpt.meta['corpus'] == str(poems)


@pytest.mark.parametrize('section', ['6.4', '6.5', '6.7', '6.9', '6.10'])
def test_every_training_section_takes_a_file(section, poems):
    r = run(section, '--corpus', str(poems), *SMALL)
    assert r.returncode == 0, r.stderr
    assert 'epoch 3, perplexity' in r.stdout


def test_heldout_and_bench_take_a_file(tmp_path):
    path = tmp_path / 'longer.txt'  # the book's batches need 1,120 chars
    path.write_text(POEMS * 5, encoding='utf-8')
    r = run('heldout', '--corpora', str(path), '--num-chars', 'all',
            '--models', 'gru-gluon', '--recipe', 'book', '--ctx', 'cpu',
            '--quiet', env={'D2L_CH6_QUICK': '1'})
    assert r.returncode == 0, r.stderr
    assert re.search(r'^\| GRU, Gluon \| book', r.stdout, re.M)
    r = run('bench', '--corpus', str(path), '--sweep-num-chars', 'all',
            '--models', 'rnn-gluon', '--timed-epochs', '1', '--no-book',
            '--ctx', 'cpu', '--quiet')
    assert r.returncode == 0, r.stderr
    assert 'rnn gluon fast cpu' in r.stdout


# -- files that cannot serve -------------------------------------------------

def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def zipped(tmp_path, members):
    path = tmp_path / 'c.zip'
    with zipfile.ZipFile(path, 'w') as z:
        for name, data in members:
            z.writestr(name, data)
    return str(path)


def test_not_utf8_names_the_byte(tmp_path):
    data = ('abc' + POEMS[:30]).encode('gb18030')
    try:
        data.decode('utf-8')
    except UnicodeDecodeError as e:  # the offset, found independently
        offset, byte = e.start, data[e.start]
    path = write(tmp_path, 'gbk.txt', data)
    line = one_error(run('6.5', '--corpus', path, *SMALL))
    assert 'not UTF-8' in line
    assert 'byte 0x%02x at offset %d' % (byte, offset) in line


def test_not_utf8_deep_in_a_large_file(tmp_path):
    """An offset past the first chunk, in the middle of a character split
    across two chunks, is still the file's own offset."""
    head = ('床' * (corpus.CHUNK // 3 + 1)).encode('utf-8')
    data = head + b'\xff' + b'tail'
    path = write(tmp_path, 'big.txt', data)
    with pytest.raises(CorpusError, match='offset %d' % len(head)):
        corpus.read_text(path)


@pytest.mark.parametrize('name, make, says', [
    ('empty', lambda t: write(t, 'e.txt', b''), 'is empty'),
    ('white space', lambda t: write(t, 'w.txt', b' \n\r\n  '),
     'nothing but white space'),
    ('binary', lambda t: write(t, 'p.png',
                               b'\x89PNG\r\n\x1a\n\0\0\0\rIHDR'),
     'binary file'),
    ('zip without files', lambda t: zipped(t, [('dir/', '')]),
     'holds no file'),
    ('zip of two', lambda t: zipped(t, [('a.txt', 'aa'), ('b.txt', 'bb')]),
     'holds 2 files (a.txt, b.txt)'),
    ('missing', lambda t: str(t / 'nope.txt'), 'no such file'),
    ('a folder', lambda t: str(t), 'is a folder'),
])
def test_a_corpus_that_cannot_serve_is_one_clear_error(name, make, says,
                                                       tmp_path):
    line = one_error(run('6.5', '--corpus', make(tmp_path), *SMALL))
    assert says in line


def test_too_short_for_one_batch_says_what_to_lower(tmp_path):
    path = write(tmp_path, 'short.txt', '白日依山尽，黄河入海流。'.encode())
    line = one_error(run('6.4', '--corpus', path, '--ctx', 'cpu'))
    assert 'lower --batch-size or --num-steps' in line


# -- large files --------------------------------------------------------------

def test_num_chars_reads_only_what_it_needs(tmp_path, monkeypatch):
    path = write(tmp_path, 'big.txt', b'x' * (8 * corpus.CHUNK))
    reads = []
    real = open

    class Counting:
        def __init__(self, f):
            self.f = f

        def read(self, n=-1):
            data = self.f.read(n)
            reads.append(len(data))
            return data

        def __getattr__(self, name):  # seek, tell, ... as the file's
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    def counting_open(p, mode='r', *a, **k):
        f = real(p, mode, *a, **k)
        return Counting(f) if mode == 'rb' else f
    monkeypatch.setattr('builtins.open', counting_open)
    assert len(corpus.read_text(path, num_chars=1000)) == 1000
    assert sum(reads) <= corpus.CHUNK + 4  # one chunk, and the zip magic


def test_a_large_file_is_not_held_several_times(tmp_path):
    n = 16 * corpus.CHUNK
    path = write(tmp_path, 'big.txt', b'ab\ncd\r\n' * (n // 7))
    tracemalloc.start()
    text = corpus.read_text(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(text) == n // 7 * 7
    # the text and, while it is joined, its chunks: about two copies
    assert peak < 2.5 * len(text), peak / len(text)


# -- --random-offset ----------------------------------------------------------

@pytest.mark.parametrize('sampler', ['random', 'consecutive'])
@pytest.mark.parametrize('n, batch_size, num_steps', [(100, 2, 6),
                                                      (257, 3, 7)])
def test_random_offset_reads_every_position(sampler, n, batch_size,
                                            num_steps):
    fn = d2l.data_iter_random if sampler == 'random' \
        else d2l.data_iter_consecutive
    seq = list(range(n))  # values are positions
    random.seed(0)
    plain, shifted = set(), set()
    starts = set()
    for _ in range(300):  # epochs
        for X, Y in fn(seq, batch_size, num_steps, random_offset=True):
            X, Y = X.asnumpy(), Y.asnumpy()
            assert (Y == X + 1).all()  # Y is X shifted by one, always
            shifted |= set(X.ravel().astype(int))
            starts |= set(X[:, 0].astype(int) % num_steps)
    for X, _ in fn(seq, batch_size, num_steps):
        plain |= set(X.asnumpy().ravel().astype(int))
    assert shifted == set(range(n - 1))  # every position, the tail too
    assert plain < shifted  # without it some are never read
    assert starts == set(range(num_steps))


def test_without_the_offset_the_batches_are_the_books(jay):
    import d2lzh
    corpus_indices = jay[0]
    for ours, theirs in ((d2l.data_iter_random, d2lzh.data_iter_random),
                         (d2l.data_iter_consecutive,
                          d2lzh.data_iter_consecutive)):
        random.seed(3)
        a = [(X.asnumpy(), Y.asnumpy())
             for X, Y in ours(corpus_indices, 32, 35, random_offset=False)]
        random.seed(3)
        b = [(X.asnumpy(), Y.asnumpy())
             for X, Y in theirs(corpus_indices, 32, 35)]
        assert len(a) == len(b)
        for (x1, y1), (x2, y2) in zip(a, b):
            assert (x1 == x2).all() and (y1 == y2).all()


def test_random_offset_from_the_command_line(tmp_path, poems):
    path = tmp_path / 'r.params'
    r = run('6.4', '--corpus', str(poems), '--sampling', 'random',
            '--random-offset', '--save', str(path), *SMALL)
    assert r.returncode == 0, r.stderr
    from d2l_ch6.core import checkpoint
    assert checkpoint.load(str(path)).meta['random_offset'] is True


def test_incremental_decoder_keeps_split_characters():
    """What read_text relies on: a character split across two reads comes
    out whole from the incremental decoder."""
    data = '床前'.encode('utf-8')
    decoder = codecs.getincrementaldecoder('utf-8-sig')()
    assert decoder.decode(data[:4]) == '床'
    assert decoder.decode(data[4:], final=True) == '前'
