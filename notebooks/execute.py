"""Execute the chapter's notebooks in a fresh kernel and stamp them.

Each notebook runs top to bottom in its own kernel started in this folder
(the book's layout: the corpus is found through ``../data`` or
``$D2L_CH6_DATA``), is timed, and its first cell is rewritten to say which
machine ran it and how long the whole notebook took; the notebook is then
written back in place, outputs included. So every output a reader sees on
GitHub comes from a real run::

    python notebooks/execute.py                     # all, the book's order
    python notebooks/execute.py 6.4-rnn-scratch.ipynb 6.5-rnn-gluon.ipynb
    python notebooks/execute.py --dry-run           # run, write nothing

Quick mode (``D2L_CH6_QUICK=1`` or ``--quick``: a handful of epochs per
training run) is for smoke tests: its outputs must never be committed, so
it refuses to write in place; use ``--dry-run``, or ``--output-dir`` to
look at the executed copies elsewhere::

    python notebooks/execute.py --quick --dry-run
    python notebooks/execute.py --quick --output-dir /tmp/notebooks

Run notebooks one at a time (the default ``--jobs 1``) for the committed
outputs: they report seconds per epoch, which parallel runs would inflate.
"""
import argparse
import datetime
import os
import platform
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata

import nbformat
from nbclient import NotebookClient

HERE = os.path.dirname(os.path.abspath(__file__))
STAMP_TAG = 'run-stamp'
STAMP_TITLE = '**运行记录**'
QUICK_ENV = 'D2L_CH6_QUICK'


def quick_env():
    """True when the environment asks for quick mode (the words of
    d2l_ch6.core.env.switch)."""
    return os.environ.get(QUICK_ENV, '').strip().lower() in (
        '1', 'true', 'yes', 'on')


def section_key(path):
    """Sort key: 6.2 before 6.10 (numbers, not strings)."""
    name = os.path.basename(path)
    return [int(x) for x in re.findall(r'\d+', name.split('-')[0])] + [name]


def notebook_paths(names=()):
    """The notebooks named (paths, or names in this folder), or all of
    this folder's, in the book's order."""
    if not names:
        names = [n for n in os.listdir(HERE) if n.endswith('.ipynb')]
    paths = []
    for name in names:
        path = name if os.path.exists(name) else os.path.join(HERE, name)
        if not os.path.isfile(path):
            raise SystemExit('error: no notebook %s' % name)
        paths.append(os.path.abspath(path))
    return sorted(paths, key=section_key)


def _cpu_model():
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package):
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return 'not installed'


def _gpus():
    """How many GPUs mxnet sees (0 on a CPU-only machine)."""
    try:
        import d2l_ch6  # noqa: F401  (before mxnet: numpy aliases)
        import mxnet as mx
        return mx.context.num_gpus()
    except Exception:  # no CUDA build, driver problems: none usable
        return 0


def machine():
    """What the stamp says about the machine and the libraries."""
    return dict(platform=platform.platform(), cpu=_cpu_model(),
                cpus=os.cpu_count(), gpus=_gpus(),
                threads=os.environ.get('OMP_NUM_THREADS', 'default'),
                python=platform.python_version(),
                mxnet=_version('mxnet'), numpy=_version('numpy'))


def _duration(seconds):
    minutes, seconds = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return '%d 小时 %d 分 %d 秒' % (hours, minutes, seconds)
    return '%d 分 %d 秒' % (minutes, seconds) if minutes else \
        '%d 秒' % seconds


def stamp_text(info, seconds, quick, when):
    """The first cell's Markdown: machine, mode and wall time."""
    gpu = '，%d 块 GPU' % info['gpus'] if info['gpus'] else '，无 GPU'
    mode = ('**快速模式**（D2L_CH6_QUICK=1：每次训练只跑几轮，数字不可当真）'
            if quick else '书中的设置')
    return ('> %s（由 `notebooks/execute.py` 自动生成，请勿手改）：%s 在 '
            '%s（%s，%d 个 CPU%s，OMP_NUM_THREADS=%s）上用 Python %s、'
            'mxnet %s、numpy %s 在新内核中从头执行，%s；整个笔记本用时 '
            '**%s**。' % (
                STAMP_TITLE, when, info['platform'], info['cpu'],
                info['cpus'], gpu, info.get('threads', 'default'),
                info['python'], info['mxnet'],
                info['numpy'], mode, _duration(seconds)))


def stamp(nb, seconds, quick, info=None):
    """Write the run record into the first cell (inserted if the notebook
    has no stamp cell) and into ``nb.metadata['d2l_ch6']``."""
    info = info or machine()
    when = datetime.datetime.now().strftime('%Y-%m-%d %H:%M')
    text = stamp_text(info, seconds, quick, when)
    first = nb.cells[0] if nb.cells else None
    if first is None or STAMP_TAG not in first.metadata.get('tags', []):
        first = nbformat.v4.new_markdown_cell()
        first.metadata['tags'] = [STAMP_TAG]
        nb.cells.insert(0, first)
    first.source = text
    nb.metadata['d2l_ch6'] = dict(executed=when, seconds=round(seconds, 1),
                                  quick=bool(quick), machine=info)
    return nb


def coalesce_streams(nb):
    """Join the consecutive stdout (stderr) outputs of each cell, which the
    kernel sends in pieces as they are flushed: one block per stream."""
    for cell in nb.cells:
        merged = []
        for out in cell.get('outputs', []):
            if (merged and out.output_type == 'stream'
                    and merged[-1].output_type == 'stream'
                    and merged[-1].name == out.name):
                merged[-1].text += out.text
            else:
                merged.append(out)
        if cell.cell_type == 'code':
            cell.outputs = merged
    return nb


def execute(path, quick=False, timeout=None, kernel_name='python3',
            threads=None):
    """Run the notebook at ``path`` top to bottom in a fresh kernel started
    in this folder (with ``threads`` OpenMP threads if given); return
    (notebook with outputs, wall seconds). A cell that raises raises
    nbclient's CellExecutionError."""
    nb = nbformat.read(path, as_version=4)
    env = dict(os.environ)
    env.pop(QUICK_ENV, None)
    if quick:
        env[QUICK_ENV] = '1'
    if threads:
        env['OMP_NUM_THREADS'] = str(threads)
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel_name,
                            resources={'metadata': {'path': HERE}})
    start = time.time()
    client.execute(env=env)
    return coalesce_streams(nb), time.time() - start


def run(paths, quick=False, jobs=1, timeout=None, log=print, save=None):
    """Execute and stamp each notebook of ``paths`` (``jobs`` at a time);
    return {path: (stamped notebook or the exception, seconds)}.
    ``save(path, nb)`` is called as soon as a notebook has run, so a later
    failure or Ctrl-C does not lose the hour an earlier one took."""
    info = machine()
    # kernels side by side share the cores: more OpenMP threads than cores
    # made the quick run take over 10 minutes instead of 95 s
    threads = max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None

    def one(path):
        start = time.time()
        try:
            nb, seconds = execute(path, quick, timeout, threads=threads)
        except Exception as e:  # reported by the caller
            return path, (e, time.time() - start)
        log('%-28s %7.1f s' % (os.path.basename(path), seconds))
        nb = stamp(nb, seconds, quick, info)
        if save:
            save(path, nb)
        return path, (nb, seconds)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return dict(pool.map(one, paths))


def _first_line(error):
    lines = [s for s in str(error).strip().splitlines() if s.strip()]
    return lines[-1] if lines else type(error).__name__


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 1)[1])
    p.add_argument('notebooks', nargs='*',
                   help='notebooks to run (default: all of notebooks/)')
    p.add_argument('--quick', action='store_true',
                   help='quick mode (as %s=1): a few epochs per run; '
                   'never writes in place' % QUICK_ENV)
    p.add_argument('--dry-run', action='store_true',
                   help='execute, but write nothing')
    p.add_argument('--output-dir', metavar='DIR',
                   help='write the executed notebooks there, not in place')
    p.add_argument('--jobs', type=int, default=1,
                   help='notebooks run at once (1 for committed outputs: '
                   'the timings they print stay honest)')
    p.add_argument('--timeout', type=int, default=None,
                   help='seconds a cell may run (default: no limit)')
    args = p.parse_args(argv)
    quick = args.quick or quick_env()
    out_dir = os.path.abspath(args.output_dir) if args.output_dir else None
    in_place = not args.dry_run and (out_dir is None or out_dir == HERE)
    if quick and in_place:
        print('error: quick mode (%s=1 or --quick) must not overwrite the '
              'committed notebooks: add --dry-run, or --output-dir DIR '
              '(elsewhere), or unset %s' % (QUICK_ENV, QUICK_ENV),
              file=sys.stderr)
        return 2
    paths = notebook_paths(args.notebooks)
    print('executing %d notebook(s)%s, %s' % (
        len(paths), ' (quick mode)' if quick else '',
        'writing nothing' if args.dry_run else
        'writing to %s' % (out_dir or 'them in place')))

    def save(path, nb):
        from d2l_ch6.core import files
        target = os.path.join(out_dir, os.path.basename(path)) \
            if out_dir else path
        # nbformat.writes leaves off the final newline nbformat.write adds
        files.write_text(target, nbformat.writes(nb) + '\n')

    start = time.time()
    results = run(paths, quick, args.jobs, args.timeout,
                  save=None if args.dry_run else save)
    failed = []
    for path, (nb, _) in results.items():
        if isinstance(nb, Exception):
            failed.append(os.path.basename(path))
            print('FAILED %s: %s' % (failed[-1], _first_line(nb)),
                  file=sys.stderr)
    print('%d notebook(s) in %.1f min%s' % (
        len(paths), (time.time() - start) / 60,
        '; failed: %s' % ', '.join(failed) if failed else ''))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
