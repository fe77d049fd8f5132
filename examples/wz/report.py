"""Compare the Wyner-Ziv decoder's MSE with E[X|y] alone and the bounds.

    python report.py X.npy Y.npy XHAT.npy ENCODE.json

For X ~ N(0,1), Y = X + N(0, 0.5): var(X|Y) = 1/3; D_WZ(R) = var(X|Y) 2^-2R and, without
side information, D(R) = 2^-2R.
"""

import json
import math
import sys

import numpy as np


def db(x):
    return 10 * math.log10(x)


def main(x_path, y_path, xhat_path, summary_path):
    x, y, xhat = np.load(x_path), np.load(y_path), np.load(xhat_path)
    with open(summary_path) as f:
        summary = json.load(f)
    rate = summary["payload_bits"] / x.size
    var_xy = 1.0 / 3.0
    mse = float(np.mean((xhat - x) ** 2))
    side_only = float(np.mean((y / 1.5 - x) ** 2))
    print(f"rate              {rate:.3f} bits per sample (payload; header {summary['header_bits']} bits apart)")
    print(f"MSE               {db(mse):7.2f} dB")
    print(f"E[X|y] alone      {db(side_only):7.2f} dB")
    print(f"D_WZ(R) bound     {db(var_xy * 2 ** (-2 * rate)):7.2f} dB")
    print(f"D(R), no y        {db(2 ** (-2 * rate)):7.2f} dB")
    better = mse < side_only
    print(f"binning pays      {'yes' if better else 'NO'}")
    return 0 if better else 1


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
