"""The picture of a learned Wyner-Ziv model, as in the talk: encoder and decoder.

Left: the encoder's index u = argmax p(u | x) against x (binning shows as one index on
several separated intervals). Right: the decoder's output g(u, y) against y for the most
used indices. One-dimensional x and y only; needs matplotlib.
"""

import io

import numpy as np

from .errors import InputError

__all__ = ["figure_png"]


def figure_png(model, curves=4, grid=2001):
    """The figure as PNG bytes.

    Args:
        model (LearnedWZ): a one-dimensional model (x and y scalars).
        curves (int): decoder curves to draw, the most frequent indices over the x grid.
        grid (int): points on each axis.
    Returns:
        bytes.
    Raises:
        InputError: a model of vectors, or matplotlib missing.
    """
    if model.dims_x != 1 or model.dims_y != 1:
        raise InputError("wz show --plot draws one-dimensional models only")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError("--plot needs matplotlib: pip install 'reccodec[plot]'") from None
    x_lo, x_hi = model.info.get("x_range", [-3.0, 3.0])
    y_lo, y_hi = model.info.get("y_range", [-3.0, 3.0])
    xs = np.linspace(x_lo, x_hi, grid)
    u = model.indices(xs.reshape(-1, 1))
    ys = np.linspace(y_lo, y_hi, grid)
    q = model.rate_probabilities()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(xs, u, ".", ms=2)
    left.set_xlabel("x")
    left.set_ylabel("index u = argmax p(u|x)")
    left.set_title("encoder")
    left.grid(True, alpha=0.3)
    used = np.argsort(-np.bincount(u, minlength=model.codewords))[:curves]
    for k in sorted(used):
        right.plot(ys, model.reconstruct(np.full(grid, k), ys.reshape(-1, 1))[:, 0], label=f"u={k} (q={q[k]:.2f})")
        inside = xs[u == k]
        right.plot(inside, inside, "k.", ms=1)
    right.set_xlabel("y")
    right.set_ylabel("g(u, y)")
    right.set_title("decoder (black: x on the cells of u)")
    right.grid(True, alpha=0.3)
    right.legend(fontsize=7)
    fig.suptitle(f"learned Wyner-Ziv model {model.model_id}: "
                 f"{model.info.get('heldout_bits', float('nan')):.3f} bits, MSE {model.info.get('heldout_mse', float('nan')):.4g}")
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=110)
    plt.close(fig)
    return out.getvalue()
