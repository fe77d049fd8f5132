"""Regenerate target.npz, prior.npz and train.npz: a VAE-like 256-dimension latent.

A latent z ~ N(0, prior_std^2) per dimension is observed through noise of standard deviation
tau_d; the target is the exact Gaussian posterior of z given one observation, so its KL
against the prior is what a VAE would pay for that dimension. A quarter of the dimensions
are collapsed (tau very large: the posterior is the prior and costs nothing). train.npz
holds 32 more posteriors of the same kind, for `reccodec fit-index-model`.

    python make_example.py      # writes the three files next to this script
"""

import os

import numpy as np

DIMS = 256
HERE = os.path.dirname(os.path.abspath(__file__))


def posteriors(rng, prior_std, tau, count):
    z = rng.normal(0.0, prior_std, size=(count, DIMS))
    x = z + rng.normal(0.0, tau, size=(count, DIMS))
    precision = 1.0 / prior_std**2 + 1.0 / tau**2
    std = np.broadcast_to(1.0 / np.sqrt(precision), (count, DIMS))
    mean = x / tau**2 / precision
    return mean, std


def main():
    rng = np.random.default_rng(20261122)
    prior_std = rng.uniform(0.8, 1.2, DIMS)
    tau = rng.uniform(0.05, 0.6, DIMS) * prior_std
    tau[rng.permutation(DIMS)[: DIMS // 4]] = 1e6
    mean, std = posteriors(rng, prior_std, tau, 33)
    np.savez(os.path.join(HERE, "prior.npz"), mean=np.zeros(DIMS), std=prior_std)
    np.savez(os.path.join(HERE, "target.npz"), mean=mean[0], std=std[0])
    np.savez(os.path.join(HERE, "train.npz"), mean=mean[1:], std=std[1:])


if __name__ == "__main__":
    main()
