#!/usr/bin/python3
"""gen_label_fixture.py — numpy reference numbers for token labels and the
distilled classifier (engine/core/logreg.c, engine/eval/tlabel.c), written to
tests/fixtures/labels/ref.safetensors.

Logistic regression as logreg.h defines it, in float64:
    standardize with the rows' mean and population sd (sd < 1e-6 -> 1)
    loss = sum_i c_i BCE(sigmoid(w.z_i + b), y_i) / sum_i c_i + l2/2 |w|^2,
    c_i = n_neg/n_pos for positives, 1 for negatives
    full-batch gradient descent from zero: 200 steps of 0.5, l2 = 1e-3
Metrics: precision / recall / F1 of pred against truth; the threshold of
largest TPR - FPR (Youden's J) over gaps between distinct values (the lower
value of the gap); AUC by the Mann-Whitney rank sum (ties half).
Labels (and y) are stored as F32 0/1. Labels: two documents of hand-made tokens, two units with thresholds; a
token is positive when any unit exceeds its threshold; window:1 grows each
positive to its neighbours; word grows it to the word (a token continues a
word when its first byte and the byte before it are alphanumeric).

    /usr/bin/python3 tools/gen_label_fixture.py [--out tests/fixtures/labels]
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_io  # noqa: E402


def fit(X, y, iters=200, lr=0.5, l2=1e-3):
    X = X.astype(np.float64)
    mu = X.mean(0)
    sd = np.sqrt(((X - mu) ** 2).mean(0))
    sd[sd < 1e-6] = 1.0
    Z = (X - mu) / sd
    pos = y.sum()
    pw = (len(y) - pos) / pos
    c = np.where(y == 1, pw, 1.0)
    w = np.zeros(X.shape[1])
    b = 0.0

    def loss_grad(w, b):
        s = Z @ w + b
        p = 1 / (1 + np.exp(-s))
        loss = (c * (np.logaddexp(0, s) - y * s)).sum() / c.sum() + 0.5 * l2 * (w @ w)
        r = c * (p - y) / c.sum()
        return loss, Z.T @ r + l2 * w, r.sum()

    for _ in range(iters):
        _, gw, gb = loss_grad(w, b)
        w, b = w - lr * gw, b - lr * gb
    loss, _, _ = loss_grad(w, b)
    prob = 1 / (1 + np.exp(-(Z @ w + b)))
    return w, b, mu, sd, loss, prob


def prf(pred, truth):
    tp = int((pred & truth).sum()); fp = int((pred & ~truth).sum()); fn = int((~pred & truth).sum())
    return tp / (tp + fp), tp / (tp + fn), 2 * tp / (2 * tp + fp + fn)


def best_threshold(v, y):
    P = y.sum(); N = len(y) - P
    order = sorted(set(v.tolist()), reverse=True)
    best, thr = 0.0, order[0]
    for i, t in enumerate(order):  # predict v >= t, i.e. v > next lower value
        pred = v >= t
        j = (pred & (y == 1)).sum() / P - (pred & (y == 0)).sum() / N
        lower = order[i + 1] if i + 1 < len(order) else t - 1
        if j > best:
            best, thr = j, lower
    return thr, best


def auc(s, y):
    pos = s[y == 1]; neg = s[y == 0]
    gt = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return gt / (len(pos) * len(neg))


def labels():
    # documents as lists of tokens (their concatenation is the text)
    docs = [["The", " ban", "ana", " is", " ripe", ".", " Eat", " it"],
            ["Apple", "s", " and", " pe", "ars", "!", " ok"]]
    V = np.array([[0.1, 0.0], [0.2, 0.0], [0.9, 0.0], [0.0, 0.0], [0.0, 0.3], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0],
                  [0.0, 0.0], [0.6, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.8], [0.0, 0.0], [0.0, 0.0]])
    thr = np.array([0.5, 0.5])
    raw = (V > thr).any(1).astype(np.uint8)
    out = {"none": raw.copy()}
    win = raw.copy(); wrd = raw.copy()
    start = 0
    for d in docs:
        n = len(d); idx = range(start, start + n)
        text = "".join(d)
        offs = np.cumsum([0] + [len(t) for t in d])[:-1]
        for t in idx:
            win[t] = raw[max(start, t - 1):min(start + n, t + 2)].any()
        cont = [k > 0 and text[offs[k]].isalnum() and text[offs[k] - 1].isalnum() for k in range(n)]
        k = 0
        while k < n:
            e = k + 1
            while e < n and cont[e]:
                e += 1
            wrd[start + k:start + e] = raw[start + k:start + e].any()
            k = e
        start += n
    out["window"] = win; out["word"] = wrd
    return V, thr, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/fixtures/labels")
    a = ap.parse_args()
    rng = np.random.default_rng(16)
    n, d = 60, 6
    X = rng.normal(size=(n, d)).astype(np.float32)
    X[:, 4] *= 10; X[:, 5] = 2.0  # a wide column and a constant one
    y = (X[:, 0] + 0.5 * X[:, 1] - 0.1 * X[:, 4] + rng.normal(scale=0.7, size=n) > 0.6).astype(np.uint8)
    w, b, mu, sd, loss, prob = fit(X, y.astype(np.float64))
    pred = prob > 0.5
    p, r, f1 = prf(pred, y == 1)
    v = np.round(X[:, 0], 1).astype(np.float32)  # with ties
    thr, J = best_threshold(v.astype(np.float64), y)
    V, uthr, lab = labels()
    os.makedirs(a.out, exist_ok=True)
    st_io.save(os.path.join(a.out, "ref.safetensors"), {
        "X": X, "y": y.astype(np.float32), "w": w.astype(np.float32), "b": np.array([b], np.float32),
        "mu": mu.astype(np.float32), "sd": sd.astype(np.float32), "loss": np.array([loss], np.float32),
        "prob": prob.astype(np.float32),
        "prf": np.array([p, r, f1], np.float32), "v": v, "thr": np.array([thr, J], np.float32),
        "auc": np.array([auc(v.astype(np.float64), y)], np.float32),
        "V": V.astype(np.float32), "unit_thr": uthr.astype(np.float32),
        "lab_none": lab["none"].astype(np.float32), "lab_window": lab["window"].astype(np.float32),
        "lab_word": lab["word"].astype(np.float32)})
    print("wrote", os.path.join(a.out, "ref.safetensors"), "loss %.6f F1 %.3f thr %.2f J %.3f" % (loss, f1, thr, J))


if __name__ == "__main__":
    main()
