"""``python -m d2l_ch6`` lists the sections; ``python -m d2l_ch6 6.4 …`` runs
one (``python -m d2l_ch6 rnn_scratch …`` too)."""
import importlib
import importlib.util
import sys

from .core.cli import SECTIONS, run

# other commands: name -> module
COMMANDS = {'bench': 'tools.bench', 'corpus': 'core.corpus',
            'exercises': 'exercises', 'flags': 'core.flags',
            'generate': 'tools.generate', 'heldout': 'tools.heldout',
            'inspect': 'tools.inside', 'score': 'tools.score',
            'train': 'tools.train'}


def _available(module):
    return importlib.util.find_spec('d2l_ch6.' + module) is not None


def usage():
    lines = ['d2l_ch6: chapter 6 of Dive into Deep Learning (MXNet), runnable',
             '', 'usage: python -m d2l_ch6 SECTION [flags]   '
             '(flags: python -m d2l_ch6 SECTION --help)', '',
             '  §     module               title']
    for number, module, title in SECTIONS:
        lines.append('  %-5s %-20s %s' % (number, module, title))
    commands = [c for c, m in COMMANDS.items() if _available(m)]
    if commands:
        lines += ['', 'other commands: ' + ', '.join(commands)]
    return '\n'.join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ('-h', '--help', 'list'):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    modules = {n: m for n, m, _ in SECTIONS}
    modules.update({m: m for _, m, _ in SECTIONS}, **COMMANDS)
    module = modules.get(name)
    if module is None or not _available(module):
        print('error: unknown section or command %r; `python -m d2l_ch6` '
              'lists them' % name, file=sys.stderr)
        return 2
    return run(importlib.import_module('d2l_ch6.' + module).main, rest)


if __name__ == '__main__':
    sys.exit(main())
