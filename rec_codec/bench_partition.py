"""The steps-vs-KL study of space partitioning: ``reccodec bench steps --study partition``.

He, Flamich & Hernandez-Lobato (NeurIPS 2024), synthetic study: 5-D Gaussians with one
collapsed dimension. A latent Z ~ N(0, 1) per dimension is observed as X_d = Z_d +
N(0, tau_d^2); the target is the exact posterior of Z given one X, the prior N(0, 1).
tau_d gives dimension d the mutual information I_d = 1/2 log2(1 + 1/tau_d^2), a share
``MI_SHARES`` of the total I; the collapsed dimension (share 0) has I_d = 0 and Q_d = P_d.
The MI profile (I_d) is what both sides hold.

Three parts, every figure measured in the run that reports it:

(a) mean and median steps against D_inf: D_inf(Q||P) for PFR, D_inf(Q||P') for SP-PFR;
(b) payload bits per block against I for both;
(c) ORC and SP-ORC: the fewest candidates N (powers of two) for which the MMD between the
    encoded samples of one target and that target stays under each threshold.

The MMD uses a Gaussian kernel of unit width on the samples standardised by Q, with the
unbiased estimator and the two terms that involve Q in closed form; with n samples its
noise is about 1/n in MMD^2, so thresholds near sqrt(1/n) are at the noise floor.
"""

import math
import time

import numpy as np

from . import codec
from .distributions import DiagonalGaussian, dinf_bits, kl_bits, standard_normal_like
from .partition import allocate_bins, partitioned_dinf_bits
from .blocks import layout_fixed

__all__ = ["STUDY_COLUMNS", "MI_SHARES", "MMD_THRESHOLDS", "synthetic_posteriors", "mmd_to_standard_normal",
           "partition_study", "plot_partition_study"]

STUDY_COLUMNS = ("part", "algorithm", "dims", "mi_bits", "kl_bits", "dinf_bits", "blocks", "mean_steps",
                 "median_steps", "mean_bits", "candidates", "mmd_threshold", "mmd", "encode_seconds")
MI_SHARES = (0.3, 0.25, 0.2, 0.25, 0.0)
MMD_THRESHOLDS = (0.006, 0.009, 0.012)


def synthetic_posteriors(mi_bits, count, seed=0, shares=MI_SHARES):
    """``count`` exact posteriors of the synthetic model, and its MI profile.

    Args:
        mi_bits (float): total mutual information I in bits.
        count (int): targets (independent observations X).
        seed (int): seed of the observations.
        shares (tuple of float): share of I of each dimension (0 = collapsed).
    Returns:
        (DiagonalGaussian of shape (count, d), np.ndarray profile of shape (d,)).
    """
    shares = np.asarray(shares, dtype=np.float64)
    mi = mi_bits * shares / shares.sum()
    g = np.random.default_rng(seed)
    z = g.normal(size=(count, mi.size))
    mean = np.zeros((count, mi.size))
    std = np.ones((count, mi.size))
    live = mi > 0
    tau2 = 1.0 / np.expm1(2.0 * mi[live] * math.log(2.0))
    x = z[:, live] + g.normal(size=(count, int(live.sum()))) * np.sqrt(tau2)
    mean[:, live] = x / (1.0 + tau2)
    std[:, live] = np.sqrt(tau2 / (1.0 + tau2))
    return DiagonalGaussian(mean, std), mi


def mmd_to_standard_normal(y, width=1.0):
    """Unbiased MMD (sqrt of MMD^2, floored at 0) between samples y (n, d) and N(0, I)."""
    n, d = y.shape
    h2 = width * width
    sq = (y * y).sum(axis=1)
    gram = np.exp(-(sq[:, None] + sq[None, :] - 2.0 * y @ y.T) / (2.0 * h2))
    within = (gram.sum() - np.trace(gram)) / (n * (n - 1))
    cross = (h2 / (h2 + 1.0)) ** (d / 2) * np.exp(-sq / (2.0 * (h2 + 1.0))).mean()
    both = (h2 / (h2 + 2.0)) ** (d / 2)
    return math.sqrt(max(within - 2.0 * cross + both, 0.0))


def _encode_rows(part, algorithm, targets, profile, mi_bits, seed, orc_candidates=None):
    count, dims = targets.shape
    flat = DiagonalGaussian(targets.mean.ravel(), targets.std.ravel())
    prior = standard_normal_like(flat.shape)
    sp = algorithm.startswith("sp-")
    started = time.perf_counter()
    result = codec.encode(flat, seed, algorithm=algorithm, block_dims=dims, orc_candidates=orc_candidates,
                          mi_profile=np.tile(profile, count) if sp else None)
    seconds = time.perf_counter() - started
    layout = layout_fixed(flat.size, dims)
    if sp:
        nbins = allocate_bins(np.tile(profile, count), layout)
        dinf = partitioned_dinf_bits(flat, prior, nbins, layout).mean()
    else:
        dinf = layout.block_sums(dinf_bits(flat, prior)).mean()
    row = {
        "part": part, "algorithm": algorithm, "dims": dims, "mi_bits": round(float(mi_bits), 2),
        "kl_bits": round(float(kl_bits(flat, prior).sum() / count), 3), "dinf_bits": round(float(dinf), 3),
        "blocks": count, "mean_steps": round(float(result.steps.mean()), 1),
        "median_steps": float(np.median(result.steps)), "mean_bits": round(result.payload_bits / count, 3),
        "encode_seconds": round(seconds, 4),
    }
    return row, result


def partition_study(mi_values=(2, 4, 6, 8, 10, 12, 14, 16), blocks=200, seed=0, mmd_mi_values=(4, 8, 12),
                    mmd_blocks=1000, thresholds=MMD_THRESHOLDS, max_log2_candidates=24, progress=None):
    """Rows of parts (a)+(b) ("steps") and (c) ("mmd") of the synthetic study.

    Args:
        mi_values (list of float): total I per 5-D block for (a) and (b).
        blocks (int): independent targets per I for (a) and (b).
        seed (int): seed of the targets and of the codec.
        mmd_mi_values (list of float): I values for (c); empty to skip it.
        mmd_blocks (int): encoded samples of one target per candidate count in (c).
        thresholds (tuple of float): MMD thresholds of (c).
        max_log2_candidates (int): largest log2 N tried in (c).
        progress (callable or None): progress(message) between measurements.
    Returns:
        list of dict rows with keys among STUDY_COLUMNS (``mmd`` and ``candidates`` only
        in (c); there ``mean_bits`` and ``mean_steps`` are those at the N found).
    """
    rows = []
    for mi in mi_values:
        targets, profile = synthetic_posteriors(mi, blocks, seed=seed + int(round(mi * 100)))
        for algorithm in ("pfr", "sp-pfr"):
            if progress:
                progress(f"steps: {algorithm} at I = {mi} bits")
            rows.append(_encode_rows("steps", algorithm, targets, profile, mi, seed)[0])
    for mi in mmd_mi_values:
        one, profile = synthetic_posteriors(mi, 1, seed=seed + 7 + int(round(mi * 100)))
        targets = DiagonalGaussian(np.repeat(one.mean, mmd_blocks, axis=0), np.repeat(one.std, mmd_blocks, axis=0))
        exact_row, exact = _encode_rows("mmd", "sp-pfr", targets, profile, mi, seed)
        floor = mmd_to_standard_normal(((exact.sample - targets.mean.ravel()) / targets.std.ravel()).reshape(-1, 5))
        rows.append({**exact_row, "algorithm": "sp-pfr (exact floor)", "mmd": round(floor, 5)})
        for algorithm in ("orc", "sp-orc"):
            pending = sorted(thresholds)
            for log2n in range(0, max_log2_candidates + 1):
                if progress:
                    progress(f"mmd: {algorithm} at I = {mi} bits, N = 2^{log2n}")
                row, result = _encode_rows("mmd", algorithm, targets, profile, mi, seed, orc_candidates=2**log2n)
                y = ((result.sample - targets.mean.ravel()) / targets.std.ravel()).reshape(-1, 5)
                mmd = mmd_to_standard_normal(y)
                while pending and mmd < pending[-1]:
                    rows.append({**row, "candidates": 2**log2n, "mmd_threshold": pending.pop(), "mmd": round(mmd, 5)})
                if not pending:
                    break
            for threshold in pending:
                rows.append({"part": "mmd", "algorithm": algorithm, "dims": 5, "mi_bits": mi,
                             "candidates": "not reached", "mmd_threshold": threshold})
    return rows


def plot_partition_study(rows, path):
    """Three panels: steps against D_inf (log), bits against I, ORC candidates against KL (log)."""
    from .bench import _pyplot

    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    colours = {"pfr": "tab:blue", "sp-pfr": "tab:red", "orc": "tab:blue", "sp-orc": "tab:red"}
    steps = [r for r in rows if r["part"] == "steps"]
    ax = axes[0]
    for algorithm in ("pfr", "sp-pfr"):
        mine = sorted((r for r in steps if r["algorithm"] == algorithm), key=lambda r: r["dinf_bits"])
        if not mine:
            continue
        x = [r["dinf_bits"] for r in mine]
        ax.plot(x, [r["mean_steps"] for r in mine], "o-", color=colours[algorithm], label=f"{algorithm} mean")
        ax.plot(x, [r["median_steps"] for r in mine], "s--", color=colours[algorithm], alpha=0.6,
                label=f"{algorithm} median")
    if steps:
        grid = np.linspace(0, max(r["dinf_bits"] for r in steps), 50)
        ax.plot(grid, 2**grid, "k:", label="2^D_inf")
    ax.set_yscale("log")
    ax.set_xlabel("D_inf [bits]: (Q||P) for PFR, (Q||P') for SP-PFR")
    ax.set_ylabel("steps (candidates drawn)")
    ax.set_title("(a) steps against D_inf")
    ax.legend(fontsize=8)
    ax = axes[1]
    for algorithm in ("pfr", "sp-pfr"):
        mine = sorted((r for r in steps if r["algorithm"] == algorithm), key=lambda r: r["mi_bits"])
        if mine:
            ax.plot([r["mi_bits"] for r in mine], [r["mean_bits"] for r in mine], "o-", color=colours[algorithm],
                    label=algorithm)
    if steps:
        mis = sorted({r["mi_bits"] for r in steps})
        ax.plot(mis, mis, "k:", label="I")
    ax.set_xlabel("mutual information I [bits]")
    ax.set_ylabel("payload bits per block")
    ax.set_title("(b) bits against I")
    ax.legend(fontsize=8)
    ax = axes[2]
    found = [r for r in rows if r["part"] == "mmd" and isinstance(r.get("candidates"), int)]
    markers = {0.006: "o", 0.009: "s", 0.012: "^"}
    for algorithm in ("orc", "sp-orc"):
        for threshold in sorted({r["mmd_threshold"] for r in found}):
            mine = sorted((r for r in found if r["algorithm"] == algorithm and r["mmd_threshold"] == threshold),
                          key=lambda r: r["kl_bits"])
            if mine:
                ax.plot([r["kl_bits"] for r in mine], [r["candidates"] for r in mine],
                        marker=markers.get(threshold, "o"), color=colours[algorithm],
                        alpha=0.5 + 0.5 * (threshold == min(markers)), label=f"{algorithm} MMD<{threshold}")
    ax.set_yscale("log", base=2)
    ax.set_xlabel("KL(Q||P) [bits]")
    ax.set_ylabel("candidates N needed")
    ax.set_title("(c) ORC candidates for an MMD bound")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "no threshold reached\n(MMD noise floor)", ha="center", transform=ax.transAxes)
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle("5-D Gaussian posteriors, one collapsed dimension: PFR vs space-partitioned PFR")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
