"""Mergeable Gaussian statistics (float64) and the Fréchet distance (FID/FVD).

The Fréchet distance equals pytorch-fid's ``calculate_frechet_distance`` but does not use
``scipy.linalg.sqrtm(disp=...)`` (removed in SciPy 1.18): tr sqrt(S1 S2) is the sum of the
square roots of the eigenvalues of S1 S2 (principal branch), which is the trace of the
principal matrix square root that pytorch-fid takes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class GaussianStats:
    """Running mean and scatter matrix (Chan et al. pairwise update), all float64.

    Equal to one-shot ``np.mean(x, 0)`` / ``np.cov(x, rowvar=False)`` up to rounding, whatever
    the batching, and two instances merge (e.g. per-worker statistics).
    """

    dim: int
    n: int = 0
    mean: np.ndarray | None = None  # (D,)
    scatter: np.ndarray | None = None  # (D, D) sum of centred outer products

    def update(self, feats: np.ndarray) -> GaussianStats:
        """Add a batch of features (B, D)."""
        x = np.asarray(feats, dtype=np.float64).reshape(-1, self.dim)
        if len(x) == 0:
            return self
        mean_b = x.mean(axis=0)
        xc = x - mean_b
        return self.merge(GaussianStats(self.dim, len(x), mean_b, xc.T @ xc))

    def merge(self, other: GaussianStats) -> GaussianStats:
        """Fold ``other`` into self (in place) and return self."""
        if other.n == 0:
            return self
        if self.n == 0:
            self.n, self.mean, self.scatter = other.n, other.mean.copy(), other.scatter.copy()
            return self
        n = self.n + other.n
        delta = other.mean - self.mean
        self.scatter = self.scatter + other.scatter + np.outer(delta, delta) * (self.n * other.n / n)
        self.mean = self.mean + delta * (other.n / n)
        self.n = n
        return self

    def cov(self) -> np.ndarray:
        """Sample covariance (ddof=1), as ``np.cov(rowvar=False)``."""
        if self.n < 2:
            raise ValueError(f"need at least 2 samples for a covariance, got {self.n}")
        return self.scatter / (self.n - 1)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1-mu2||^2 + tr(S1) + tr(S2) - 2 tr sqrt(S1 S2), in float64."""
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    s1, s2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape:
        raise ValueError(f"shape mismatch: {mu1.shape} vs {mu2.shape}, {s1.shape} vs {s2.shape}")
    eig = np.linalg.eigvals(s1 @ s2)  # (D,) complex in general; real >= 0 up to rounding
    tr_covmean = float(np.sum(np.sqrt(eig.astype(np.complex128))).real)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)


def stats_distance(a: GaussianStats, b: GaussianStats) -> float:
    """Fréchet distance between two accumulated feature sets."""
    return frechet_distance(a.mean, a.cov(), b.mean, b.cov())
