"""Write the digits VAE's posteriors as the .npz files reccodec reads.

    python export.py OUT    ->  OUT/train.npz (1497 items), OUT/test.npz (300), OUT/one.npz (test item 0)
"""

import os
import sys

import numpy as np

from rec_codec import digits_vae


def main(out):
    vae = digits_vae.load()
    np.savez(os.path.join(out, "train.npz"), mean=vae.train_mean, std=vae.train_std)
    np.savez(os.path.join(out, "test.npz"), mean=vae.test_mean, std=vae.test_std)
    np.savez(os.path.join(out, "one.npz"), mean=vae.test_mean[0], std=vae.test_std[0])
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
