"""A learned Wyner-Ziv compressor: encoder, rate model and decoder trained on samples.

The system of Ozyilkan, Ballé & Erkip, "Neural distributed compressor does binning"
(ICML 2023 neural compression workshop; ``seeds/wyner-ziv-binning-talk.txt``): an
unstructured entropy-constrained quantizer with no assumption on the law of (x, y).

- encoder p(u | x): a softmax over K codewords of a small ReLU MLP of x;
- rate model q(u): K learned logits (the marginal formulation L_m: the encoder never
  sees y);
- decoder g(u, y): a small ReLU MLP of (one-hot u, y).

Training minimises L_m = E[log p(u|x)/q(u) + lambda |x - g(u, y)|^2] (natural log) with
plain numpy gradients and Adam. The rate term is the exact expectation over p(.|x) (a
KL divergence); the distortion term decodes a Gumbel-softmax relaxation of a draw of u
(Maddison et al., "The concrete distribution", ICLR 2017) whose temperature anneals
geometrically. After that the encoder is fixed, u = argmax p(u|x) as at test time, q is
refit to the frequencies of those indices (the code the file uses) and the decoder is
fine-tuned on the hard indices. Given a target rate, the encoder's output bias is first
moved along log q until its hard indices spend that many bits on the training split
(the rate at a fixed lambda varies much between trainings, so the rate is set this way
rather than by lambda alone). The encoder's first-layer kinks start at the quantiles of
the training x (``_spread_kinks``).

A *hardened* training (``hardened=True``) changes two things in the joint steps. The
KL rate term lets a soft p(.|x) pass little information cheaply, yet at test time the
encoder is the deterministic argmax, whose rate is E_p[-log q(u)] = KL + H(p(.|x)); so
the encoder's entropy H(p(.|x)) joins the loss with a weight rising from 0 to 1 over the
later joint steps (``HARDENING``): the encoder is soft while it finds its cells, and
pays for its softness by the end. Lambda rises from a quarter of its value (``LAMBDA_RISE``),
so that the early, soft encoder spreads its indices over x before the distortion
dominates. ``train_for_rate`` runs several trainings, plain and hardened, on ladders of
lambdas below the quadratic-Gaussian slope, each with its own seed, and keeps the best
held-out MSE at the rate. For one-dimensional x and y the search also fits one model of
another architecture, a nested quantizer decoded under a fitted density (``wz_modulo``),
which competes on the same held-out MSE; ``info["architecture"]`` says which kind a model
is ("mlp" when absent).

A model file is one ``.npz`` of plain arrays (``numpy.load`` reads it) with a
``description`` entry: UTF-8 JSON holding the kind, the sizes, the training figures and
an ``id``, a BLAKE2b digest of the arrays that doubles as a checksum. The zip entries
carry no time stamps, so saving a loaded model gives the same bytes. Coding needs
numpy and constriction only.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import time
import zipfile
from dataclasses import dataclass

import numpy as np

from . import container, wz_modulo
from .entropy import PayloadReader, PayloadWriter
from .errors import FormatError, InputError, MismatchError

__all__ = [
    "MODEL_KIND",
    "ALGORITHM",
    "LearnedWZ",
    "TrainReport",
    "load_pairs",
    "check_pairs",
    "is_model_file",
    "train",
    "train_for_rate",
    "train_modulo",
    "save_model",
    "load_model",
    "model_bytes",
    "model_from_bytes",
    "encode",
    "decode",
    "decode_indices",
    "evaluate",
]

MODEL_KIND = "reccodec-wz-learned"
MODEL_VERSION = 1
ALGORITHM = "wz-learned"
MIN_PAIRS = 100
MAX_CODEWORDS = 4096
HELDOUT_FRACTION = 0.1
BATCH = 1024
LEARNING_RATE = 3e-3
FINAL_LEARNING_RATE = 3e-4
TEMPERATURE = (1.0, 0.05)  # Gumbel-softmax temperature, first and last step
FINETUNE_FRACTION = 0.25  # decoder steps on hard indices, as a fraction of the joint steps
RATE_TOLERANCE = 0.03  # relative: --rate accepts a trial whose held-out rate is this close
RATE_TRIALS = 12  # --rate: six lambdas, each trained plainly and hardened
LAMBDA_LADDER = (1.75, 1.35)  # --rate: each plain (hardened) trial's lambda is the previous one's over this
RELAXATIONS = ("gumbel", "exact")
ENCODER_GAIN = 1.0  # scale of the encoder's first layer at initialisation
CALIBRATION_RANGE = 1024.0  # |c| of the encoder's output bias c log q, see _calibrate_bias
CALIBRATION_STEPS = 30
HARDENING = (0.3, 1.0)  # hardened training: the encoder's entropy weighs 0 until this fraction of
#                         the joint steps, then rises linearly to 1 at the second one
LAMBDA_RISE = (0.25, 0.7)  # hardened training: lambda starts at this fraction of its value and
#                            reaches it geometrically at this fraction of the joint steps
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_LAYERS = ("w1", "b1", "w2", "b2", "w3", "b3")
_ARRAYS = tuple(f"enc_{n}" for n in _LAYERS) + ("rate_logits",) + tuple(f"dec_{n}" for n in _LAYERS) + (
    "x_mean", "x_scale", "y_mean", "y_scale")
_MODULO_ARRAYS = ("enc_step", "enc_offset", "rate_logits", "dec_line", "dec_edges", "dec_y_edges", "dec_density",
                  "x_mean", "x_scale", "y_mean", "y_scale")
ARCHITECTURES = ("mlp", "modulo")


# --------------------------------------------------------------------------- pairs


def _as_matrix(values, name, where):
    array = np.asarray(values)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise InputError(f"{where}: {name} must be a numeric array, got dtype {array.dtype}")
    if array.ndim not in (1, 2):
        raise InputError(f"{where}: {name} must have one or two dimensions (samples[, dims]), got shape {array.shape}")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise InputError(f"{where}: {name} holds NaN or infinite values")
    return array.reshape(array.shape[0], -1)


def check_pairs(x, y, where="pairs"):
    """Validate training pairs.

    Args:
        x (array_like): (n,) or (n, dx) samples of the source.
        y (array_like): (n,) or (n, dy) side information, the same n.
        where (str): what to call them in messages.
    Returns:
        (x, y) as float64 (n, dx) and (n, dy).
    Raises:
        InputError: non-numeric, NaN or infinite values, lengths that differ, fewer than
            ``MIN_PAIRS`` pairs, or a dimension that is zero.
    """
    x = _as_matrix(x, "x", where)
    y = _as_matrix(y, "y", where)
    if x.shape[0] != y.shape[0]:
        raise InputError(f"{where}: x has {x.shape[0]} samples but y has {y.shape[0]}")
    if x.shape[0] < MIN_PAIRS:
        raise InputError(f"{where}: need at least {MIN_PAIRS} pairs, got {x.shape[0]}")
    if x.shape[1] == 0 or y.shape[1] == 0:
        raise InputError(f"{where}: x and y need at least one dimension")
    return x, y


def load_pairs(path):
    """Read PAIRS.npz with arrays ``x`` and ``y``; see ``check_pairs``.

    Raises:
        InputError: not an .npz archive, a missing array, or as ``check_pairs``.
    """
    where = os.fspath(path)
    data = container.read_file(path)
    try:
        archive = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as e:
        raise InputError(f"{where}: not a readable .npz file ({type(e).__name__})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise InputError(f"{where}: expected an .npz archive with arrays x and y, got one .npy array")
    with archive:
        missing = [name for name in ("x", "y") if name not in archive.files]
        if missing:
            raise InputError(f"{where}: missing array {' and '.join(missing)} (it holds: "
                             f"{', '.join(archive.files) or 'nothing'})")
        try:
            x, y = archive["x"], archive["y"]
        except Exception as e:
            raise InputError(f"{where}: cannot read arrays x and y ({type(e).__name__})") from None
    return check_pairs(x, y, where)


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class LearnedWZ:
    """A trained learned Wyner-Ziv model.

    Attributes:
        arrays (dict of str -> float64 ndarray): the weights (``_ARRAYS``).
        info (dict): the description without ``id``: sizes, lambda, seed, figures.
    """

    arrays: dict
    info: dict

    @property
    def codewords(self):
        return int(self.arrays["rate_logits"].size)

    @property
    def dims_x(self):
        return int(self.arrays["x_mean"].size)

    @property
    def dims_y(self):
        return int(self.arrays["y_mean"].size)

    @property
    def architecture(self):
        """"mlp" (the talk's MLPs) or "modulo" (``wz_modulo``)."""
        return self.info.get("architecture", "mlp")

    @property
    def model_id(self):
        """16 hex digits: BLAKE2b over the kind, the architecture, the sizes and every array."""
        kind = f"{MODEL_KIND}/{MODEL_VERSION}" + ("" if self.architecture == "mlp" else f"/{self.architecture}")
        digest = hashlib.blake2b(kind.encode(), digest_size=8)
        for name in _array_names(self.architecture):
            a = np.ascontiguousarray(self.arrays[name], dtype="<f8")
            digest.update(name.encode() + b"\0" + np.array(a.shape, dtype="<u8").tobytes() + a.tobytes())
        return digest.hexdigest()

    @property
    def tag(self):
        """The u32 a file coded with this model carries: the id's first 8 hex digits."""
        return int(self.model_id[:8], 16)

    def rate_probabilities(self):
        """q(u) as float64 (K,)."""
        return _softmax(self.arrays["rate_logits"][None, :])[0]

    def encoder_logits(self, x):
        """Logits of p(u | x) for x (n, dx) in the source's units (a modulo model's encoder
        is deterministic: 0 for its index, -inf for the others)."""
        if self.architecture == "modulo":
            return np.where(np.arange(self.codewords)[None, :] == self.indices(x)[:, None], 0.0, -np.inf)
        a = self.arrays
        return _mlp(a, "enc", (x - a["x_mean"]) / a["x_scale"])[0]

    def indices(self, x):
        """u = argmax p(u | x), int64 (n,)."""
        if self.architecture == "modulo":
            a = self.arrays
            xn = (x[:, 0] - a["x_mean"][0]) / a["x_scale"][0]
            return wz_modulo.indices(xn, a["enc_step"][0], a["enc_offset"][0], self.codewords)
        return np.argmax(self.encoder_logits(x), axis=1).astype(np.int64)

    def reconstruct(self, u, y):
        """g(u, y) in the source's units, float64 (n, dx)."""
        a = self.arrays
        yn = (y - a["y_mean"]) / a["y_scale"]
        if self.architecture == "modulo":
            out = wz_modulo.decode(a, np.asarray(u), yn[:, 0], a["enc_step"][0], a["enc_offset"][0],
                                   self.codewords)[:, None]
        else:
            out = _mlp(a, "dec", np.concatenate([np.eye(self.codewords)[u], yn], axis=1))[0]
        return out * a["x_scale"] + a["x_mean"]


def _array_names(architecture):
    return _MODULO_ARRAYS if architecture == "modulo" else _ARRAYS


def _softmax(a):
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _log_softmax(a):
    m = a - a.max(axis=1, keepdims=True)
    return m - np.log(np.exp(m).sum(axis=1, keepdims=True))


def _mlp(params, prefix, z):
    """Two ReLU hidden layers and a linear output; returns (output, cache)."""
    h1 = np.maximum(z @ params[f"{prefix}_w1"] + params[f"{prefix}_b1"], 0.0)
    h2 = np.maximum(h1 @ params[f"{prefix}_w2"] + params[f"{prefix}_b2"], 0.0)
    return h2 @ params[f"{prefix}_w3"] + params[f"{prefix}_b3"], (z, h1, h2)


def _mlp_backward(params, prefix, cache, dout, grads):
    """Accumulate the MLP's weight gradients into ``grads``; return d loss / d input."""
    z, h1, h2 = cache
    grads[f"{prefix}_w3"] = h2.T @ dout
    grads[f"{prefix}_b3"] = dout.sum(axis=0)
    d2 = (dout @ params[f"{prefix}_w3"].T) * (h2 > 0)
    grads[f"{prefix}_w2"] = h1.T @ d2
    grads[f"{prefix}_b2"] = d2.sum(axis=0)
    d1 = (d2 @ params[f"{prefix}_w2"].T) * (h1 > 0)
    grads[f"{prefix}_w1"] = z.T @ d1
    grads[f"{prefix}_b1"] = d1.sum(axis=0)
    return d1 @ params[f"{prefix}_w1"].T


def _init_mlp(rng, prefix, n_in, hidden, n_out, out_scale=1.0, in_gain=1.0):
    def dense(a, b, gain):
        return rng.normal(0.0, gain * math.sqrt(2.0 / a), (a, b))

    # biases like the weights, so that the first layer's kinks spread over the inputs' range
    # (with zero biases every kink of a one-dimensional input sits at 0)
    return {f"{prefix}_w1": dense(n_in, hidden, in_gain),
            f"{prefix}_b1": rng.normal(0.0, in_gain * math.sqrt(2.0 / n_in), hidden),
            f"{prefix}_w2": dense(hidden, hidden, 1.0), f"{prefix}_b2": np.zeros(hidden),
            f"{prefix}_w3": dense(hidden, n_out, out_scale), f"{prefix}_b3": np.zeros(n_out)}


def _spread_kinks(params, prefix, z):
    """Move the first layer's biases so that its kinks sit at evenly spaced quantiles of
    the inputs ``z`` (n, d), along each unit's own direction.

    Unit j of H turns on where z . w_j crosses the quantile (j + 1/2) / H of z . w_j over
    the samples (for a unit whose weights sum below zero, the quantile 1 - (j + 1/2) / H,
    so that with one input dimension the kinks are exactly the H quantiles of z). An
    encoder of a one-dimensional x then starts with a kink in every 1/H of the
    probability, where a random bias clusters them near 0, and its argmax can change all
    over x's range, as binning needs (many narrow cells, reused).
    """
    w = params[f"{prefix}_w1"]
    hidden = w.shape[1]
    levels = (np.arange(hidden) + 0.5) / hidden
    levels = np.where(w.sum(axis=0) >= 0, levels, 1.0 - levels)
    proj = z @ w
    params[f"{prefix}_b1"] = -np.array([np.quantile(proj[:, j], levels[j]) for j in range(hidden)])


class _Adam:
    """Adam (Kingma & Ba 2015) over a dict of arrays, updated in place."""

    def __init__(self, params, names, beta1=0.9, beta2=0.999, eps=1e-8):
        self.names = names
        self.m = {n: np.zeros_like(params[n]) for n in names}
        self.v = {n: np.zeros_like(params[n]) for n in names}
        self.beta1, self.beta2, self.eps, self.t = beta1, beta2, eps, 0

    def step(self, params, grads, lr):
        self.t += 1
        c1 = 1.0 - self.beta1**self.t
        c2 = 1.0 - self.beta2**self.t
        for n in self.names:
            g = grads[n]
            self.m[n] = self.beta1 * self.m[n] + (1.0 - self.beta1) * g
            self.v[n] = self.beta2 * self.v[n] + (1.0 - self.beta2) * g * g
            params[n] -= lr * (self.m[n] / c1) / (np.sqrt(self.v[n] / c2) + self.eps)


# --------------------------------------------------------------------------- training


@dataclass
class TrainReport:
    """Figures of a training run, on the held-out split (bits per sample, MSE per component)."""

    lmbda: float
    bits: float
    mse: float
    train_bits: float
    train_mse: float
    steps: int
    seconds: float
    trials: list
    free_bits: float = None  # training split, before the rate calibration

    def to_dict(self):
        return {"lmbda": self.lmbda, "heldout_bits": round(self.bits, 5), "heldout_mse": self.mse,
                "train_bits": round(self.train_bits, 5), "train_mse": self.train_mse, "steps": self.steps,
                "seconds": round(self.seconds, 3), "trials": self.trials,
                "free_bits": None if self.free_bits is None else round(self.free_bits, 5)}


def _check_int(value, name, lo, hi):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise InputError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")
    return int(value)


def _split(n, seed):
    order = np.random.default_rng([seed, 1]).permutation(n)
    held = max(1, int(round(HELDOUT_FRACTION * n)))
    return order[held:], order[:held]


def _loss_and_grads(params, xb, yb, gumbel, temperature, weight, entropy_weight=0.0):
    """L_m on a batch with its Gumbel noise: (loss, dict of gradients).

    The rate is the exact E_p[log p(u|x)/q(u)] = KL(p(.|x) || q), plus ``entropy_weight``
    times the encoder's entropy H(p(.|x)) (at 1 the sum is E_p[-log q(u)], the rate of a
    deterministic encoder); the distortion decodes the relaxed draw
    softmax((log p + G) / t) with y.
    """
    batch, k = gumbel.shape
    grads = {}
    logits, enc_cache = _mlp(params, "enc", xb)
    logp = _log_softmax(logits)
    p = np.exp(logp)
    logq = _log_softmax(params["rate_logits"][None, :])
    kl = (p * (logp - logq)).sum(axis=1, keepdims=True)
    s = _softmax((logp + gumbel) / temperature)
    out, dec_cache = _mlp(params, "dec", np.concatenate([s, yb], axis=1))
    ent = -(p * logp).sum(axis=1, keepdims=True)
    loss = float(kl.mean() + entropy_weight * ent.mean() + (weight * (out - xb) ** 2).sum(axis=1).mean())
    dout = 2.0 * weight * (out - xb) / batch
    dz = _mlp_backward(params, "dec", dec_cache, dout, grads)
    ds = dz[:, :k]
    dv = s * (ds - (ds * s).sum(axis=1, keepdims=True)) / temperature  # d loss / d log p
    dlogits = dv - p * dv.sum(axis=1, keepdims=True)
    dlogits += p * (logp - logq - kl) / batch  # d KL(p || q) / d logits
    dlogits -= entropy_weight * p * (logp + ent) / batch  # d H(p) / d logits
    _mlp_backward(params, "enc", enc_cache, dlogits, grads)
    grads["rate_logits"] = np.exp(logq[0]) - p.mean(axis=0)
    return loss, grads


def _loss_and_grads_exact(params, xb, yb, weight, entropy_weight=0.0):
    """L_m on a batch with the distortion's exact expectation over p(.|x): (loss, gradients).

    E_p[|x - g(u, y)|^2] = sum_k p_k |x - g(k, y)|^2 decodes every codeword (K decoder
    passes per sample) and needs no relaxation. The rate term as ``_loss_and_grads``.
    """
    batch, dx = xb.shape
    grads = {}
    logits, enc_cache = _mlp(params, "enc", xb)
    k = logits.shape[1]
    logp = _log_softmax(logits)
    p = np.exp(logp)
    logq = _log_softmax(params["rate_logits"][None, :])
    kl = (p * (logp - logq)).sum(axis=1, keepdims=True)
    z = np.concatenate([np.tile(np.eye(k), (batch, 1)), np.repeat(yb, k, axis=0)], axis=1)
    out, dec_cache = _mlp(params, "dec", z)
    err = out.reshape(batch, k, dx) - xb[:, None, :]
    dist = (weight * err**2).sum(axis=2)
    ent = -(p * logp).sum(axis=1, keepdims=True)
    loss = float(kl.mean() + entropy_weight * ent.mean() + (p * dist).sum(axis=1).mean())
    dout = (2.0 * weight * err * p[:, :, None] / batch).reshape(batch * k, dx)
    _mlp_backward(params, "dec", dec_cache, dout, grads)
    dlogits = p * (dist - (p * dist).sum(axis=1, keepdims=True)) / batch
    dlogits += p * (logp - logq - kl) / batch
    dlogits -= entropy_weight * p * (logp + ent) / batch
    _mlp_backward(params, "enc", enc_cache, dlogits, grads)
    grads["rate_logits"] = np.exp(logq[0]) - p.mean(axis=0)
    return loss, grads


def _entropy_bits(u, k):
    """Empirical entropy of the indices u in bits per sample."""
    freq = np.bincount(u, minlength=k) / u.size
    freq = freq[freq > 0]
    return float(-(freq * np.log2(freq)).sum())


def _calibrate_bias(logits, logq, target_bits):
    """c such that u = argmax(logits + c log q) has an empirical entropy near ``target_bits``.

    c > 0 favours the probable indices (fewer bits), c < 0 the rare ones. The target is
    bracketed by doubling |c| (up to ``CALIBRATION_RANGE``), then bisected on the training
    split, assuming the entropy falls as c grows; a target above the highest entropy that
    c < 0 reaches gives the c of that peak, as far as the doubling finds it.
    """
    k = logits.shape[1]

    def bits(c):
        return _entropy_bits(np.argmax(logits + c * logq, axis=1), k)

    # bracket the target, doubling |c| from 1/8 up to CALIBRATION_RANGE; upwards (c < 0)
    # the entropy rises only so far: past its peak every sample goes to the rarest index
    sign = 1.0 if bits(0.0) > target_bits else -1.0
    near, far = 0.0, sign / 8
    while abs(far) < CALIBRATION_RANGE and (bits(far) > target_bits) == (sign > 0):
        if sign < 0 and bits(far) <= bits(near):
            return near
        near, far = far, 2.0 * far
    lo, hi = (near, far) if sign > 0 else (far, near)
    for _ in range(CALIBRATION_STEPS):
        mid = 0.5 * (lo + hi)
        if bits(mid) > target_bits:
            lo = mid
        else:
            hi = mid
    # the end of the bracket nearer the target
    return lo if abs(bits(lo) - target_bits) < abs(bits(hi) - target_bits) else hi


def _fix_encoder(params, xn, target_bits):
    """End of the joint steps: calibrate the encoder's bias (with a target), refit q to the
    frequencies of the hard indices; returns those indices and the bits per sample of the
    indices before the calibration (their empirical entropy)."""
    logits = _mlp(params, "enc", xn)[0]
    free_bits = _entropy_bits(np.argmax(logits, axis=1), logits.shape[1])
    if target_bits is not None:
        logq = _log_softmax(params["rate_logits"][None, :])[0]
        params["enc_b3"] = params["enc_b3"] + _calibrate_bias(logits, logq, target_bits) * logq
        logits = _mlp(params, "enc", xn)[0]
    u_all = np.argmax(logits, axis=1)
    n, k = logits.shape
    counts = np.bincount(u_all, minlength=k).astype(np.float64)
    params["rate_logits"] = np.log((counts + 1e-3) / (n + 1e-3 * k))
    return u_all, free_bits


def _train_arrays(x, y, lmbda, codewords, hidden, steps, seed, relaxation, target_bits=None, hardened=False):
    """One training run on normalised copies of (x, y); returns the model's arrays and the
    training split's bits per sample before any calibration.

    With ``target_bits`` the encoder's output bias is moved along log q after the joint
    steps so that the hard indices of the training split spend about that many bits
    (``_calibrate_bias``) before q is refit and the decoder fine-tuned. ``hardened``: the
    encoder's entropy weighs in from ``HARDENING[0]`` of the joint steps and lambda rises
    from ``LAMBDA_RISE[0]`` of its value (the module's docstring).
    """
    rng = np.random.default_rng([seed, 2])
    x_mean, x_scale = x.mean(axis=0), x.std(axis=0) + 1e-12
    y_mean, y_scale = y.mean(axis=0), y.std(axis=0) + 1e-12
    xn, yn = (x - x_mean) / x_scale, (y - y_mean) / y_scale
    n, dx = xn.shape
    k = codewords
    params = {**_init_mlp(rng, "enc", dx, hidden, k, 1.0, ENCODER_GAIN), "rate_logits": np.zeros(k),
              **_init_mlp(rng, "dec", k + yn.shape[1], hidden, dx, 0.1)}
    _spread_kinks(params, "enc", xn)
    weight = lmbda * x_scale**2  # the distortion in the source's units
    batch = min(BATCH, n)
    eye = np.eye(k)
    adam = _Adam(params, list(params))
    finetune = int(round(FINETUNE_FRACTION * steps))
    for step in range(steps + finetune):
        progress = min(1.0, step / max(1, steps - 1))
        lr = LEARNING_RATE * (FINAL_LEARNING_RATE / LEARNING_RATE) ** min(1.0, step / max(1, steps + finetune - 1))
        pick = rng.integers(0, n, batch)
        xb, yb = xn[pick], yn[pick]
        grads = {}
        if step < steps:
            temperature = TEMPERATURE[0] * (TEMPERATURE[1] / TEMPERATURE[0]) ** progress
            entropy_weight = 0.0
            if hardened:
                weight = lmbda * x_scale**2 * LAMBDA_RISE[0] ** (1.0 - min(1.0, progress / LAMBDA_RISE[1]))
                entropy_weight = min(1.0, max(0.0, (progress - HARDENING[0]) / (HARDENING[1] - HARDENING[0])))
            if relaxation == "exact":
                _, grads = _loss_and_grads_exact(params, xb, yb, weight, entropy_weight)
            else:
                gumbel = -np.log(-np.log(rng.uniform(1e-300, 1.0, (batch, k))))
                _, grads = _loss_and_grads(params, xb, yb, gumbel, temperature, weight, entropy_weight)
            adam.step(params, grads, lr)
        else:
            if step == steps:  # fix the encoder; q from the hard indices; decoder on them
                weight = lmbda * x_scale**2
                u_all, free_bits = _fix_encoder(params, xn, target_bits)
                dec_names = [f"dec_{name}" for name in _LAYERS]
                adam = _Adam(params, dec_names)
            out, dec_cache = _mlp(params, "dec", np.concatenate([eye[u_all[pick]], yb], axis=1))
            _mlp_backward(params, "dec", dec_cache, 2.0 * weight * (out - xb) / batch, grads)
            adam.step(params, grads, lr)
    if finetune == 0:
        u_all, free_bits = _fix_encoder(params, xn, target_bits)
    params.update(x_mean=x_mean, x_scale=x_scale, y_mean=y_mean, y_scale=y_scale)
    return params, free_bits


def evaluate(model, x, y):
    """Bits per sample of the argmax indices under q, and the MSE per component of g(u, y).

    Returns:
        (bits, mse) as floats.
    """
    x, y = _samples(x, model.dims_x, "x"), _samples(y, model.dims_y, "side information")
    u = model.indices(x)
    bits = float(-np.log2(model.rate_probabilities()[u]).mean())
    return bits, float(np.mean((model.reconstruct(u, y) - x) ** 2))


def _steps(epochs, n_train):
    return max(1, int(epochs) * max(1, -(-n_train // BATCH)))


def train(x, y, lmbda, codewords=32, hidden=64, epochs=40, seed=0, relaxation="gumbel", target_rate=None,
          hardened=False):
    """Train the learned compressor at a fixed lambda.

    Args:
        x, y (array_like): pairs, see ``check_pairs``; a held-out tenth (chosen by the
            seed) only measures the figures.
        lmbda (float): > 0, the weight of the squared error against the rate in nats.
        codewords (int): K in [2, 4096].
        hidden (int): units per hidden layer, in [4, 1024].
        epochs (int): passes over the training split, in [1, 10000] (batches of 1024 draws
            with replacement; a quarter more steps fine-tune the decoder).
        seed (int): in [0, 2^64); the model depends on it and the pairs only.
        relaxation (str): "gumbel", the distortion of a Gumbel-softmax relaxed draw (the
            talk's), or "exact", its expectation over p(.|x) (K decoder passes a sample).
        target_rate (float or None): bits per sample; when given, the trained encoder's
            output bias is calibrated so that its hard indices on the training split
            spend about that many bits (see ``_calibrate_bias``).
        hardened (bool): the hardened training (see the module's docstring): the
            encoder's entropy joins the rate term late in the joint steps and lambda
            rises from a quarter of its value; False trains on L_m alone, as the talk.
    Returns:
        (LearnedWZ, TrainReport).
    Raises:
        InputError: bad pairs or arguments.
    """
    x, y = check_pairs(x, y)
    if isinstance(lmbda, bool) or not isinstance(lmbda, (int, float)) or not math.isfinite(lmbda) or lmbda <= 0:
        raise InputError(f"lmbda must be a finite number > 0, got {lmbda!r}")
    codewords = _check_int(codewords, "codewords", 2, MAX_CODEWORDS)
    hidden = _check_int(hidden, "hidden", 4, 1024)
    epochs = _check_int(epochs, "epochs", 1, 10000)
    seed = _check_int(seed, "seed", 0, 2**64 - 1)
    if relaxation not in RELAXATIONS:
        raise InputError(f"relaxation must be one of {', '.join(RELAXATIONS)}, got {relaxation!r}")
    started = time.perf_counter()
    fit, held = _split(x.shape[0], seed)
    steps = _steps(epochs, fit.size)
    if target_rate is not None and (isinstance(target_rate, bool) or not isinstance(target_rate, (int, float))
                                    or not math.isfinite(target_rate) or not 0 < target_rate <= 12):
        raise InputError(f"target_rate must be in (0, 12] bits per sample, got {target_rate!r}")
    arrays, free_bits = _train_arrays(x[fit], y[fit], float(lmbda), codewords, hidden, steps, seed, relaxation,
                                      None if target_rate is None else float(target_rate), bool(hardened))
    info = {"codewords": codewords, "hidden": hidden, "epochs": epochs, "seed": seed, "lmbda": float(lmbda),
            "relaxation": relaxation, "pairs": int(x.shape[0])}
    if hardened:
        info["hardened"] = True
    if target_rate is not None:
        info["target_rate"] = float(target_rate)
    model = LearnedWZ(arrays, info)
    bits, mse = evaluate(model, x[held], y[held])
    train_bits, train_mse = evaluate(model, x[fit], y[fit])
    report = TrainReport(float(lmbda), bits, mse, train_bits, train_mse, steps, time.perf_counter() - started, [],
                         free_bits)
    return _with_figures(model, report, x, y), report


def train_modulo(x, y, rate, codewords=None, seed=0):
    """Fit the modulo architecture (``wz_modulo``) to one-dimensional pairs at a rate.

    The split into training and held-out pairs is ``train``'s for the same seed; nothing
    else is random.

    Args:
        x, y (array_like): one-dimensional pairs, see ``check_pairs``.
        rate (float): bits per sample, in (0, 12]; the design's index entropy on the
            training split is at most about this.
        codewords (int or None): the most indices L may take; None: 2^ceil(R), at least 2.
        seed (int): chooses the held-out split.
    Returns:
        (LearnedWZ, TrainReport): ``lmbda`` in the report and the description is
        1 / (2 D), D the held-out MSE, the slope of D = c 2^(-2R) at the design (the
        published encoder's rule weighs the rate by it).
    Raises:
        InputError: bad pairs or arguments, or x or y with more than one dimension.
    """
    x, y = check_pairs(x, y)
    if x.shape[1] != 1 or y.shape[1] != 1:
        raise InputError("the modulo architecture needs one-dimensional x and y")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate) or not 0 < rate <= 12:
        raise InputError(f"rate must be in (0, 12] bits per sample, got {rate!r}")
    seed = _check_int(seed, "seed", 0, 2**64 - 1)
    codewords = _check_int(codewords if codewords is not None else max(2, 2 ** math.ceil(rate)), "codewords", 2,
                           MAX_CODEWORDS)
    started = time.perf_counter()
    fit, held = _split(x.shape[0], seed)
    xf, yf = x[fit], y[fit]
    x_mean, x_scale = xf.mean(axis=0), xf.std(axis=0) + 1e-12
    y_mean, y_scale = yf.mean(axis=0), yf.std(axis=0) + 1e-12
    xn, yn = ((xf - x_mean) / x_scale)[:, 0], ((yf - y_mean) / y_scale)[:, 0]
    step, offset, cosets, _ = wz_modulo.design(xn, yn, float(rate), codewords)
    u = wz_modulo.indices(xn, step, offset, cosets)
    counts = np.bincount(u, minlength=cosets).astype(np.float64)
    arrays = {"enc_step": np.array([step]), "enc_offset": np.array([offset]),
              "rate_logits": np.log((counts + 1e-3) / (u.size + 1e-3 * cosets)), **wz_modulo.fit_density(xn, yn),
              "x_mean": x_mean, "x_scale": x_scale, "y_mean": y_mean, "y_scale": y_scale}
    info = {"architecture": "modulo", "codewords": cosets, "seed": seed, "pairs": int(x.shape[0]),
            "target_rate": float(rate), "step": step * float(x_scale[0]), "offset": offset}
    model = LearnedWZ(arrays, info)
    bits, mse = evaluate(model, x[held], y[held])
    train_bits, train_mse = evaluate(model, xf, yf)
    lmbda = 1.0 / (2.0 * max(mse, 1e-300))
    model = LearnedWZ(arrays, dict(info, lmbda=lmbda))
    report = TrainReport(lmbda, bits, mse, train_bits, train_mse, 0, time.perf_counter() - started, [], train_bits)
    return _with_figures(model, report, x, y), report


def _with_figures(model, report, x, y):
    """The model with the training figures and the ranges of x and y (0.1% to 99.9%) in its description."""
    info = dict(model.info)
    info.update(heldout_bits=round(report.bits, 5), heldout_mse=report.mse, train_bits=round(report.train_bits, 5),
                train_mse=report.train_mse, steps=report.steps,
                x_range=[float(v) for v in np.quantile(x[:, 0], [0.001, 0.999])],
                y_range=[float(v) for v in np.quantile(y[:, 0], [0.001, 0.999])])
    return LearnedWZ(model.arrays, info)


def _residual_variance(x, y):
    """Mean squared residual of the least-squares affine fit of x on y (per component)."""
    design = np.concatenate([y, np.ones((y.shape[0], 1))], axis=1)
    coef, *_ = np.linalg.lstsq(design, x, rcond=None)
    return float(np.mean((x - design @ coef) ** 2))


def train_for_rate(x, y, rate, codewords=None, hidden=64, epochs=40, seed=0, progress=None, relaxation="gumbel",
                   modulo=None):
    """Train to a target rate: several trainings, each calibrated to the rate; keep the best.

    Every trial trains at some lambda and then calibrates its encoder to ``rate``
    (``train`` with ``target_rate``), so that it lands at the rate whatever lambda was;
    lambda decides what is learned. The best lambda is below the quadratic-Gaussian slope
    1 / (2 D_WZ) = 2^2R / (2 s^2) (s^2 the residual variance of an affine fit of x on y),
    by how much depends on the source and the rate, and one training's result varies much
    with its seed; so the ``RATE_TRIALS`` trials alternate plain and hardened trainings
    (``train``), each kind on a ladder of lambdas from that slope down by its
    ``LAMBDA_LADDER`` factor per trial (a hardened training collapses to one index when
    lambda is much below the slope, so its ladder is shorter), trial i with seed + i, and
    the one with the lowest held-out MSE among those whose held-out rate is within
    ``RATE_TOLERANCE`` (relative) of the target wins; failing that, the one nearest the
    rate. Hardened trials win where a deterministic quantizer with few cells already
    gains (x = y + n, the Laplace sources); plain ones where y alone is almost as good as
    any such quantizer (y = x + n). With ``modulo`` a last trial fits the modulo
    architecture (``train_modulo``, with the seed given), which competes by the same rule.

    Args:
        rate (float): bits per sample, in (0, 12].
        codewords (int or None): K; None gives 2^(ceil(R) + 1), at least 8.
        progress (callable or None): called with each trial's dict.
        modulo (bool or None): add the modulo trial; None: when x and y are one-dimensional.
        Others as ``train``.
    Returns:
        (LearnedWZ, TrainReport) of the chosen trial; ``trials`` lists all.
    Raises:
        InputError: as ``train``, or a rate out of range.
    """
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate) or not 0 < rate <= 12:
        raise InputError(f"rate must be in (0, 12] bits per sample, got {rate!r}")
    x, y = check_pairs(x, y)
    seed = _check_int(seed, "seed", 0, 2**64 - 1)
    if codewords is None:
        codewords = min(MAX_CODEWORDS, max(8, 2 ** (math.ceil(rate) + 1)))
    started = time.perf_counter()
    if modulo is None:
        modulo = x.shape[1] == 1 and y.shape[1] == 1
    log_l = math.log2(2.0 ** (2 * rate) / (2.0 * max(_residual_variance(x, y), 1e-300)))
    trials, chosen = [], None
    for i in range(RATE_TRIALS + bool(modulo)):
        hardened = i % 2 == 1
        if i == RATE_TRIALS:
            model, report = train_modulo(x, y, rate, codewords, seed)
        else:
            lmbda = 2.0 ** (log_l - (i // 2) * math.log2(LAMBDA_LADDER[hardened]))
            model, report = train(x, y, lmbda, codewords, hidden, epochs, (seed + i) % 2**64, relaxation,
                                  target_rate=rate, hardened=hardened)
        trial = {"architecture": model.architecture, "lmbda": report.lmbda,
                 "hardened": hardened and i < RATE_TRIALS, "seed": model.info["seed"],
                 "free_bits": round(report.free_bits, 5),
                 "heldout_bits": round(report.bits, 5), "heldout_mse": report.mse,
                 "seconds": round(report.seconds, 3)}
        trials.append(trial)
        if progress is not None:
            progress(trial)
        miss = abs(report.bits - rate)
        fits = miss <= RATE_TOLERANCE * rate
        if (chosen is None or (fits and (not chosen[2] or report.mse < chosen[1].mse))
                or (not fits and not chosen[2] and miss < abs(chosen[1].bits - rate))):
            chosen = (model, report, fits)
    model, report, _ = chosen
    report.trials = trials
    report.seconds = time.perf_counter() - started
    info = dict(model.info, target_rate=float(rate))
    return LearnedWZ(model.arrays, info), report


# --------------------------------------------------------------------------- files


def _npy(array):
    out = io.BytesIO()
    np.lib.format.write_array(out, np.ascontiguousarray(array), allow_pickle=False)
    return out.getvalue()


def model_bytes(model):
    """The model file's bytes: a zip (.npz) of the arrays and ``description``, no time stamps."""
    description = dict(kind=MODEL_KIND, version=MODEL_VERSION, id=model.model_id, **model.info)
    entries = {name: np.asarray(model.arrays[name], dtype="<f8") for name in _array_names(model.architecture)}
    entries["description"] = np.frombuffer(json.dumps(description, sort_keys=True).encode(), dtype=np.uint8)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            archive.writestr(info, _npy(entries[name]))
    return out.getvalue()


def save_model(path, model):
    """Write the model file atomically (see ``model_bytes``)."""
    container.atomic_write(path, model_bytes(model))


def is_model_file(path):
    """Whether ``path`` starts like a zip archive (a learned model) rather than JSON."""
    with open(path, "rb") as f:
        return f.read(4) == b"PK\x03\x04"


def model_from_bytes(data, where="model"):
    """Parse and check a model file.

    Raises:
        FormatError: not a learned Wyner-Ziv model, another version, missing or
            inconsistent arrays, or an id that does not match the arrays (corrupt).
    """
    try:
        archive = np.load(io.BytesIO(data), allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError
        with archive:
            entries = {name: archive[name] for name in archive.files}
    except Exception:
        raise FormatError(f"{where}: not a learned Wyner-Ziv model (an .npz file from reccodec wz train)") from None
    try:
        description = json.loads(bytes(entries.pop("description")).decode("utf-8"))
        if not isinstance(description, dict):
            raise ValueError
    except Exception:
        raise FormatError(f"{where}: the model has no readable description; not a file from reccodec wz train") from None
    if description.get("kind") != MODEL_KIND:
        raise FormatError(f"{where}: a model of kind {description.get('kind')!r}, not {MODEL_KIND!r}")
    if description.get("version") != MODEL_VERSION:
        raise FormatError(f"{where}: model version {description.get('version')!r}; this reccodec reads {MODEL_VERSION}")
    architecture = description.get("architecture", "mlp")
    if architecture not in ARCHITECTURES:
        raise FormatError(f"{where}: unknown model architecture {architecture!r}; this reccodec reads "
                          f"{', '.join(ARCHITECTURES)}")
    names = _array_names(architecture)
    missing = [name for name in names if name not in entries]
    if missing:
        raise FormatError(f"{where}: the model lacks arrays {', '.join(missing)}")
    arrays = {}
    for name in names:
        a = entries[name]
        if a.dtype != np.float64 or not np.isfinite(a).all():
            raise FormatError(f"{where}: array {name} is not finite float64")
        arrays[name] = a
    k = arrays["rate_logits"].shape
    dx, dy = arrays["x_mean"].shape, arrays["y_mean"].shape
    try:
        shapes_ok = (len(k) == 1 and len(dx) == 1 and len(dy) == 1 and arrays["x_scale"].shape == dx
                     and arrays["y_scale"].shape == dy and np.all(arrays["x_scale"] > 0)
                     and np.all(arrays["y_scale"] > 0) and k[0] >= 2)
        if shapes_ok and architecture == "modulo":
            edges, y_edges, density = arrays["dec_edges"], arrays["dec_y_edges"], arrays["dec_density"]
            shapes_ok = (dx == (1,) and dy == (1,) and arrays["enc_step"].shape == (1,) and arrays["enc_step"][0] > 0
                         and arrays["enc_offset"].shape == (1,) and arrays["dec_line"].shape == (2,)
                         and edges.ndim == 1 and edges.size >= 2 and bool(np.all(np.diff(edges) > 0))
                         and y_edges.ndim == 1 and bool(np.all(np.diff(y_edges) > 0))
                         and density.shape == (y_edges.size + 1, edges.size - 1) and bool(np.all(density >= 0))
                         and bool(np.all(density.sum(axis=1) > 0))
                         and (edges[-1] - edges[0]) <= wz_modulo.MAX_CELLS * k[0] * arrays["enc_step"][0])
        elif shapes_ok:
            shapes_ok = (arrays["enc_w1"].shape[0] == dx[0] and arrays["enc_w3"].shape[1] == k[0]
                         and arrays["dec_w1"].shape[0] == k[0] + dy[0] and arrays["dec_w3"].shape[1] == dx[0])
            if shapes_ok:
                for prefix in ("enc", "dec"):
                    _mlp(arrays, prefix, np.zeros((1, arrays[f"{prefix}_w1"].shape[0])))
    except (ValueError, IndexError):
        shapes_ok = False
    if not shapes_ok:
        raise FormatError(f"{where}: the model's arrays have inconsistent shapes")
    model_id = description.pop("id", None)
    for key in ("kind", "version"):
        description.pop(key)
    model = LearnedWZ(arrays, description)
    if model.model_id != model_id:
        raise FormatError(f"{where}: the model's id does not match its arrays: the file is corrupt")
    return model


def load_model(path):
    """Read a model file; see ``model_from_bytes``."""
    return model_from_bytes(container.read_file(path), os.fspath(path))


# --------------------------------------------------------------------------- coding


def _samples(values, dims, name):
    array = np.asarray(values)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise InputError(f"{name} must be a numeric array, got dtype {array.dtype}")
    if array.size == 0:
        raise InputError(f"{name} is empty")
    if dims == 1 and array.ndim == 1:
        matrix = array.reshape(-1, 1)
    elif array.ndim == 2 and array.shape[1] == dims:
        matrix = array
    else:
        want = "(n,) or (n, 1)" if dims == 1 else f"(n, {dims})"
        raise InputError(f"{name} has shape {array.shape}; the model expects {want}")
    matrix = matrix.astype(np.float64)
    if not np.isfinite(matrix).all():
        raise InputError(f"{name} holds NaN or infinite values")
    return matrix


def encode(x, model):
    """Encode x: u = argmax p(u | x), coded under q(u).

    Args:
        x (array_like): (n,) or (n, dx) samples, finite.
        model (LearnedWZ): the trained model.
    Returns:
        (bytes, int64 (n,) indices, header bits): the file carries the model's tag.
    Raises:
        InputError: samples of the wrong shape or not finite.
    """
    x = np.asarray(x)
    matrix = _samples(x, model.dims_x, "x")
    u = model.indices(matrix)
    writer = PayloadWriter()
    writer.add_categorical(u, model.rate_probabilities())
    header = container.Header(algorithm=ALGORITHM, shape=tuple(x.shape), tag=model.tag,
                              params={"wz_codewords": model.codewords})
    data = container.pack(header, writer.finish())
    return data, u, 8 * container.header_size(data)


def decode_indices(data, model, max_dims=container.MAX_DIMS):
    """The indices a file holds, after checking that ``model`` coded it and that it
    declares at most ``max_dims`` elements (``--max-dims``).

    Raises:
        FormatError: not a learned Wyner-Ziv file, or a corrupt one.
        MismatchError: another model coded it.
    """
    header, words = container.unpack(data)
    if header.algorithm != ALGORITHM:
        raise FormatError(f"this is a {header.algorithm!r} file, not one coded with a learned model; "
                          "use its JSON model")
    if header.tag != model.tag or header.params.get("wz_codewords") != model.codewords:
        raise MismatchError("the file was coded with another learned model (model id mismatch)")
    container.check_header(header, max_dims)
    count = int(np.prod(header.shape, dtype=np.int64)) // model.dims_x if header.shape else 1
    reader = PayloadReader(words)
    u = reader.read_categorical(count, model.rate_probabilities())
    reader.finish()
    return header, u


def decode(data, y, model, max_dims=container.MAX_DIMS):
    """Decode a file with side information: x_hat = g(u, y).

    Args:
        data (bytes): a ``wz-learned`` file.
        y (array_like): (n,) or (n, dy) side information, one row per coded sample.
        model (LearnedWZ): the encoder's model.
        max_dims (int): the most elements the file may declare.
    Returns:
        float64 array of the coded x's shape.
    Raises:
        FormatError, MismatchError: as ``decode_indices``.
        InputError: side information of the wrong shape or not finite.
    """
    header, u = decode_indices(data, model, max_dims)
    matrix = _samples(y, model.dims_y, "side information")
    if matrix.shape[0] != u.size:
        raise InputError(f"side information has {matrix.shape[0]} samples but the file holds {u.size}")
    return model.reconstruct(u, matrix).reshape(header.shape)
