"""Rank-normalised split R-hat and bulk / tail ESS (Vehtari et al. 2021), for many parameters at once.

The numbers are ArviZ's ``rhat(method="rank")``, ``ess(method="bulk")`` and ``ess(method="tail")``
(``tests/test_convergence.py`` checks them to 1e-8 against ArviZ), computed on a
``(chain, draw, parameter)`` array with one vectorised pass instead of ArviZ's Python loop over
scalars. A model with 4,100 group effects, 4 chains and 1,000 draws: 15.5 s in ArviZ 1.3, 2.9 s
here (2 cores). :func:`glmm_bayes.inference.diagnose` uses it on every parameter and standardised effect.

Example::

    >>> import numpy as np
    >>> draws = np.random.default_rng(0).normal(size=(4, 500, 3))
    >>> rhat, ess_bulk, ess_tail = rank_diagnostics(draws)
    >>> bool(np.all(rhat < 1.01)), bool(np.all(ess_bulk > 1000))
    (True, True)
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy import special, stats
from scipy.fft import next_fast_len

BLOCK = 256  # parameters per vectorised pass: bounds memory at ~ chains × draws × BLOCK × 64 bytes


def rank_diagnostics(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R-hat, bulk ESS and tail ESS of every column of ``draws`` (chain, draw, parameter).

    A parameter with a NaN draw gets NaN (as in ArviZ); R-hat is NaN with one chain."""
    draws = np.asarray(draws, dtype=float)
    k = draws.shape[2]
    out = np.full((3, k), np.nan)

    def run(start: int) -> None:
        # parameter-major copy: every sort, FFT and reduction below runs along contiguous memory
        block = np.ascontiguousarray(np.moveaxis(draws[:, :, start:start + BLOCK], 2, 0))
        valid = ~np.isnan(block).any(axis=(1, 2))
        if valid.any():
            out[:, start:start + BLOCK][:, valid] = _block_diagnostics(block[valid])

    starts = range(0, k, BLOCK)
    if len(starts) == 1:
        run(0)
    else:  # NumPy's sorts and FFTs release the GIL: blocks run in parallel threads
        with ThreadPoolExecutor(max_workers=min(len(starts), os.cpu_count() or 1)) as pool:
            list(pool.map(run, starts))
    return out[0], out[1], out[2]


def _block_diagnostics(x: np.ndarray) -> np.ndarray:
    """(3, k) R-hat, bulk ESS, tail ESS of ``x`` (parameter, chain, draw)."""
    k, chains, draws = x.shape
    if draws < 4:
        return np.stack([np.full(k, np.nan)] * 3)
    split = split_chains(x)
    z_split = z_scale(split)
    if chains > 1:
        median = np.median(split.reshape(k, -1), axis=1)
        bulk = _rhat(z_split)
        folded = _rhat(z_scale(np.abs(split - median[:, None, None])))
        rhat = np.where(folded > bulk, folded, bulk)
    else:
        rhat = np.full(k, np.nan)
    ess_bulk = ess(z_split)
    low, high = np.quantile(x.reshape(k, -1), tail_probs(), axis=1)
    ess_tail = np.minimum(ess(split_chains((x <= low[:, None, None]).astype(float))),
                          ess(split_chains((x <= high[:, None, None]).astype(float))))
    return np.stack([rhat, ess_bulk, ess_tail])


def tail_probs() -> tuple[float, float]:
    """The quantiles tail ESS looks at: ArviZ's, (1 - p, p) with p its ``stats.ci_prob`` setting
    (0.89 by default), so these diagnostics agree with ``az.summary``'s ``ess_tail`` column."""
    from arviz_stats.validate import validate_ci_prob

    prob = validate_ci_prob(None)
    return min(prob, 1 - prob), max(prob, 1 - prob)


def split_chains(x: np.ndarray) -> np.ndarray:
    """(k, chain, draw) → (k, 2·chain, draw // 2): first and last halves of each chain (the middle
    draw of an odd-length chain is left out)."""
    half = x.shape[2] // 2
    return np.concatenate([x[:, :, :half], x[:, :, x.shape[2] - half:]], axis=1)


def z_scale(x: np.ndarray) -> np.ndarray:
    """Normal scores of the ranks over all chains and draws, per parameter (Blom's offset 3/8)."""
    k, chains, draws = x.shape
    n = chains * draws
    return special.ndtri((average_ranks(x.reshape(k, n)) - 3 / 8) / (n + 1 / 4)).reshape(x.shape)


def average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n along each row, ties sharing their average rank (``scipy.stats.rankdata``'s
    "average"); rows without ties skip scipy's tie bookkeeping."""
    order = np.argsort(x, axis=1)
    tied = (np.diff(np.take_along_axis(x, order, axis=1), axis=1) == 0).any(axis=1)
    ranks = np.empty(x.shape)
    np.put_along_axis(ranks, order, np.broadcast_to(np.arange(1.0, x.shape[1] + 1), x.shape), axis=1)
    if tied.any():
        ranks[tied] = stats.rankdata(x[tied], method="average", axis=1)
    return ranks


def _rhat(x: np.ndarray) -> np.ndarray:
    draws = x.shape[2]
    between = draws * x.mean(axis=2).var(axis=1, ddof=1)
    within = x.var(axis=2, ddof=1).mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt((between / within + draws - 1) / draws)


def ess(x: np.ndarray) -> np.ndarray:
    """Effective sample size of each parameter of ``x`` (k, chain, draw): autocorrelations by FFT,
    truncated by Geyer's initial positive and monotone sequences (ArviZ's ``_ess``)."""
    k, chains, draws = x.shape
    size = chains * draws
    rho = _autocorrelation(x)
    rho_t, max_t = _geyer(rho)
    partial = np.cumsum(rho_t, axis=0)
    cols = np.arange(k)
    head = np.where(max_t >= 0, partial[np.maximum(max_t, 0), cols], 0.0)
    nxt = np.where(max_t + 1 < draws, rho_t[np.minimum(max_t + 1, draws - 1), cols], 0.0)
    tau = np.maximum(-1.0 + 2.0 * head + nxt, 1 / np.log10(size))
    out = size / tau
    out[np.isnan(rho_t).any(axis=0)] = np.nan
    constant = (x.max(axis=(1, 2)) - x.min(axis=(1, 2))) < np.finfo(float).resolution
    out[constant] = size
    return out


def _autocorrelation(x: np.ndarray) -> np.ndarray:
    """ρ̂_t (draw, k) of the combined chains (Vehtari et al. 2021, eq. 10); ρ̂_0 = 1."""
    _, chains, draws = x.shape
    n_fft = next_fast_len(2 * draws)
    chain_mean = x.mean(axis=2)
    spectrum = np.fft.rfft(x - chain_mean[:, :, None], n=n_fft, axis=2)
    spectrum *= np.conjugate(spectrum)
    mean_acov = np.fft.irfft(spectrum, n=n_fft, axis=2)[:, :, :draws].mean(axis=1).T / draws
    mean_var = mean_acov[0] * draws / (draws - 1.0)
    var_plus = mean_var * (draws - 1.0) / draws
    if chains > 1:
        var_plus = var_plus + chain_mean.var(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = 1.0 - (mean_var - mean_acov) / var_plus
    rho[0] = 1.0
    return rho


def _geyer(rho: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Geyer's initial positive then monotone sequence, column by column as ArviZ's loop does it,
    but stepping all columns together. Returns the truncated ρ̂ and each column's last lag ``max_t``."""
    draws, k = rho.shape
    rho_t = np.zeros_like(rho)
    rho_t[0] = 1.0
    rho_t[1] = rho[1]
    even, odd = np.ones(k), rho[1].copy()
    t_end = np.ones(k, dtype=int)
    active = np.ones(k, dtype=bool)
    t = 1
    while t < draws - 3:  # initial positive sequence: pairs (t+1, t+2) while the previous pair sum > 0
        active &= (even + odd) > 0
        if not active.any():
            break
        even = np.where(active, rho[t + 1], even)
        odd = np.where(active, rho[t + 2], odd)
        keep = active & (even + odd >= 0)
        rho_t[t + 1] = np.where(keep, even, rho_t[t + 1])
        rho_t[t + 2] = np.where(keep, odd, rho_t[t + 2])
        t_end[active] = t + 2
        t += 2
    max_t = t_end - 2
    positive = even > 0
    rho_t[max_t[positive] + 1, np.flatnonzero(positive)] = even[positive]
    for t in range(1, int(max_t.max()) - 1, 2):  # initial monotone sequence
        inside = t <= max_t - 2
        previous = rho_t[t - 1] + rho_t[t]
        fix = inside & (rho_t[t + 1] + rho_t[t + 2] > previous)
        rho_t[t + 1] = np.where(fix, previous / 2.0, rho_t[t + 1])
        rho_t[t + 2] = np.where(fix, previous / 2.0, rho_t[t + 2])
    return rho_t, max_t
