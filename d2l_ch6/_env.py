"""Environment defaults for mxnet, set before mxnet is imported (the package
imports this module right after ``_compat``; code that imports mxnet itself
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
"""
import os


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

os.environ.setdefault('OMP_NUM_THREADS', str(physical_cores()))
for _name, _value in DEFAULTS.items():
    os.environ.setdefault(_name, _value)
