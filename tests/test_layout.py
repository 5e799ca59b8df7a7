"""The package is a house of layers, and its imports say so: read with
``ast`` from the source (imports inside functions included), the graph of
d2l_ch6's modules has no cycle, the library never imports a section, the
factory, a tool or the exercises, a section imports only the library and
earlier sections, and nothing but the exercises imports the exercises.
Also: no module grows past about 500 lines, and the section modules' cells
are the book's form."""
import ast
import inspect
import os
import sys

import pytest

import d2l_ch6
from d2l_ch6.core import cli

PACKAGE = os.path.dirname(os.path.abspath(d2l_ch6.__file__))

SECTIONS = [module for _, module, _ in cli.SECTIONS]  # the book's order
# the folders are the layers: core/ the library, the package's top the
# sections, tools/ the factory (zoo) and the tools, exercises/
TOP = {'__init__', '__main__', '_hook'}


def module_names():
    """'gru', 'core.cli', 'exercises.gru', ... for every .py file of the
    package."""
    names = []
    for folder, _, files in os.walk(PACKAGE):
        rel = os.path.relpath(folder, PACKAGE)
        for f in files:
            if f.endswith('.py'):
                parts = [] if rel == '.' else rel.split(os.sep)
                names.append('.'.join(parts + [f[:-3]]))
    return sorted(names)


def layer(name):
    """(rank, what) of a module, from its folder: 0 the library (core/),
    1 the sections (the top), 2 the factory (tools/zoo.py), 3 the tools
    (tools/), 4 the exercises (exercises/), 5 the command-line entry."""
    folder = name.split('.')[0] if '.' in name else None
    if name in ('__init__', '_hook'):
        return 0, 'the public API'  # imported first by every module
    if folder == 'core':
        return 0, 'the library'
    if name == 'tools.zoo':
        return 2, 'the factory'
    if folder == 'tools':
        return 3, 'a tool'
    if folder == 'exercises':
        return 4, 'the exercises'
    if name == '__main__':
        return 5, 'the command-line entry'
    if name in SECTIONS:
        return 1, 'section %s' % cli.SECTIONS[SECTIONS.index(name)][0]
    raise AssertionError('%s.py belongs to no layer: a section goes in '
                         'cli.SECTIONS, the rest into core/, tools/ or '
                         'exercises/' % name.replace('.', '/'))


def test_no_module_shadows_the_standard_library():
    """tools/peer_torch.py runs as a script, its folder first on the path:
    a module there named like one of the standard library's (inspect.py)
    would be imported in its place by numpy."""
    stdlib = getattr(sys, 'stdlib_module_names', None)
    if stdlib is None:
        pytest.skip('Python < 3.10 lists no standard modules')
    clash = [n for n in module_names() if n.split('.')[-1] in stdlib]
    assert not clash, clash


def test_the_top_holds_the_sections():
    """A reader who opens the package finds the ten sections first; the
    library, the tools and the exercises are folders of their own."""
    top = {n for n in module_names() if '.' not in n}
    assert top - TOP == set(SECTIONS)
    folders = {n.split('.')[0] for n in module_names() if '.' in n}
    assert folders == {'core', 'tools', 'exercises'}


def allowed(name, target):
    """May module ``name`` import module ``target``?"""
    rank, t_rank = layer(name)[0], layer(target)[0]
    if rank == 1 and t_rank == 1:  # a section: only earlier sections
        return SECTIONS.index(target) < SECTIONS.index(name)
    if rank in (0, 3, 4):  # the library, the tools, the exercises: also
        return t_rank <= rank  # among themselves (no cycle: tested)
    return t_rank < rank


def imports(name):
    """[(imported module, line)] of the d2l_ch6 modules ``name`` imports,
    anywhere in its source (``from . import x``, ``from ..y import z``,
    ``import d2l_ch6.x``), a package as its ``__init__``."""
    path = os.path.join(PACKAGE, *name.split('.')) + '.py'
    package = name.split('.')[:-1]  # the folder the module is in
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), path)
    known = set(module_names())

    def resolve(parts):
        dotted = '.'.join(parts) or '__init__'
        for candidate in (dotted, dotted + '.__init__'):
            if candidate in known:
                return candidate
        return None

    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = (node.module or '').split('.') if node.module else []
            if node.level:
                base = package[:len(package) - node.level + 1] + module
            elif module and module[0] == 'd2l_ch6':
                base = module[1:]
            else:
                continue
            for alias in node.names:  # `from . import x`: x a module?
                target = resolve(base + [alias.name]) or resolve(base)
                found.append((target, node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split('.')
                if parts[0] == 'd2l_ch6':
                    found.append((resolve(parts[1:]), node.lineno))
    return sorted({(t, line) for t, line in found if t and t != name})


def graph():
    return {name: imports(name) for name in module_names()}


def test_every_module_has_a_layer():
    for name in module_names():
        layer(name)


def test_no_import_against_the_direction():
    wrong = ['%s.py:%d imports %s (%s imports %s)' % (
        name.replace('.', '/'), line, target, layer(name)[1],
        layer(target)[1])
        for name, targets in graph().items() for target, line in targets
        if not allowed(name, target)]
    assert not wrong, 'imports against the direction:\n' + '\n'.join(wrong)


def test_no_cycle():
    edges = {name: [t for t, _ in targets]
             for name, targets in graph().items()}
    state, path = {}, []

    def visit(node):
        state[node] = 'open'
        path.append(node)
        for target in edges[node]:
            if state.get(target) == 'open':
                cycle = path[path.index(target):] + [target]
                pytest.fail('import cycle: ' + ' -> '.join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[node] = 'done'

    for name in edges:
        if name not in state:
            visit(name)


def test_the_reader_sees_lazy_and_relative_imports():
    """What the checks rest on: imports inside functions and two-dot
    relative imports are read."""
    assert 'gru' in {t for t, _ in imports('exercises.gru')}
    main = dict(imports('__main__'))
    assert 'core.cli' in main
    zoo = {t for t, _ in imports('tools.zoo')}
    assert {'bi_rnn', 'deep_rnn', 'gru', 'lstm', 'rnn_scratch'} <= zoo


def test_the_checker_catches_a_wrong_import(monkeypatch):
    """A library module importing a section, a section importing a later
    one, a cycle: each is reported, naming the import."""
    import test_layout
    for fake, message in (
            ({'core.models': [('gru', 3)]},
             'core/models.py:3 imports gru'),
            ({'gru': [('lstm', 9)]}, 'gru.py:9 imports lstm')):
        monkeypatch.setattr(test_layout, 'imports',
                            lambda name, fake=fake: fake.get(name, []))
        with pytest.raises(AssertionError, match=message):
            test_no_import_against_the_direction()
    monkeypatch.setattr(test_layout, 'imports', lambda name: {
        'core.data': [('core.trainer', 1)],
        'core.trainer': [('core.data', 2)]}.get(name, []))
    with pytest.raises(pytest.fail.Exception, match='import cycle'):
        test_no_cycle()


def test_modules_stay_small():
    big = []
    for name in module_names():
        path = os.path.join(PACKAGE, *name.split('.')) + '.py'
        with open(path, encoding='utf-8') as f:
            n = sum(1 for _ in f)
        if n > 500:
            big.append('%s.py: %d lines' % (name, n))
    assert not big, 'modules over 500 lines (two jobs?): %s' % big


def test_exercises_are_split_by_section():
    from d2l_ch6 import exercises
    for ex_id, ex in exercises.REGISTRY.items():
        number = ex_id.split('-')[0]
        module = SECTIONS[[n for n, _, _ in cli.SECTIONS].index(number)]
        assert ex.run.__module__ == 'd2l_ch6.exercises.' + module, ex_id


@pytest.mark.parametrize('module,cell', [
    ('rnn_scratch', 'rnn_cell'), ('gru', 'gru_cell'), ('lstm', 'lstm_cell')])
def test_teaching_cells_are_the_books_form(module, cell):
    """One-hot inputs times one weight per gate, ``nd.dot(X, W_x*)``."""
    import importlib
    source = inspect.getsource(getattr(
        importlib.import_module('d2l_ch6.' + module), cell))
    assert 'nd.dot(X, W_x' in source
    for fast_word in ('take', 'Embedding', 'FullyConnected', 'x_dot'):
        assert fast_word not in source


def _resolves(dotted):
    """True when ``d2l_ch6.a.b.c`` is a module, or an attribute of one."""
    import importlib
    import importlib.util
    parts = dotted.split('.')
    for k in range(len(parts), 0, -1):
        name = '.'.join(parts[:k])
        try:
            found = importlib.util.find_spec(name)
        except ModuleNotFoundError:  # its parent is missing
            found = None
        if found is None:
            continue
        obj = importlib.import_module(name)
        for attr in parts[k:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def test_every_dotted_name_in_the_code_docs_and_notebooks_exists():
    """A module moved (core/, tools/) leaves no reader pointed at its old
    place: every d2l_ch6.x.y named in a docstring, a doc or a notebook is
    there (d2l_ch6.MODULE is a placeholder)."""
    import glob
    import re
    root = os.path.dirname(PACKAGE)
    files = (glob.glob(os.path.join(PACKAGE, '**', '*.py'), recursive=True)
             + glob.glob(os.path.join(root, 'docs', '*.md'))
             + glob.glob(os.path.join(root, 'notebooks', '*.ipynb'))
             + [os.path.join(root, 'README.md')])
    missing = {}
    for path in files:
        if not os.path.exists(path):
            continue  # an installed package has no docs beside it
        with open(path, encoding='utf-8') as f:
            named = set(re.findall(r'd2l_ch6(?:\.[A-Za-z_]\w*)+', f.read()))
        for dotted in named - {'d2l_ch6.MODULE'}:
            if not _resolves(dotted):
                missing.setdefault(dotted, []).append(
                    os.path.relpath(path, root))
    assert not missing, missing
