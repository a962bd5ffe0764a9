"""Checks fcstore's weight decay against an independent numpy implementation.

Usage: check_weight_decay.py DATA.csv INITIAL.npz LR LAMBDA MU OPTIMIZER=STEP1.npz,STEP2.npz ...

DATA.csv has feature columns and a last column `label` (classes 0..K-1), read raw
(the runs use --normalize none). INITIAL.npz holds the imported starting weights
(layers.<l>.weight N_l x N_{l-1}, layers.<l>.bias). The network has sigmoid hidden
layers and a softmax output with the cross-entropy loss. Each OPTIMIZER (sgd,
momentum, adam) names the exports of the first and second full-batch steps of a run
trained from INITIAL with --learning-rate LR --weight-decay LAMBDA (--momentum MU).

The updates, written from PyTorch's documentation of SGD(weight_decay) and
AdamW(weight_decay), in float64 (decay on weights only, never biases):
- sgd:      g_W += lambda W;  theta -= lr g
- momentum: g_W += lambda W;  v = mu v - lr g;  theta += v   (v starts at 0)
- adam:     W *= 1 - lr lambda;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
            theta -= lr m/(1-b1^t) / (sqrt(v/(1-b2^t)) + eps)
Every value of the first step must match fcstore's to 1e-6, and of the second step
too for sgd and momentum. Adam's second step divides by sqrt(v) of gradients that
fcstore computes in float32, which moves small entries by up to about 1.4e-6 here:
it is checked to 1e-5.
"""
import sys

import numpy as np

TOLERANCE = 1e-6
BETA1, BETA2, EPS = 0.9, 0.999, 1e-8


def load(path):
    with np.load(path, allow_pickle=False) as z:
        layers = sorted({int(k.split(".")[1]) for k in z.files if k.startswith("layers.")})
        return [(z["layers.%d.weight" % l].astype(np.float64), z["layers.%d.bias" % l].astype(np.float64)) for l in layers]


def gradients(params, x, labels):
    """Batch-mean gradient of the mean cross-entropy, by backpropagation."""
    activations = [x]
    for index, (w, b) in enumerate(params):
        z = activations[-1] @ w.T + b
        if index == len(params) - 1:
            z = z - z.max(axis=1, keepdims=True)
            e = np.exp(z)
            activations.append(e / e.sum(axis=1, keepdims=True))
        else:
            activations.append(1 / (1 + np.exp(-z)))
    t = np.zeros_like(activations[-1])
    t[np.arange(len(labels)), labels] = 1
    delta = (activations[-1] - t) / len(labels)
    grads = [None] * len(params)
    for index in reversed(range(len(params))):
        grads[index] = (delta.T @ activations[index], delta.sum(axis=0))
        if index > 0:
            a = activations[index]
            delta = (delta @ params[index][0]) * a * (1 - a)
    return grads


def step(kind, params, state, x, labels, lr, lam, mu, t):
    grads = gradients(params, x, labels)
    out = []
    for index, ((w, b), (dw, db)) in enumerate(zip(params, grads)):
        if kind in ("sgd", "momentum"):
            dw = dw + lam * w  # the L2 term's gradient, weights only
            if kind == "sgd":
                out.append((w - lr * dw, b - lr * db))
                continue
            vw, vb = state.get(index, (np.zeros_like(w), np.zeros_like(b)))
            vw, vb = mu * vw - lr * dw, mu * vb - lr * db
            state[index] = (vw, vb)
            out.append((w + vw, b + vb))
        else:
            w = w * (1 - lr * lam)  # decoupled decay first, as AdamW
            (mw, vw), (mb, vb) = state.get(index, ((np.zeros_like(w), np.zeros_like(w)), (np.zeros_like(b), np.zeros_like(b))))
            mw, vw = BETA1 * mw + (1 - BETA1) * dw, BETA2 * vw + (1 - BETA2) * dw * dw
            mb, vb = BETA1 * mb + (1 - BETA1) * db, BETA2 * vb + (1 - BETA2) * db * db
            state[index] = ((mw, vw), (mb, vb))
            c1, c2 = 1 - BETA1 ** t, 1 - BETA2 ** t
            w = w - lr * (mw / c1) / (np.sqrt(vw / c2) + EPS)
            b = b - lr * (mb / c1) / (np.sqrt(vb / c2) + EPS)
            out.append((w, b))
    return out


def main(data_path, initial_path, lr, lam, mu, *runs):
    rows = np.loadtxt(data_path, delimiter=",", skiprows=1, dtype=np.float32).astype(np.float64)
    x, labels = rows[:, :-1], rows[:, -1].astype(int)
    initial = load(initial_path)
    lr, lam, mu = float(lr), float(lam), float(mu)
    assert lam > 0
    for run in runs:
        kind, files = run.split("=")
        params, state = initial, {}
        for t, path in enumerate(files.split(","), start=1):
            params = step(kind, params, state, x, labels, lr, lam, mu, t)
            ours = load(path)
            for l, ((w, b), (ow, ob)) in enumerate(zip(params, ours), start=1):
                for name, theirs, mine in (("weight", w, ow), ("bias", b, ob)):
                    error = np.abs(theirs - mine).max()
                    tolerance = 10 * TOLERANCE if kind == "adam" and t > 1 else TOLERANCE
                    assert error <= tolerance, "%s step %d layer %d %s: max |difference| %g" % (kind, t, l, name, error)
            if t == 1:
                # The decay mattered: without it the first step's weights differ by far more than the tolerance.
                plain = step(kind, initial, {}, x, labels, lr, 0.0, mu, 1)
                moved = max(np.abs(p[0] - o[0]).max() for p, o in zip(plain, ours))
                assert moved > 100 * TOLERANCE, "%s: weight decay changed the first step by only %g" % (kind, moved)
        print("%s: 2 steps match numpy" % kind)


if __name__ == "__main__":
    main(*sys.argv[1:])
