"""Regenerate x.npy, y.npy and model.json: a source and side information for Wyner-Ziv coding.

X ~ N(0, 1) and Y = X + N(0, 0.5): the decoder holds y, the encoder only x. model.json
names the source and the scheme (nested scalar quantization); `reccodec wz design` fills
in its parameters for a rate.

    python make_example.py
"""

import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    rng = np.random.default_rng(11)
    x = rng.normal(0.0, 1.0, 10_000)
    y = x + rng.normal(0.0, np.sqrt(0.5), x.shape)
    np.save(os.path.join(HERE, "x.npy"), x)
    np.save(os.path.join(HERE, "y.npy"), y)
    model = {"scheme": "nsq", "source": {"relation": "y = x + n", "var_x": 1.0, "var_n": 0.5}}
    with open(os.path.join(HERE, "model.json"), "w") as f:
        json.dump(model, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
