"""Environment defaults for mxnet, set before mxnet is imported (the package
imports this module before ``compat``; code that imports mxnet itself
must import d2l_ch6 first for them to apply). A value the user set is kept.

``OMP_NUM_THREADS``: left unset, mxnet 1.9 (src/engine/openmp.cc) runs its
operators, and OpenBLAS and oneDNN their matrix products, on half the
logical CPUs of an x86 machine, taking every other one for the
hyper-thread of a core. On a machine without hyper-threads, such as a
2-core cloud VM, that is half the cores: one thread on two cores. Measured
there, a 2048^3 matrix product ran at 100 GFLOP/s with the default and at
200 with two threads, and an epoch of the Gluon LSTM (6.8) took 1.14 s
against 0.59 s. The default here is the number of physical cores the
process may use (the hyper-threads of a core counted once).

``MXNET_EXEC_BULK_EXEC_MAX_NODE_TRAIN_FWD`` / ``_BWD``: a hybridized
graph runs its operators in bulks of at most this many per engine push
(mxnet's default 15); the unrolled graphs of this chapter have thousands
of small operators, and bulks of 100 made an epoch of the fast scratch
RNN and LSTM 15-20% shorter. The default here is 100.

``MXNET_ENGINE_TYPE``: mxnet's default engine (``ThreadedEnginePerDevice``)
hands every operator to a worker thread, which pays off when a GPU
computes while Python prepares the next operator; on a CPU the hand-off
itself is the cost, since this chapter's models run thousands of small
operators a batch. ``NaiveEngine`` runs each operator at once in the
calling thread. Measured with ``bench --ctx cpu --peer torch``
(3 epochs, 2 threads for both frameworks, seconds per epoch, ours):

=====================  ===================  ==============  ============
model                  ThreadedPerDevice    NaiveEngine     (AMD EPYC,
=====================  ===================  ==============  2 cores)
scratch RNN (fast)     0.369                0.120
scratch LSTM (fast)    0.781                0.276
Gluon RNN              0.252                0.187
Gluon LSTM             0.479                0.339
=====================  ===================  ==============  ============

and on an Intel Xeon 2.6-3.5x shorter for the scratch models, 1.2-1.9x
for the Gluon ones; the book's own routine gains 1.5x. Two worker threads
(``MXNET_CPU_WORKER_NTHREADS=2``) or the pooled ``ThreadedEngine`` made
a 1-minute benchmark take over 9 minutes (stopped); one OpenMP thread
instead of two made the naive epochs 1.5-1.8x longer. The default here is
``NaiveEngine`` on a CPU-only mxnet. On a CUDA build (an ``mxnet-cuXXX``
wheel) mxnet's default is kept: the naive engine would make Python wait
for the GPU after every operator (each operator's GPU stream is waited
on before it returns), so the GPU would idle while Python prepares the
next one, which the threaded engine overlaps. mxnet logs a line on
stderr whenever ``MXNET_ENGINE_TYPE`` is set; :func:`start_engine`
creates the engine with that line held back.

Every value the package reads or hands to mxnet is checked here first
(:data:`PROBLEMS`): mxnet aborts the whole process (SIGABRT, no message
worth reading) on ``OMP_NUM_THREADS=abc`` or an unknown engine, and
``D2L_CH6_QUICK=false`` must not mean yes. A wrong value is taken out of
the environment, so that importing mxnet survives, and the package then
says which one is wrong (d2l_ch6/__init__.py).
"""
import glob
import os
import sys
import tempfile


def physical_cores():
    """Cores this process may run on, the hyper-threads of a core (read from
    Linux's sysfs) counted once; elsewhere the CPU count."""
    if hasattr(os, 'sched_getaffinity'):
        cpus = sorted(os.sched_getaffinity(0))
    else:
        cpus = range(os.cpu_count() or 1)
    cores = set()
    for cpu in cpus:
        path = ('/sys/devices/system/cpu/cpu%d/topology/thread_siblings_list'
                % cpu)
        try:
            with open(path) as f:
                cores.add(f.read().strip())  # e.g. '0,4': one core
        except OSError:
            cores.add(str(cpu))
    return max(1, len(cores))


DEFAULTS = {'MXNET_EXEC_BULK_EXEC_MAX_NODE_TRAIN_FWD': '100',
            'MXNET_EXEC_BULK_EXEC_MAX_NODE_TRAIN_BWD': '100'}

# what the environment may say: a count of threads (or of operators)
COUNTS = ('OMP_NUM_THREADS', 'MXNET_CPU_WORKER_NTHREADS',
          'MXNET_EXEC_BULK_EXEC_MAX_NODE_TRAIN_FWD',
          'MXNET_EXEC_BULK_EXEC_MAX_NODE_TRAIN_BWD')
ENGINES = ('NaiveEngine', 'ThreadedEngine', 'ThreadedEnginePerDevice')
SWITCHES = ('D2L_CH6_QUICK', 'D2L_CH6_NO_HOOK')
YES, NO = ('1', 'true', 'yes', 'on'), ('', '0', 'false', 'no', 'off')

PROBLEMS = []  # one sentence per wrong value, said by d2l_ch6/__init__.py


def switch(name):
    """True if the environment variable ``name`` says yes (1, true, yes,
    on), False if it is unset or says no (0, false, no, off)."""
    return os.environ.get(name, '').strip().lower() in YES


def _check():
    """Note every wrong value in PROBLEMS and take it out of the
    environment."""
    def wrong(name, why):
        PROBLEMS.append('%s=%r %s' % (name, os.environ.pop(name), why))

    for name in COUNTS:
        value = os.environ.get(name)
        if value is not None and not (value.strip().isdigit()
                                      and int(value) > 0):
            wrong(name, 'is not a positive whole number: unset it or give '
                  'one such as %d' % physical_cores())
    engine = os.environ.get('MXNET_ENGINE_TYPE')
    if engine is not None and engine not in ENGINES:
        wrong('MXNET_ENGINE_TYPE', 'is not an mxnet engine: unset it or '
              'give one of %s' % ', '.join(ENGINES))
    for name in SWITCHES:
        value = os.environ.get(name, '').strip().lower()
        if value not in YES + NO:
            wrong(name, 'is neither yes nor no: give 1 or 0')
    data = os.environ.get('D2L_CH6_DATA')
    if data and os.path.exists(data) and not os.path.isdir(data):
        wrong('D2L_CH6_DATA', 'is a file: give the folder that holds the '
              'corpus files')
    mirror = os.environ.get('D2L_CH6_MIRROR')
    if mirror and not mirror.startswith(('http://', 'https://', 'ftp://')):
        wrong('D2L_CH6_MIRROR', 'is not a URL: give one such as '
              'https://example.org/d2l-data')


def cuda_build():
    """True if the mxnet installed is a CUDA build (an mxnet-cuXXX wheel),
    read from the installed packages' metadata, without importing it."""
    return any(glob.glob(os.path.join(folder or '.', pattern))
               for folder in sys.path
               for pattern in ('mxnet_cu*.dist-info', 'mxnet_cu*.egg-info'))


def engine():
    """The engine mxnet runs (or will run) in this process."""
    return os.environ.get('MXNET_ENGINE_TYPE', 'ThreadedEnginePerDevice')


def start_engine():
    """Create mxnet's engine now (it is made at the first operator), with
    the process's stderr held, and pass on all it printed but its 'MXNet
    start using engine' line."""
    import mxnet
    if 'MXNET_ENGINE_TYPE' not in os.environ:
        return  # mxnet logs nothing for its default
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        saved = None  # no stderr to hold (a closed descriptor)
    with tempfile.TemporaryFile() as held:
        if saved is not None:
            os.dup2(held.fileno(), 2)
        try:
            mxnet.engine.set_bulk_size(mxnet.engine.set_bulk_size(1))
        finally:
            if saved is not None:
                os.dup2(saved, 2)
                os.close(saved)
        held.seek(0)
        lines = held.read().decode('utf-8', 'replace').splitlines(True)
    rest = ''.join(line for line in lines
                   if 'MXNet start using engine' not in line)
    if rest:
        sys.stderr.write(rest)


_check()
if 'mxnet' not in sys.modules and not cuda_build():
    os.environ.setdefault('MXNET_ENGINE_TYPE', 'NaiveEngine')
os.environ.setdefault('OMP_NUM_THREADS', str(physical_cores()))
for _name, _value in DEFAULTS.items():
    os.environ.setdefault(_name, _value)
