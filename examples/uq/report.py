"""Report the rate and the quantization error of a universal-quantization round trip.

    python report.py VALUES.npz ENCODE.json YHAT.npy
"""

import json
import sys

import numpy as np


def main(values_path, summary_path, yhat_path):
    y = np.load(values_path)["y"]
    y_hat = np.load(yhat_path)
    with open(summary_path) as f:
        summary = json.load(f)
    error = y_hat - y
    print(f"elements       {y.size}")
    print(f"file           {summary['bits']} bits, {summary['bits'] / y.size:.3f} bits per element")
    print(f"error range    [{error.min():+.4f}, {error.max():+.4f}]  (uniform on [-1/2, 1/2))")
    print(f"error MSE      {np.mean(error**2):.5f}  (1/12 = {1 / 12:.5f})")
    ok = bool(np.all(np.abs(error) <= 0.5))
    print(f"within 1/2     {'yes' if ok else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
