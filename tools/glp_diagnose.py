#!/usr/bin/python3
"""glp_diagnose.py — the measurements behind docs/glp-quality.md (numpy only;
run with /usr/bin/python3, which has Debian's python3-numpy).

  harvest DIR            what a harvest holds: norms by position and for EOS
                         rows, and what the EOS rows do to the mean/var
  samples FILE DIR STATS GLP samples (`sample N --out FILE`, raw space) against
                         the last 10000 rows of harvest DIR, in the normalized
                         space of STATS (a rep_statistics.safetensors): FD,
                         per-dimension variance ratio, norm percentiles
  euler DIR              the FD that Euler sampling on linspace(1, 0.001, n)
                         alone costs when the data is Gaussian with DIR's
                         covariance and the denoiser is exact
  ceiling TRAIN TEST     FD to the last 10000 TEST rows (A) of: the 10000
                         before them (B, the floor), a Gaussian fitted on B
                         (eval-glp's baseline), 10000 TRAIN rows (a perfect
                         model of the training distribution) and a Gaussian
                         fitted on TRAIN; normalized by TRAIN's statistics
                         (its first two shards)

Harvest shards are lz4 frames; they are decompressed with the lz4 command.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_io  # noqa: E402

EOS = 4095  # the default tokenizer's <|endoftext|>


def shard(path):
    if path.endswith(".lz4"):
        with tempfile.NamedTemporaryFile(suffix=".safetensors") as t:
            subprocess.run(["lz4", "-d", "-f", "-q", path, t.name], check=True)
            return st_io.load_numpy(t.name)
    return st_io.load_numpy(path)


def harvest(d, shards=None):
    m = json.load(open(os.path.join(d, "manifest.json")))
    names = m["shards"] if shards is None else m["shards"][:shards]
    parts = [shard(os.path.join(d, n)) for n in names]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def fd(a, b):
    ma, mb = a.mean(0), b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    ev = np.sqrt(np.clip(np.linalg.eigvals(ca @ cb).real, 0, None)).sum()
    return ((ma - mb) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2 * ev


def cmd_harvest(d):
    h = harvest(d)
    a, tok, pos = h["acts"].astype(np.float64), h["tokens"], h["pos"]
    n = np.linalg.norm(a, axis=1)
    eos = tok == EOS
    print(f"{len(a)} rows; positions {pos.min()}..{pos.max()}; EOS rows {eos.sum()} ({100 * eos.mean():.2f}%)")
    for p in [1, 2, 4, 16, 64, 255]:
        print(f"  position {p:3d}: mean norm {n[pos == p].mean():6.1f} ({(pos == p).sum()} rows)")
    if eos.any():
        print(f"  EOS rows: mean norm {n[eos].mean():.1f}; other rows {n[~eos].mean():.1f}")
        big = n > 150
        print(f"  rows with norm > 150: {big.sum()}, of which EOS {(big & eos).sum()}")
        v_all, v_not = a.var(0), a[~eos].var(0)
        r = v_all / v_not
        print(f"  sum of variances: all rows {v_all.sum():.0f}, without EOS {v_not.sum():.0f}")
        print(f"  per-dimension variance with / without EOS: median {np.median(r):.2f}, max {r.max():.1f}"
              f" (dims {', '.join(str(i) for i in np.argsort(-r)[:4])})")
        shift = np.abs(a.mean(0) - a[~eos].mean(0)) / np.sqrt(v_not)
        print(f"  mean shift |mu_all - mu_without| / sd_without: max {shift.max():.2f}")
        z = (a - a[~eos].mean(0)) / np.sqrt(v_not)
        print(f"  normalized by the EOS-free statistics: mean squared value per dimension {(z[eos] ** 2).mean():.1f}"
              f" for EOS rows, {(z[~eos] ** 2).mean():.2f} for the others")


def cmd_samples(path, d, stats):
    S = st_io.load_numpy(path)["samples"].astype(np.float64)
    R = harvest(d)["acts"].astype(np.float64)[-10000:]
    st = st_io.load_numpy(stats)
    mu, sd = st["mean"].astype(np.float64), np.sqrt(st["var"].astype(np.float64))
    zs, zr = (S - mu) / sd, (R - mu) / sd
    print(f"{len(S)} samples vs the last {len(R)} rows of {d}")
    print(f"  FD {fd(zs, zr):.3f}; total variance samples {zs.var(0).sum():.1f}, real {zr.var(0).sum():.1f}")
    vr = zs.var(0) / zr.var(0)
    print(f"  per-dimension variance samples / real: median {np.median(vr):.3f}, 10% {np.percentile(vr, 10):.3f},"
          f" 90% {np.percentile(vr, 90):.3f}")
    q = [1, 10, 50, 90, 99, 99.9]
    print("  norm percentiles", q)
    print("    samples", np.round(np.percentile(np.linalg.norm(S, axis=1), q), 1))
    print("    real   ", np.round(np.percentile(np.linalg.norm(R, axis=1), q), 1))


def euler_gain(lam, n):
    """Per eigen-direction gain of n Euler steps of the exact flow of N(0, lam)."""
    grid = list(np.linspace(1, 0.001, n)) + [0.0]
    a = np.ones_like(lam)
    for s, t in zip(grid[:-1], grid[1:]):
        x0 = (1 - s) * lam / ((1 - s) ** 2 * lam + s ** 2)  # E[x0 | x_s] = x0 * x_s
        a = a * (1 + (t - s) * (1 - x0) / s)  # v = (x_s - x0) / s
    return a


def cmd_euler(d):
    a = harvest(d)["acts"].astype(np.float64)
    z = (a - a.mean(0)) / a.std(0)
    lam = np.linalg.eigvalsh(np.cov(z, rowvar=False))
    print(f"covariance of {d} (normalized): eigenvalues {lam.min():.3f}..{lam.max():.2f}")
    for n in [10, 20, 50, 100, 1000]:
        g = euler_gain(lam, n)
        # samples have variance g^2 (from unit noise) where the data has lam
        fdn = ((np.abs(g) - np.sqrt(lam)) ** 2).sum()
        print(f"  Euler {n:4d} steps: FD {fdn:.3f}, variance kept {(g ** 2).sum() / lam.sum():.3f}")


def cmd_ceiling(train, test):
    T = harvest(train, shards=2)["acts"].astype(np.float64)
    E = harvest(test)["acts"].astype(np.float64)
    mu, sd = T.mean(0), T.std(0)
    z = lambda X: (X - mu) / sd  # noqa: E731
    A, B, Tz = z(E[-10000:]), z(E[-20000:-10000]), z(T)
    rng = np.random.default_rng(0)
    gauss = lambda X: rng.multivariate_normal(X.mean(0), np.cov(X, rowvar=False), 10000)  # noqa: E731
    print(f"A = last 10000 rows of {test}, B = the 10000 before; normalized by {len(T)} rows of {train}")
    print(f"  B (floor)                         {fd(B, A):.3f}")
    print(f"  Gaussian fitted on B (baseline)   {fd(gauss(B), A):.3f}")
    print(f"  10000 training rows               {fd(Tz[rng.choice(len(Tz), 10000, replace=False)], A):.3f}")
    print(f"  Gaussian fitted on training rows  {fd(gauss(Tz), A):.3f}")


if __name__ == "__main__":
    cmds = {"harvest": cmd_harvest, "samples": cmd_samples, "euler": cmd_euler, "ceiling": cmd_ceiling}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]](*sys.argv[2:])
