"""The notebooks of notebooks/: one per section, each run top to bottom in
a fresh kernel started in notebooks/ (the book's layout) in quick mode
(D2L_CH6_QUICK=1), in memory: the committed files are never rewritten. A
cell that raises fails its notebook's test. The committed files are also
checked without running them: the run stamp in the first cell, the
exercises, and no second copy of a function the package already has."""
import hashlib
import importlib
import importlib.util
import inspect
import os
import pkgutil
import re
import subprocess
import sys

import nbformat
import pytest

import d2l_ch6
from d2l_ch6.core import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = os.path.join(ROOT, 'notebooks')
EXECUTE = os.path.join(NOTEBOOKS, 'execute.py')

# one notebook per section, named after its module: 6.4-rnn-scratch.ipynb
SECTIONS = {'%s-%s.ipynb' % (number, module.replace('_', '-')):
            (number, title) for number, module, title in cli.SECTIONS}
# pictures a reader looks at instead of reading (at least this many PNGs)
PICTURES = {'6.3-lang-model-dataset.ipynb': 1, '6.4-rnn-scratch.ipynb': 1,
            '6.5-rnn-gluon.ipynb': 1, '6.6-bptt.ipynb': 1,
            '6.7-gru.ipynb': 1, '6.8-lstm.ipynb': 3,
            '6.9-deep-rnn.ipynb': 1, '6.10-bi-rnn.ipynb': 2}
CELL_TIMEOUT = 900  # seconds; quick mode needs far less


def _load_execute():
    spec = importlib.util.spec_from_file_location('nb_execute', EXECUTE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


execute = _load_execute()
NAMES = sorted(SECTIONS, key=execute.section_key)


def _read(name):
    return nbformat.read(os.path.join(NOTEBOOKS, name), as_version=4)


def _digest(name):
    with open(os.path.join(NOTEBOOKS, name), 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def _code(nb):
    return [c for c in nb.cells if c.cell_type == 'code']


def _exercise_cells(nb):
    """The cells after the '## 练习' heading (None if there is none)."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == 'markdown' and re.match(r'##\s*练习\s*$',
                                                      cell.source.strip()
                                                      .splitlines()[0]):
            return nb.cells[i + 1:]
    return None


def package_names():
    """Public functions and classes defined in the modules of d2l_ch6."""
    names = set()
    for info in pkgutil.walk_packages(d2l_ch6.__path__, 'd2l_ch6.'):
        if info.name.rpartition('.')[2].startswith('_') or \
                info.name.endswith('peer_torch'):  # torch's process
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (not name.startswith('_')
                    and (inspect.isfunction(obj) or inspect.isclass(obj))
                    and getattr(obj, '__module__', '') == module.__name__):
                names.add(name)
    return names


SHOWS = re.compile(r'\b(show|print)\(')  # a cell that prints a result
DEFINITION = re.compile(r'^\s*(?:(?:async\s+)?def|class)\s+(\w+)'
                        r'|^\s*(\w+)\s*=\s*lambda\b', re.M)


# --- the committed files ------------------------------------------------


def test_one_notebook_per_section():
    found = {n for n in os.listdir(NOTEBOOKS) if n.endswith('.ipynb')}
    assert found == set(SECTIONS)


def _check_outputs(nb, name):
    """An executed notebook: no error output, every exercise run printed
    its answer, and at least the pictures PICTURES promises."""
    errors = [o for c in _code(nb) for o in c.outputs
              if o.output_type == 'error']
    assert not errors
    runs = [c for c in _exercise_cells(nb) if c.cell_type == 'code'
            and SHOWS.search(c.source)]
    assert runs
    for cell in runs:
        assert cell.outputs, 'an exercise cell printed nothing:\n' + \
            cell.source
    pictures = sum('image/png' in o.get('data', {})
                   for c in _code(nb) for o in c.outputs)
    assert pictures >= PICTURES.get(name, 0)


@pytest.mark.parametrize('name', NAMES)
def test_titled_and_stamped(name):
    nb = _read(name)
    nbformat.validate(nb)
    stamp = nb.cells[0]
    assert stamp.cell_type == 'markdown'
    assert execute.STAMP_TAG in stamp.metadata.get('tags', [])
    assert execute.STAMP_TITLE in stamp.source
    number, title = SECTIONS[name]
    heading = nb.cells[1].source.strip().splitlines()[0]
    assert heading == '# %s %s' % (number, title)


@pytest.mark.parametrize('name', NAMES)
def test_committed_outputs_come_from_a_full_run(name):
    """Every committed notebook carries the outputs of a full run by
    execute.py (its stamp, not quick mode), every code cell executed once,
    in order, with the exercise answers and pictures a reader expects."""
    nb = _read(name)
    run = nb.metadata.get('d2l_ch6')
    assert run is not None, 'no run record: run notebooks/execute.py on it'
    assert run['quick'] is False, 'quick-mode outputs must not be committed'
    assert 'quick' not in nb.cells[0].source.lower()
    assert '快速模式' not in nb.cells[0].source
    assert [c.execution_count for c in _code(nb)] == \
        list(range(1, len(_code(nb)) + 1))
    _check_outputs(nb, name)


@pytest.mark.parametrize('name', NAMES)
def test_exercises_answered_by_runs(name):
    cells = _exercise_cells(_read(name))
    assert cells is not None, "no '## 练习' section"
    assert any(c.cell_type == 'code' and SHOWS.search(c.source)
               for c in cells)


def test_every_registered_exercise_runs_in_its_notebook():
    from d2l_ch6 import exercises
    by_number = {number: name for name, (number, _) in SECTIONS.items()}
    missing = []
    for ex_id in exercises.REGISTRY:
        name = by_number[ex_id.split('-')[0]]
        code = ''.join(c.source for c in _code(_read(name)))
        if "'%s'" % ex_id not in code:
            missing.append('%s (%s)' % (ex_id, name))
    assert not missing, 'exercises without their run: %s' % missing


@pytest.mark.parametrize('name', NAMES)
def test_no_second_copy_of_the_package(name):
    """Where the book shows a function the package keeps, a notebook shows
    its source; it never defines one of the package's names again."""
    ours = package_names()
    assert {'get_params', 'train_and_predict_rnn', 'RNNModel'} <= ours
    defined = {a or b for c in _code(_read(name))
               for a, b in DEFINITION.findall(c.source)}
    assert not defined & ours, 'redefines %s' % sorted(defined & ours)


def test_definition_regex_catches_copies():
    found = DEFINITION.findall('x = 1\ndef get_params(a):\n    pass\n'
                               'class RNNModel(nn.Block):\n'
                               'to_onehot = lambda X, n: X\n')
    assert {a or b for a, b in found} == {'get_params', 'RNNModel',
                                          'to_onehot'}


def test_quick_mode_refuses_to_write_in_place(tmp_path):
    before = _digest('6.2-rnn.ipynb')
    for extra, env in (([], {execute.QUICK_ENV: '1'}), (['--quick'], {})):
        r = subprocess.run(
            [sys.executable, EXECUTE, '6.2-rnn.ipynb'] + extra,
            env=dict(os.environ, **env), capture_output=True, text=True,
            timeout=120)
        assert r.returncode == 2, r.stdout + r.stderr
        assert 'must not overwrite' in r.stderr
    # writing elsewhere is allowed, but never into notebooks/ itself
    r = subprocess.run(
        [sys.executable, EXECUTE, '--quick', '--output-dir', NOTEBOOKS,
         '6.2-rnn.ipynb'], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert _digest('6.2-rnn.ipynb') == before


def test_each_notebook_is_written_as_soon_as_it_has_run(tmp_path):
    """An interrupted or failing run keeps the notebooks already run: each
    is written, whole, when it finishes (the second notebook looks)."""
    out = tmp_path / 'out'
    cells = {'6.1-first': 'print(6 * 7)',
             '6.2-looks': 'import os\nprint(os.path.exists(%r))'
                          % str(out / '6.1-first.ipynb'),
             '6.3-fails': '1 / 0'}
    paths = []
    for name, code in cells.items():
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(code)]
        paths.append(str(tmp_path / (name + '.ipynb')))
        nbformat.write(nb, paths[-1])
    assert execute.main(['--output-dir', str(out)] + paths) == 1
    assert sorted(os.listdir(out)) == ['6.1-first.ipynb', '6.2-looks.ipynb']
    first, looks = (nbformat.read(str(out / n), as_version=4)
                    for n in sorted(os.listdir(out)))
    assert first.cells[1].outputs[0].text == '42\n'
    assert first.metadata['d2l_ch6']['seconds'] > 0
    assert looks.cells[1].outputs[0].text == 'True\n'


def test_stamp_says_machine_mode_and_time():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell('# 6.2 循环神经网络')]
    info = dict(platform='Linux-x', cpu='Some CPU', cpus=3, gpus=0,
                threads='1', python='3.11.7', mxnet='1.9.1',
                numpy='1.23.5')
    execute.stamp(nb, 754.4, False, info)
    text = nb.cells[0].source
    assert execute.STAMP_TAG in nb.cells[0].metadata['tags']
    for part in ('Linux-x', 'Some CPU', '3 个 CPU', 'mxnet 1.9.1',
                 'numpy 1.23.5', '12 分 34 秒', '书中的设置',
                 'OMP_NUM_THREADS=1'):
        assert part in text
    assert nb.cells[1].source == '# 6.2 循环神经网络'
    assert nb.metadata['d2l_ch6']['seconds'] == 754.4
    execute.stamp(nb, 5, True, info)  # re-stamping replaces the cell
    assert len(nb.cells) == 2 and '快速模式' in nb.cells[0].source
    assert nb.metadata['d2l_ch6']['quick'] is True


# --- running them (quick mode, in memory) ----------------------------------


@pytest.fixture(scope='session')
def executed(request):
    """{name: (executed notebook or the exception, seconds)} of the
    notebooks this session's tests ask for, run two at a time in quick
    mode; checks the committed files were not touched."""
    wanted = sorted({item.callspec.params['name']
                     for item in request.session.items
                     if 'executed' in getattr(item, 'fixturenames', ())
                     and hasattr(item, 'callspec')},
                    key=execute.section_key)
    before = {name: _digest(name) for name in wanted}
    results = execute.run([os.path.join(NOTEBOOKS, n) for n in wanted],
                          quick=True, jobs=2, timeout=CELL_TIMEOUT,
                          log=lambda line: None)
    assert {name: _digest(name) for name in wanted} == before
    out = {os.path.basename(path): r for path, r in results.items()}
    print('\nnotebooks, quick mode: ' + ', '.join(
        '%s %.0f s' % (n, s) for n, (_, s) in out.items()))
    return out


def _failure(error):
    """The part of a CellExecutionError worth reading: the cell and the
    last lines of its traceback, colour codes removed."""
    text = re.sub(r'\x1b\[[0-9;]*m', '', str(error))
    lines = text.strip().splitlines()
    return '\n'.join(lines[:25] + ['...'] + lines[-15:]) \
        if len(lines) > 45 else text


@pytest.mark.slow  # all ten notebooks, quick mode: about a minute
@pytest.mark.parametrize('name', NAMES)
def test_runs_top_to_bottom(executed, name):
    nb, seconds = executed[name]
    if isinstance(nb, Exception):
        pytest.fail('%s raised (after %.0f s):\n%s'
                    % (name, seconds, _failure(nb)))
    assert nb.metadata['d2l_ch6']['quick'] is True
    assert '快速模式' in nb.cells[0].source
    _check_outputs(nb, name)
