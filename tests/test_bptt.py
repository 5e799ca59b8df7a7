"""6.6: BPTT by hand against autograd, the norms of dL/dh_t against plain
numpy powers of W_hh^T, clipping, the plot and the command line."""
import matplotlib.image
import numpy as np
import pytest
from mxnet import nd

from d2l_ch6 import bptt
from d2l_ch6.__main__ import main as d2l_main
from d2l_ch6.core.errors import BadInput


def random_problem(T, n, d, h, q, ctx, dtype='float64', rho=None,
                   with_H0=True, scale=1.0):
    """Random weights, inputs x_t (d, n) ~ N(0, scale^2), labels y_t (n,)
    and h_0. (A small scale keeps o_T of a long exploding run from
    saturating the softmax, where dl_T/do_T would round to 0.)"""
    params = bptt.init_params(d, h, q, ctx, rho=rho, dtype=dtype)
    inputs = [nd.array(np.random.normal(scale=scale, size=(d, n)), ctx,
                       dtype=dtype) for _ in range(T)]
    labels = [nd.array(np.random.randint(q, size=n), ctx, dtype=dtype)
              for _ in range(T)]
    H0 = nd.array(np.random.normal(scale=scale, size=(h, n)), ctx,
                  dtype=dtype) \
        if with_H0 else None
    return params, inputs, labels, H0


def np_forward(params, inputs, H0):
    """Plain numpy forward: [h_0..h_T] and [o_1..o_T]."""
    W_hx, W_hh, W_qh = params
    H, states, outputs = H0, [H0], []
    for X in inputs:
        H = W_hx @ X + W_hh @ H
        states.append(H)
        outputs.append(W_qh @ H)
    return states, outputs


def np_dO(O, y, w):
    """w * d(mean cross-entropy)/dO for O (q, n), y (n,)."""
    P = np.exp(O - O.max(axis=0))
    P /= P.sum(axis=0)
    P[y, np.arange(len(y))] -= 1
    return w * P / O.shape[1]


def to_np(arrays):
    return [a.asnumpy() for a in arrays]


@pytest.mark.parametrize('T, n, d, h, q', [
    (1, 1, 3, 4, 5),      # one step: no recursion at all
    (2, 1, 5, 3, 4),
    (7, 4, 6, 8, 5),      # a batch of columns
    (30, 2, 10, 16, 12),  # long enough for the powers to matter
])
@pytest.mark.parametrize('with_H0', [True, False])
def test_hand_bptt_equals_autograd(ctx, T, n, d, h, q, with_H0):
    problem = random_problem(T, n, d, h, q, ctx, with_H0=with_H0)
    hand = bptt.hand_grads(*problem)
    auto = bptt.autograd_grads(*problem)
    assert abs(hand[0] - auto[0]) <= 1e-10 * abs(auto[0])
    assert len(hand[1]) == T
    for g, G in zip(hand[1], auto[1]):  # dL/dh_t for every t
        assert g.shape == (h, n)
        np.testing.assert_allclose(g.asnumpy(), G.asnumpy(), rtol=1e-5,
                                   atol=1e-5 * np.abs(G.asnumpy()).max())
    for g, G, shape in zip(hand[2], auto[2], [(h, d), (h, h), (q, h)]):
        assert g.shape == shape
        assert bptt.rel_diff([g], [G]) < 1e-5
    diffs = bptt.compare(*problem)
    assert set(diffs) == {'loss', 'dL/dh', 'W_hx', 'W_hh', 'W_qh'}
    assert max(diffs.values()) < 1e-5


def test_float32_close_to_autograd(ctx):
    problem = random_problem(10, 3, 6, 8, 7, ctx, dtype='float32')
    assert max(bptt.compare(*problem).values()) < 1e-4


def test_compare_can_fail(ctx):
    """A wrong recursion (no W_hh^T term) is caught."""
    params, inputs, labels, H0 = random_problem(5, 2, 4, 6, 3, ctx)
    states, outputs = bptt.forward(params, inputs, H0)
    _, dO = bptt.output_grads(outputs, labels)
    wrong = [nd.dot(params[2], g, transpose_a=True) for g in dO]
    auto = bptt.autograd_grads(params, inputs, labels, H0)
    assert bptt.rel_diff(wrong, auto[1]) > 1e-2


def test_loss_and_forward_against_numpy(ctx):
    params, inputs, labels, H0 = random_problem(6, 3, 4, 5, 7, ctx)
    P, X, Y = to_np(params), to_np(inputs), [y.asnumpy().astype(int)
                                             for y in labels]
    states, outputs = np_forward(P, X, H0.asnumpy())
    loss = 0.0
    for O, y in zip(outputs, Y):
        logp = O - O.max(axis=0) - np.log(np.exp(O - O.max(axis=0))
                                          .sum(axis=0))
        loss += -logp[y, np.arange(len(y))].mean() / len(X)
    got_states, got_outputs = bptt.forward(params, inputs, H0)
    for a, b in zip(got_states + got_outputs, states + outputs):
        np.testing.assert_allclose(a.asnumpy(), b, rtol=1e-10)
    assert bptt.hand_grads(params, inputs, labels, H0)[0] == \
        pytest.approx(loss, rel=1e-10)


@pytest.mark.parametrize('rho', [0.8, 1.0, 1.2])
def test_spectral_radius(ctx, rho):
    W_hh = bptt.init_params(3, 10, 4, ctx, rho=rho)[1].asnumpy()
    assert np.abs(np.linalg.eigvals(W_hh)).max() == pytest.approx(rho)


@pytest.mark.parametrize('rho', [0.8, 1.0, 1.2])
def test_last_step_norms_are_powers_of_W_hh(ctx, rho):
    """||dl_T/dh_t|| = ||(W_hh^T)^(T-t) W_qh^T dl_T/do_T||, computed with
    numpy's matrix_power; for W_hh = rho Q it is rho^(T-t) ||dl_T/dh_T||."""
    T = 30
    params, inputs, labels, H0 = random_problem(T, 1, 5, 12, 6, ctx,
                                                rho=rho, scale=1e-3)
    P = to_np(params)
    _, outputs = np_forward(P, to_np(inputs), H0.asnumpy())
    v = P[2].T @ np_dO(outputs[-1], labels[-1].asnumpy().astype(int), 1.0)
    expected = np.array([
        np.linalg.norm(np.linalg.matrix_power(P[1].T, T - t) @ v)
        for t in range(1, T + 1)])
    got = bptt.norms(bptt.hand_grads(params, inputs, labels, H0,
                                     weights=bptt.last_step(T))[1])
    np.testing.assert_allclose(got, expected, rtol=1e-8)
    powers = rho ** (T - np.arange(1, T + 1))
    np.testing.assert_allclose(got / got[-1], powers, rtol=1e-8)
    if rho < 1:
        assert got[0] < 1e-2 * got[-1]  # vanished
    elif rho > 1:
        assert got[0] > 1e2 * got[-1]  # exploded


def test_non_normal_W_hh_against_numpy(ctx):
    """A random W_hh scaled to spectral radius 1.1 (not orthogonal): the
    norms still equal numpy's powers, and grow like 1.1^k in the long run."""
    T, h = 60, 8
    params, inputs, labels, H0 = random_problem(T, 1, 4, h, 5, ctx,
                                                scale=1e-3)
    W = np.random.normal(size=(h, h))
    W *= 1.1 / np.abs(np.linalg.eigvals(W)).max()
    params[1] = nd.array(W, ctx, dtype='float64')
    P = to_np(params)
    _, outputs = np_forward(P, to_np(inputs), H0.asnumpy())
    v = P[2].T @ np_dO(outputs[-1], labels[-1].asnumpy().astype(int), 1.0)
    expected = np.array([
        np.linalg.norm(np.linalg.matrix_power(W.T, T - t) @ v)
        for t in range(1, T + 1)])
    got = bptt.norms(bptt.hand_grads(params, inputs, labels, H0,
                                     weights=bptt.last_step(T))[1])
    np.testing.assert_allclose(got, expected, rtol=1e-8)
    assert got[0] / got[10] == pytest.approx(1.1 ** 10, rel=0.2)


def test_every_step_norms_follow_the_books_sum(ctx):
    """dL/dh_t = sum_{i=t..T} (W_hh^T)^(i-t) W_qh^T dL/do_i (the book's
    unrolled formula), in numpy, against the hand recursion."""
    T = 12
    params, inputs, labels, H0 = random_problem(T, 2, 3, 6, 4, ctx, rho=1.1)
    P = to_np(params)
    _, outputs = np_forward(P, to_np(inputs), H0.asnumpy())
    dO = [np_dO(O, y.asnumpy().astype(int), 1 / T)
          for O, y in zip(outputs, labels)]
    got = bptt.hand_grads(params, inputs, labels, H0)[1]
    for t in range(1, T + 1):
        expected = sum(np.linalg.matrix_power(P[1].T, i - t) @ P[2].T
                       @ dO[i - 1] for i in range(t, T + 1))
        np.testing.assert_allclose(got[t - 1].asnumpy(), expected,
                                   rtol=1e-9)


@pytest.mark.parametrize('theta', [0.5, 1e6])
def test_clip_keeps_the_direction(ctx, theta):
    params, inputs, labels, H0 = random_problem(20, 1, 4, 8, 5, ctx,
                                                rho=1.3)
    _, _, dW = bptt.hand_grads(params, inputs, labels, H0)
    g = np.concatenate([a.asnumpy().ravel() for a in dW])
    before, after, cosine = bptt.clip_effect(params, dW, theta)
    assert before == pytest.approx(np.linalg.norm(g))
    assert before > 0.5  # the exploding case really is clipped at 0.5
    assert after == pytest.approx(min(theta, np.linalg.norm(g)))
    assert cosine == pytest.approx(1.0, abs=1e-12)
    # the caller's gradients are left alone
    np.testing.assert_array_equal(
        np.concatenate([a.asnumpy().ravel() for a in dW]), g)


def test_main_measures(capsys):
    T = 20
    r = bptt.main(['--num-steps', str(T), '--num-hiddens', '8',
                   '--radii', '0.5,1,1.5', '--clip', '0.1', '--ctx', 'cpu'])
    out = capsys.readouterr().out
    assert 'hand BPTT vs autograd' in out and 'clipping at theta=0.1' in out
    assert max(r['max_rel_diff'].values()) < 1e-5
    assert set(r['last']) == set(r['every']) == {0.5, 1.0, 1.5}
    for rho in (0.5, 1.0, 1.5):
        assert r['last'][rho].shape == r['every'][rho].shape == (T,)
        assert r['ratio'][rho] == pytest.approx(rho ** (T - 1), rel=1e-8)
        before, after, cosine = r['clip'][rho]
        assert after == pytest.approx(min(before, 0.1))
        assert cosine == pytest.approx(1.0)
    assert r['clip'][1.5][0] > r['clip'][0.5][0]
    assert r['plot'] is None


def test_plot_writes_a_png(tmp_path):
    path = tmp_path / 'norms.png'
    r = bptt.main(['--num-steps', '10', '--num-hiddens', '4',
                   '--plot', str(path)])
    assert r['plot'] == str(path)
    assert path.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    image = matplotlib.image.imread(str(path))
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100


def test_section_dispatch(capsys):
    assert d2l_main(['6.6', '--num-steps', '3', '--num-hiddens', '2',
                     '--radii', '0.9']) == 0
    assert 'rho=0.9' in capsys.readouterr().out


@pytest.mark.parametrize('flags', [['--radii', '0,1'], ['--radii', 'x'],
                                   ['--num-steps', '0'], ['--clip', '-1']])
def test_bad_flags(flags):
    with pytest.raises(SystemExit):
        bptt.main(flags)


def test_sequence_longer_than_corpus():
    with pytest.raises(BadInput, match='num-steps'):
        bptt.main(['--num-steps', '50', '--num-chars', '20'])
