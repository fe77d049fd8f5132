"""Regenerate values.npz: 4,096 latent values y with a Gaussian prior per element.

Like the output of a learned analysis transform with a hyperprior: each element has its own
predicted mean and scale, and y is drawn from that prior.

    python make_example.py
"""

import os

import numpy as np


def main():
    rng = np.random.default_rng(7)
    mean = rng.normal(0.0, 3.0, 4096)
    std = rng.uniform(0.3, 4.0, 4096)
    y = rng.normal(mean, std)
    np.savez(os.path.join(os.path.dirname(os.path.abspath(__file__)), "values.npz"), y=y, mean=mean, std=std)


if __name__ == "__main__":
    main()
