"""The benchmark's peer: the same models of chapter 6 in PyTorch.

``bench --peer torch`` runs this file as a script in a process of its own
(it imports nothing of d2l_ch6, so mxnet is never loaded beside torch, and
the two OpenMP pools never share a process), one process per model, and
asks it for one epoch at a time, between the epochs of that model in
mxnet, so that both meet the same machine. The job file names the model,
the hyper-parameters and an ``.npz`` with the corpus (as indices, the same
vocabulary) and the model's initial weights in d2l_ch6's layout, so both
frameworks train the very same model from the very same start:

* concise models: ``nn.RNN/GRU/LSTM`` and a ``nn.Linear`` output layer on
  one-hot inputs, as the book's ``RNNModel`` (Gluon's parameter layout and
  gate orders are PyTorch's: GRU r, z, n with the reset gate after the
  product, LSTM i, f, g, o);
* scratch models: the book's cells in tensor operations, one weight per
  gate (the GRU in the book's form), the inputs of all steps gathered at
  once, one product for a deeper layer's inputs and one for the output
  layer -- what a PyTorch user writes from the book's code.

Training is the book's: consecutive sampling, the state detached between
batches, mean softmax cross-entropy, the gradients clipped to a global
norm, plain sgd, with no host read until the epoch ends. For every line
'epoch' it reads on stdin it trains one epoch and answers one JSON line:
its seconds and perplexity (timed inside, so the exchange is not counted);
for 'phases', also the seconds of each part of the batches.

    python d2l_ch6/tools/peer_torch.py JOB.json     (written by the benchmark)
    python d2l_ch6/tools/peer_torch.py --check      (is torch importable?)
"""
import json
import math
import sys
import time

import numpy as np

NUM_GATES = {'rnn': 1, 'gru': 3, 'lstm': 4}


def batches(data, batch_size, num_steps):
    """The book's consecutive sampling: (X, Y) of (batch, num_steps)."""
    batch_len = len(data) // batch_size
    rows = data[:batch_size * batch_len].reshape(batch_size, batch_len)
    for i in range(0, (batch_len - 1) // num_steps * num_steps, num_steps):
        yield rows[:, i:i + num_steps], rows[:, i + 1:i + num_steps + 1]


class Concise:
    """``nn.RNN/GRU/LSTM`` + ``nn.Linear`` on one-hot inputs, with the
    Gluon model's weights ('rnn.l0_i2h_weight', ..., 'dense.weight')."""

    def __init__(self, torch, spec, vocab_size, weights):
        nn = torch.nn
        layer = {'rnn': nn.RNN, 'gru': nn.GRU, 'lstm': nn.LSTM}[spec['cell']]
        kwargs = dict(num_layers=spec['num_layers'],
                      bidirectional=spec['bidirectional'])
        if spec['cell'] == 'rnn':
            kwargs['nonlinearity'] = spec['activation']
        self.torch, self.vocab_size = torch, vocab_size
        self.rnn = layer(vocab_size, spec['num_hiddens'], **kwargs)
        D = 2 if spec['bidirectional'] else 1
        self.dense = nn.Linear(D * spec['num_hiddens'], vocab_size)
        with torch.no_grad():
            for k in range(spec['num_layers']):
                for d, suffix in (('l', ''), ('r', '_reverse'))[:D]:
                    for ours, theirs in (('i2h_weight', 'weight_ih'),
                                         ('h2h_weight', 'weight_hh'),
                                         ('i2h_bias', 'bias_ih'),
                                         ('h2h_bias', 'bias_hh')):
                        getattr(self.rnn, '%s_l%d%s' % (theirs, k, suffix))[
                            :] = torch.from_numpy(
                                weights['rnn.%s%d_%s' % (d, k, ours)])
            self.dense.weight[:] = torch.from_numpy(weights['dense.weight'])
            self.dense.bias[:] = torch.from_numpy(weights['dense.bias'])
        self.lstm = spec['cell'] == 'lstm'
        self.num_states = spec['num_layers'] * D
        self.num_hiddens = spec['num_hiddens']

    def parameters(self):
        return list(self.rnn.parameters()) + list(self.dense.parameters())

    def begin_state(self, batch_size):
        zeros = self.torch.zeros(self.num_states, batch_size,
                                 self.num_hiddens)
        return (zeros, zeros.clone()) if self.lstm else zeros

    def detach(self, state):
        return tuple(s.detach() for s in state) if self.lstm \
            else state.detach()

    def __call__(self, X, state):
        inputs = self.torch.nn.functional.one_hot(
            X.T, self.vocab_size).float()  # (T, B, vocab)
        Y, state = self.rnn(inputs, state)
        return self.dense(Y.reshape(-1, Y.shape[-1])), state


class Scratch:
    """The book's cells in tensor operations, with d2l_ch6's scratch
    layout: per layer and direction, per gate (the book's order) W_x (in,
    h), W_h (h, h), b (h,); then W_hq (D*h, vocab), b_q."""

    def __init__(self, torch, spec, vocab_size, weights):
        self.torch, self.spec = torch, spec
        flat = [torch.from_numpy(weights[str(i)]).requires_grad_()
                for i in range(len(weights))]
        self.params = flat
        g, D = NUM_GATES[spec['cell']], 2 if spec['bidirectional'] else 1
        self.cells, k = [], 0
        for _ in range(spec['num_layers']):
            layer = []
            for _ in range(D):
                layer.append([flat[k + 3 * j:k + 3 * j + 3]
                              for j in range(g)])
                k += 3 * g
            self.cells.append(layer)
        self.W_hq, self.b_q = flat[k:k + 2]
        self.act = torch.tanh if spec['activation'] == 'tanh' \
            else torch.relu
        self.h, self.D = spec['num_hiddens'], D

    def parameters(self):
        return self.params

    def begin_state(self, batch_size):
        n = 2 if self.spec['cell'] == 'lstm' else 1
        return [self.torch.zeros(batch_size, self.h)
                for _ in range(n * self.D * self.spec['num_layers'])]

    def detach(self, state):
        return [s.detach() for s in state]

    def _step(self, gates, XW, t, state):
        torch, cell = self.torch, self.spec['cell']
        H = state[0]
        if cell == 'rnn':
            (_, W_h, b), = gates
            return [self.act(XW[0][t] + H @ W_h + b)]
        if cell == 'gru':  # the book's form: the reset gate before W_hh
            (_, W_hz, b_z), (_, W_hr, b_r), (_, W_hh, b_h) = gates
            Z = torch.sigmoid(XW[0][t] + H @ W_hz + b_z)
            R = torch.sigmoid(XW[1][t] + H @ W_hr + b_r)
            H_tilda = torch.tanh(XW[2][t] + (R * H) @ W_hh + b_h)
            return [Z * H + (1 - Z) * H_tilda]
        (_, W_hi, b_i), (_, W_hf, b_f), (_, W_ho, b_o), (_, W_hc, b_c) = \
            gates
        C = state[1]
        Ig = torch.sigmoid(XW[0][t] + H @ W_hi + b_i)
        Fg = torch.sigmoid(XW[1][t] + H @ W_hf + b_f)
        Og = torch.sigmoid(XW[2][t] + H @ W_ho + b_o)
        C = Fg * C + Ig * torch.tanh(XW[3][t] + H @ W_hc + b_c)
        return [Og * torch.tanh(C), C]

    def __call__(self, X, state):
        torch = self.torch
        T = X.shape[1]
        n = 2 if self.spec['cell'] == 'lstm' else 1
        below, new_state, s = None, [], 0
        for layer in self.cells:
            outs = []
            for d, gates in enumerate(layer):
                if below is None:  # one-hot X times W: rows of W, gathered
                    XW = [W_x[X.T] for W_x, _, _ in gates]  # (T, B, h)
                else:  # the layer below, all steps at once
                    XW = [(below @ W_x).reshape(T, -1, self.h)
                          for W_x, _, _ in gates]
                st = state[s:s + n]
                Hs = [None] * T
                for t in (reversed(range(T)) if d else range(T)):
                    st = self._step(gates, XW, t, st)
                    Hs[t] = st[0]
                new_state += st
                s += n
                outs.append(Hs)
            Hs = [torch.cat(hs, dim=1) for hs in zip(*outs)] \
                if len(outs) == 2 else outs[0]
            below = torch.cat(Hs, dim=0)  # (T * B, D*h), time-major
        return below @ self.W_hq + self.b_q, new_state


def epoch(model, torch, data, hp, phases=None):
    """One epoch of the book's routine, on the device until it ends:
    (seconds, perplexity). ``phases`` (a dict) gets the seconds of each
    part of the batches: 'model' (forward, loss, backward), 'clip',
    'update' (PyTorch's CPU operators return when they are done)."""
    params = model.parameters()
    loss_fn = torch.nn.CrossEntropyLoss()
    lr, theta = hp['lr'], hp['clipping_theta']
    clock = time.perf_counter
    start = clock()
    state = model.begin_state(hp['batch_size'])
    l_sum, n = torch.zeros(()), 0
    for X, Y in batches(data, hp['batch_size'], hp['num_steps']):
        state = model.detach(state)
        t0 = clock()
        outputs, state = model(X, state)
        y = Y.T.reshape(-1)  # time-major, as the outputs
        loss = loss_fn(outputs, y)
        for p in params:
            p.grad = None
        loss.backward()
        t1 = clock()
        with torch.no_grad():
            scale = 1.0
            if theta:  # theta / max(norm, theta): the book's clipping
                norm = torch.sqrt(sum((p.grad * p.grad).sum()
                                      for p in params))
                scale = theta / torch.clamp(norm, min=theta)
            t2 = clock()
            for p in params:
                p -= lr * scale * p.grad
            l_sum += loss.detach() * y.numel()
        n += y.numel()
        if phases is not None:
            for name, seconds in (('model', t1 - t0), ('clip', t2 - t1),
                                  ('update', clock() - t2)):
                phases[name] = phases.get(name, 0.0) + seconds
    ppl = math.exp(float(l_sum) / n)  # the epoch's one read
    return clock() - start, ppl


def serve(job, lines, out):
    """Build the job's model, then train one epoch for every 'epoch' line
    of ``lines``, answering each with a JSON line on ``out``."""
    import torch
    torch.set_num_threads(job['threads'])
    torch.manual_seed(0)
    saved = np.load(job['arrays'])
    data = torch.from_numpy(saved['corpus'].astype(np.int64))
    weights = {k[len('w:'):]: saved[k] for k in saved.files
               if k.startswith('w:')}
    spec = job['spec']
    make = Concise if spec['impl'] == 'gluon' else Scratch
    model = make(torch, spec, job['vocab_size'], weights)
    out.write(json.dumps(dict(torch=torch.__version__,
                              threads=torch.get_num_threads())) + '\n')
    out.flush()
    for line in lines:
        if line.strip() not in ('epoch', 'phases'):
            break
        phases = {} if line.strip() == 'phases' else None
        seconds, ppl = epoch(model, torch, data, job['hyper'], phases)
        out.write(json.dumps(dict(seconds=seconds, perplexity=ppl,
                                  phases=phases)) + '\n')
        out.flush()


def main(argv):
    if argv == ['--check']:
        import torch
        print(json.dumps(dict(torch=torch.__version__)))
        return 0
    with open(argv[0], encoding='utf-8') as f:
        job = json.load(f)
    serve(job, sys.stdin, sys.stdout)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
