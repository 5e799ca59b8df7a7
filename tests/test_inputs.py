"""Faults, round three, through the command line as a user meets them:
the user's text is never destroyed (an output that is an input, a --save
over a file that is no checkpoint), every text and every argument reach
a clear answer (UTF-16, a cut UTF-8 file, pipes, damaged zips, paths
ending in /, plot formats, a full disk, seeds, held-out parts of one
character, a resume with nothing left, wrong environment values), and
every stop is clean (Ctrl-C while mxnet loads, in generate, between two
models; what kill -9 leaves behind)."""
import codecs
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
import zipfile

import pytest

from d2l_ch6.core import files as _io, checkpoint, corpus, errors
from d2l_ch6.core.predict import generate
from d2l_ch6.core.errors import CorpusError

from test_errors import TINY
from test_errors import cli as run_cli
from test_faults import one_error

# a user's text with lines; the first line holds a character (§) that
# appears nowhere else, so a run that lost the first 4 KiB knows no §
LINES = ['§ a first line, and the only one with its sign'] + [
    'line %d of a user text: the time traveller smiled' % i
    for i in range(120)]
TEXT = '\n'.join(LINES) + '\n'


def digest(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture
def mine(sandbox):
    path = sandbox['work'] / 'mine.txt'
    path.write_text(TEXT, encoding='utf-8')
    return path


def vocab_of(path):
    return checkpoint.load(str(path)).idx_to_char


# -- the user's text is never destroyed ------------------------------------

@pytest.mark.parametrize('save', ['mine.txt', './mine.txt', 'link.txt'])
def test_save_over_the_corpus_is_refused(sandbox, mine, save):
    os.symlink('mine.txt', str(sandbox['work'] / 'link.txt'))
    before = digest(mine)
    line = one_error(run_cli(sandbox, '6.5', *TINY, '--corpus', 'mine.txt',
                             '--save', save))
    assert 'is the file that --corpus reads' in line
    assert digest(mine) == before


def test_plot_over_the_resumed_checkpoint_is_refused(sandbox, mine):
    r = run_cli(sandbox, '6.5', *TINY, '--save', 'm.params')
    assert r.returncode == 0, r.stderr
    before = digest(sandbox['work'] / 'm.params')
    line = one_error(run_cli(sandbox, '6.5', *TINY, '--epochs', '2',
                             '--resume', 'm.params', '--plot', 'm.params'))
    assert '--plot m.params is the file that --resume reads' in line
    assert digest(sandbox['work'] / 'm.params') == before


def test_save_replaces_only_a_checkpoint(sandbox, mine):
    other = sandbox['work'] / 'notes.txt'
    other.write_text('my notes')
    line = one_error(run_cli(sandbox, '6.5', *TINY, '--save', 'notes.txt'))
    assert 'not a d2l_ch6 checkpoint' in line
    assert other.read_text() == 'my notes'
    # a checkpoint is replaced, and resumed over itself
    for args in (['--save', 'm.params'],
                 ['--epochs', '2', '--resume', 'm.params', '--save',
                  'm.params']):
        r = run_cli(sandbox, '6.5', *TINY, *args)
        assert r.returncode == 0, r.stderr
    assert checkpoint.load(str(sandbox['work'] / 'm.params')).epoch == 2


def test_is_checkpoint(tmp_path, sandbox):
    r = run_cli(sandbox, '6.5', *TINY, '--save', str(tmp_path / 'm.params'))
    assert r.returncode == 0, r.stderr
    assert checkpoint.is_checkpoint(str(tmp_path / 'm.params'))
    (tmp_path / 'x').write_bytes(b'\x12\x01' + bytes(100))
    assert not checkpoint.is_checkpoint(str(tmp_path / 'x'))
    assert not checkpoint.is_checkpoint(str(tmp_path / 'missing'))


# -- reading a text --------------------------------------------------------

@pytest.mark.parametrize('codec', ['utf-16', 'utf-16-be', 'utf-32',
                                   'utf-8-sig'])
def test_a_byte_order_mark_names_the_encoding(tmp_path, codec):
    path = tmp_path / 't.txt'
    data = TEXT.encode(codec)
    if codec == 'utf-16-be':  # Python writes no BOM for an explicit order
        data = codecs.BOM_UTF16_BE + data
    path.write_bytes(data)
    assert corpus.read_text(str(path)) == TEXT.replace('\n', ' ')


def test_utf16_without_bom_is_named(tmp_path):
    path = tmp_path / 't.txt'
    path.write_bytes(TEXT.encode('utf-16-le'))
    with pytest.raises(CorpusError, match='UTF-16 without a byte-order'):
        corpus.read_text(str(path))


def test_a_cut_last_character_is_left_out_with_a_word(tmp_path):
    path = tmp_path / 't.txt'
    data = (TEXT + '周杰伦').encode('utf-8')
    path.write_bytes(data[:-1])  # what `head -c` does
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        text = corpus.read_text(str(path))
    assert text == TEXT.replace('\n', ' ') + '周杰'
    assert 'ends inside a character' in str(caught[0].message)
    assert 'GB18030' not in str(caught[0].message)


def test_a_bad_byte_inside_still_says_not_utf8(tmp_path):
    path = tmp_path / 't.txt'
    path.write_bytes(TEXT.encode('utf-8') + b'\xff' + b'more text')
    with pytest.raises(CorpusError, match='not UTF-8 text: the byte 0xff'):
        corpus.read_text(str(path))


def test_the_path_is_named_once(tmp_path):
    path = tmp_path / 'bin.txt'
    path.write_bytes(b'abc\0def')
    with pytest.raises(CorpusError) as e:
        corpus.read_text(str(path))
    assert str(e.value).count(str(path)) == 1
    assert not str(e.value).startswith('cannot read')


def test_a_pipe_is_read_whole(sandbox, mine):
    """`--corpus <(cat mine.txt)`: opened once, nothing lost."""
    save = sandbox['work'] / 'p.params'
    r = subprocess.run(
        ['bash', '-c', '"$0" -m d2l_ch6 6.5 --epochs 1 --num-hiddens 8 '
         '--ctx cpu --num-chars all --corpus <(cat mine.txt) --save '
         'p.params', sys.executable], cwd=str(sandbox['work']),
        env=sandbox['env'], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert '§' in vocab_of(save)
    assert vocab_of(save) == sorted(set(TEXT.replace('\n', ' ')))


def test_a_fifo_is_read_whole(sandbox, mine):
    fifo = sandbox['work'] / 'fifo'
    os.mkfifo(str(fifo))

    def write():
        with open(str(fifo), 'w', encoding='utf-8') as f:
            f.write(TEXT)
    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    r = run_cli(sandbox, '6.5', '--epochs', '1', '--num-hiddens', '8',
                '--ctx', 'cpu', '--num-chars', 'all', '--corpus', 'fifo',
                '--save', 'f.params', timeout=300)
    assert r.returncode == 0, r.stderr
    assert '§' in vocab_of(sandbox['work'] / 'f.params')


def _zip(path, data, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(str(path), 'w', compression) as z:
        z.writestr('text.txt', data)


def _set_encrypted_flag(path):
    """Mark the member encrypted, as `zip -P` does, in its local and
    central headers (bit 0 of the general purpose flags)."""
    data = bytearray(path.read_bytes())
    for signature, offset in ((b'PK\x03\x04', 6), (b'PK\x01\x02', 8)):
        at = data.find(signature) + offset
        data[at] |= 1
    path.write_bytes(bytes(data))


@pytest.mark.parametrize('damage', ['flipped byte', 'bad crc', 'password',
                                    'cut'])
def test_a_damaged_zip_is_one_clear_error(sandbox, damage):
    path = sandbox['work'] / 'c.zip'
    _zip(path, TEXT.encode('utf-8') * 20)
    data = bytearray(path.read_bytes())
    start = len('PK\x03\x04') + 26 + len('text.txt')  # the member's data
    if damage == 'flipped byte':
        data[start + 40] ^= 0xFF
        path.write_bytes(bytes(data))
    elif damage == 'bad crc':
        at = data.find(b'PK\x01\x02') + 16  # the central CRC-32
        data[at] ^= 0xFF
        data[14] ^= 0xFF  # and the local one
        path.write_bytes(bytes(data))
    elif damage == 'password':
        _set_encrypted_flag(path)
    else:
        path.write_bytes(bytes(data[:len(data) // 2]))
    r = run_cli(sandbox, '6.5', *TINY, '--corpus', 'c.zip', '--num-chars',
                'all')
    line = one_error(r)
    assert 'c.zip' in line
    assert ('encrypted' if damage == 'password' else
            'zip') in line


# -- outputs ---------------------------------------------------------------

@pytest.mark.parametrize('args', [
    ['6.5', '--save', 'out/'], ['6.5', '--plot', 'out/'],
    ['bench', '--json', 'out/', '--models', 'rnn-gluon', '--timed-epochs',
     '1',
     '--no-book', '--quiet']])
def test_an_output_ending_in_a_slash_is_refused_before_work(sandbox, args):
    start = time.time()
    extra = TINY if args[0] == '6.5' else ['--ctx', 'cpu']
    line = one_error(run_cli(sandbox, *args, *extra))
    assert 'names a folder' in line and 'out/' in line
    assert time.time() - start < 60


def test_plot_writes_the_format_its_name_asks_for(sandbox):
    r = run_cli(sandbox, '6.5', *TINY, '--plot', 'curve.pdf')
    assert r.returncode == 0, r.stderr
    assert (sandbox['work'] / 'curve.pdf').read_bytes().startswith(b'%PDF')
    r = run_cli(sandbox, '6.5', *TINY, '--plot', 'curve.svg')
    assert b'<svg' in (sandbox['work'] / 'curve.svg').read_bytes()[:400]
    line = one_error(run_cli(sandbox, '6.5', *TINY, '--plot', 'curve.doc'))
    assert 'matplotlib writes no .doc files' in line


@pytest.mark.skipif(not os.path.exists('/dev/full'), reason='no /dev/full')
def test_printing_to_a_full_disk_is_one_line(sandbox):
    with open('/dev/full', 'w') as full:
        r = subprocess.run([sys.executable, '-m', 'd2l_ch6', '6.3'],
                           cwd=str(sandbox['work']), env=sandbox['env'],
                           stdout=full, stderr=subprocess.PIPE, text=True,
                           timeout=300)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        'error: cannot write the output: No space left on device']


# -- arguments and environment ---------------------------------------------

@pytest.mark.parametrize('args', [['6.5', *TINY, '--seed', '-1'],
                                  ['6.5', *TINY, '--seed', str(2 ** 32)]])
def test_a_seed_numpy_cannot_take(sandbox, args):
    assert 'argument --seed' in one_error(run_cli(sandbox, *args))


def test_generate_seed(sandbox):
    r = run_cli(sandbox, '6.5', *TINY, '--save', 'm.params')
    assert r.returncode == 0, r.stderr
    line = one_error(run_cli(sandbox, 'generate', 'm.params', '--seed', '-1',
                             '--temperature', '1', '--ctx', 'cpu'))
    assert 'argument --seed' in line


@pytest.mark.parametrize('frac', ['0.0005', '0.0001'])
def test_a_held_out_part_too_small(sandbox, frac):
    line = one_error(run_cli(sandbox, '6.5', *TINY, '--num-chars', '2000',
                             '--valid-frac', frac))
    assert 'a held-out text needs at least 2' in line


def test_resume_with_nothing_left_says_so_and_writes_nothing(sandbox):
    r = run_cli(sandbox, '6.5', *TINY, '--epochs', '3', '--save', 'a.params')
    assert r.returncode == 0, r.stderr
    r = run_cli(sandbox, '6.5', *TINY, '--epochs', '2', '--resume',
                'a.params', '--save', 'new.params')
    line = one_error(r)
    assert '--epochs (the total' in line and 'nothing is left' in line
    assert 'written' not in r.stdout
    assert not (sandbox['work'] / 'new.params').exists()


@pytest.mark.parametrize('command', [['heldout', '--no-ngrams', '--recipe',
                                      'book', '--models', 'rnn-gluon',
                                      '--corpora', 'tiny.txt'],
                                     ['bench', '--models', 'rnn-gluon',
                                      '--no-book', '--timed-epochs', '1',
                                      '--corpus', 'tiny.txt']])
def test_too_short_advice_names_the_commands_own_flags(sandbox, command):
    tiny = sandbox['work'] / 'tiny.txt'
    tiny.write_text('a short text of a few words. ' * 10)
    line = one_error(run_cli(sandbox, *command, '--ctx', 'cpu', '--quiet'))
    assert 'yields no batch' in line and 'longer text' in line
    assert '--batch-size' not in line and '--num-steps' not in line


@pytest.mark.parametrize('name,value', [
    ('OMP_NUM_THREADS', 'abc'), ('OMP_NUM_THREADS', '0'),
    ('MXNET_ENGINE_TYPE', 'FastEngine'), ('D2L_CH6_QUICK', 'maybe'),
    ('MXNET_CPU_WORKER_NTHREADS', '-2')])
def test_a_wrong_environment_value_is_named(sandbox, name, value):
    env = dict(sandbox['env'], **{name: value})
    r = subprocess.run([sys.executable, '-m', 'd2l_ch6', '6.2'], env=env,
                       cwd=str(sandbox['work']), capture_output=True,
                       text=True, timeout=300)
    line = one_error(r)
    assert '%s=%r' % (name, value) in line
    assert r.returncode == 2 and r.returncode != -signal.SIGABRT


@pytest.mark.parametrize('value,epochs', [('false', 250), ('0', 250),
                                          ('no', 250), ('1', 4),
                                          ('yes', 4)])
def test_quick_mode_words(sandbox, value, epochs):
    env = dict(sandbox['env'], D2L_CH6_QUICK=value)
    r = subprocess.run([sys.executable, '-m', 'd2l_ch6', '6.4', '--help'],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert 'it has) (default: %d)' % epochs in ' '.join(
        r.stdout.split())


# -- interruptions -----------------------------------------------------------

@pytest.mark.parametrize('delay', [0.1, 0.3])
def test_ctrl_c_while_mxnet_loads(sandbox, delay):
    p = subprocess.Popen([sys.executable, '-m', 'd2l_ch6', '6.2'],
                         cwd=str(sandbox['work']), env=sandbox['env'],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True,
                         preexec_fn=lambda: signal.signal(
                             signal.SIGINT, signal.SIG_DFL))
    time.sleep(delay)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    if out:  # it had imported mxnet and run already: nothing to test
        pytest.skip('6.2 was running after %.1f s' % delay)
    assert p.returncode == 130, err
    assert err.strip() == 'interrupted', err


def test_generate_looks_for_a_swallowed_stop(monkeypatch):
    """A Ctrl-C that landed in a __del__ (mxnet frees arrays in one) is
    raised by the next step of generation."""
    steps = []

    def step(index, state):
        steps.append(index)
        if len(steps) == 3:
            errors._pending.append(signal.SIGINT)  # as stop_on_signal does
        from mxnet import nd
        return nd.zeros((1, 2)), state

    try:
        with pytest.raises(KeyboardInterrupt):
            generate(step, None, 'a', 1000, ['a', 'b'],
                             {'a': 0, 'b': 1})
    finally:
        errors.clear_pending_stop()
    assert len(steps) == 3


def test_a_resumed_two_model_run_starts_the_missing_model(sandbox):
    r = run_cli(sandbox, '6.8', *TINY, '--save', 'm.params')
    assert r.returncode == 0, r.stderr
    # stopped after the scratch model's checkpoint, before the Gluon one's
    os.remove(str(sandbox['work'] / 'm-gluon.params'))
    r = run_cli(sandbox, '6.8', *TINY, '--epochs', '2', '--resume',
                'm.params', '--save', 'm.params')
    assert r.returncode == 0, r.stderr
    assert 'resuming' in r.stdout and 'trains from the start' in r.stdout
    for name, epoch in (('scratch', 2), ('gluon', 2)):
        path = str(sandbox['work'] / ('m-%s.params' % name))
        assert checkpoint.load(path).epoch == epoch


def test_what_a_killed_writer_left_is_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, '-c', 'pass'])
    dead.wait()  # its PID now names no process
    stale = tmp_path / ('.m.params.%d.abc123' % dead.pid)
    stale.write_bytes(b'half a checkpoint')
    alive = tmp_path / ('.m.params.%d.def456' % os.getpid())
    alive.write_bytes(b'being written')
    other = tmp_path / '.other.params.1.x'
    other.write_bytes(b'')
    _io.write_text(str(tmp_path / 'm.params'), 'new')
    left = sorted(os.listdir(str(tmp_path)))
    assert left == sorted(['m.params', alive.name, other.name])
