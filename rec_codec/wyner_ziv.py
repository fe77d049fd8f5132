"""Wyner-Ziv coding: the decoder holds side information y correlated with x.

Binning lets the rate fall from I(X;U) towards I(X;U|Y) (Wyner & Ziv 1976; DESIGN section
5). Two schemes share one model file, one container and one shared-seed PRNG:

- ``nsq``, dithered nested scalar quantization: k = round(x / Delta - u) with the shared
  dither u (``STREAM_DITHER``), send k mod L (entropy coded under X's marginal given u when
  that lowers the rate); the decoder weighs the coset's members by their posterior given
  y (soft, MMSE) or takes the heaviest one (hard).
- ``rec``, REC binning by the Poisson matching lemma (Li & Anantharam 2021): auxiliary
  W = X + V, V ~ N(0, sigma_v^2), shared candidates, arrival times and labels; the encoder
  sends only the label of its choice (see ``kernels.wz``).

The source is jointly Gaussian and zero-mean: ``x = y + n`` (Y ~ N(0, var_y)) or
``y = x + n`` (X ~ N(0, var_x)), with N ~ N(0, var_n) independent. Then X | y ~ N(a y,
sigma^2_{x|y}), and the quadratic-Gaussian bounds are D_WZ(R) = sigma^2_{x|y} 2^-2R with y
at the decoder, D(R) = sigma_x^2 2^-2R without it.

The model file (JSON)::

    {"scheme": "nsq",
     "source": {"relation": "x = y + n", "var_y": 1.0, "var_n": 0.1},
     "nsq": {"delta": 0.4, "cosets": 4, "decoder": "soft", "coset_code": "marginal"},
     "rec": {"sigma_v2": 0.03, "label_bits": 1, "candidates": 4096, "dims": 1,
             "decoder": "soft", "soft_draws": 64, "components": 4}}

``reccodec wz design`` fills the scheme's section for a target rate.

**Untrusted input.** A model file and a coded file may come from anywhere, so everything
that sets the decoder's work or memory has a stated range: the variances lie in
``VARIANCE_RANGE``; the soft decoder takes at most ``MAX_SOFT_DRAWS`` draws and
``MAX_COMPONENTS`` components; a file's NSQ cell width may make the decoder weigh at most
``MAX_NSQ_CELLS`` cells per sample (which bounds delta from below against the source's
spread, and from above by ``2^32 sigma_x``); a file's sigma_v^2 lies within
``SV2_RATIO_RANGE`` times var_x; labels are at most 2^40 (a power of two above 2^23);
the model file is JSON of at most ``MAX_MODEL_BYTES``. Out-of-range values are refused
with an ``InputError`` (model) or a ``FormatError`` (file) that names them. The number of
candidates N (at most ``MAX_CANDIDATES``) sets the work but not the memory: each block
keeps a fixed window of candidates and generates the later ones again when a scan
needs them (``kernels.wz``). The kernels report what they cannot compute through a
status instead of raising.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from . import container
from .entropy import PayloadReader, PayloadWriter
from .errors import FormatError, InputError, MismatchError
from .kernels.wz import (
    REACH,
    STATUS_BAD_ARGUMENTS,
    STATUS_NOT_FINITE,
    coset_probabilities,
    nsq_decode,
    rec_decode,
    rec_encode,
)
from .rng import STREAM_DITHER, ndtri_as241, split_seed, stream_word, uniforms

__all__ = [
    "RELATIONS",
    "SCHEMES",
    "DECODERS",
    "GaussianSource",
    "NSQParams",
    "RECParams",
    "WZModel",
    "WZEncodeResult",
    "model_from_dict",
    "load_model",
    "save_model",
    "dithers",
    "encode",
    "decode",
    "decode_with_choices",
    "dwz",
    "d_no_side",
    "nsq_mse_theory",
    "rec_mismatch_bound",
    "default_candidates",
    "source_sv2",
    "joint_plan",
    "design",
]

RELATIONS = ("x = y + n", "y = x + n")
SCHEMES = ("nsq", "rec")
DECODERS = ("soft", "hard")
COSET_CODES = ("marginal", "uniform")
MAX_CODED_COSETS = 4096  # a marginal coset code holds an n x L table
MAX_CANDIDATES = 2**22
#: joint REC coding in ``design``: block sizes tried, largest first, the candidate budget
#: (log2 N), the most label bits per block, test-channel offsets (bits below or above the
#: rate), codebook margins (bits per sample against I(X;W)) and the soft decoder's draws
JOINT_DIMS = (2, 3, 4, 6, 8)
JOINT_BUDGET_BITS = 14
JOINT_MAX_LABEL_BITS = 12
JOINT_OFFSETS = (-0.45, -0.15)
JOINT_MARGINS = (-0.35, -0.1, 0.15, 0.4)
JOINT_SOFT_DRAWS = 1024
JOINT_COMPONENTS = 8
SOFT_DRAWS_PER_GROUP = 32  # prior draws per candidate list of the soft REC decoder
SOFT_SCAN_BUDGET = 2**18  # ... unless the lists' scans of N candidates would pass this
SOFT_GROUP_ROUNDS = 8
#: ranges of what a model file or a coded file may set (module docstring)
VARIANCE_RANGE = (1e-30, 1e30)
MAX_SOFT_DRAWS = 4096
MAX_COMPONENTS = 64
MAX_NSQ_CELLS = 2**24
MAX_DELTA_SIGMAS = 2.0**32
SV2_RATIO_RANGE = (2.0**-64, 2.0**32)
MAX_LABELS = 2**40  # labels of REC binning, cosets of NSQ
MAX_MODEL_BYTES = 2**20
_MAX_MODEL_INT = 2**63
_ROWS_PER_READ = 2**22  # coset table entries decoded at a time
_ALGORITHM = {"nsq": "wz-nsq", "rec": "wz-rec"}
_SCHEME_OF = {v: k for k, v in _ALGORITHM.items()}
_PROB_FLOOR = 1e-9
_TAG_MISMATCH = "the seed or the source model differs from the encoder's (tag mismatch)"
_KERNEL_STATUS = {
    STATUS_BAD_ARGUMENTS: "the file's parameters are out of range for the decoder: the file is corrupt",
    STATUS_NOT_FINITE: "the estimate is not finite: the side information is too large for the file's parameters",
}


# --------------------------------------------------------------------------- the model


def _number(obj, key, where, positive=True, integer=False):
    if key not in obj:
        raise InputError(f"{where}: missing {key!r}")
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{where}: {key} must be a number, got {value!r}")
    if isinstance(value, int) and not -_MAX_MODEL_INT < value < _MAX_MODEL_INT:
        raise InputError(f"{where}: {key} is too large ({len(str(abs(value)))} digits)")
    if not math.isfinite(value):
        raise InputError(f"{where}: {key} must be finite, got {value!r}")
    if integer and value != int(value):
        raise InputError(f"{where}: {key} must be an integer, got {value!r}")
    if positive and value <= 0:
        raise InputError(f"{where}: {key} must be > 0, got {value!r}")
    return int(value) if integer else float(value)


def _choice(obj, key, choices, default, where):
    value = obj.get(key, default)
    if value not in choices:
        raise InputError(f"{where}: {key} must be one of {', '.join(choices)}, got {value!r}")
    return value


@dataclass(frozen=True)
class GaussianSource:
    """A zero-mean jointly Gaussian pair (x, y).

    Attributes:
        relation: str, ``"x = y + n"`` (``var_a`` is var_y) or ``"y = x + n"`` (``var_a``
            is var_x).
        var_a: float > 0, the variance of the variable on the right.
        var_n: float > 0, the variance of the independent noise n.
    """

    relation: str
    var_a: float
    var_n: float

    @property
    def var_x(self):
        return self.var_a + self.var_n if self.relation == "x = y + n" else self.var_a

    @property
    def var_y(self):
        return self.var_a if self.relation == "x = y + n" else self.var_a + self.var_n

    @property
    def coef(self):
        """a in E[X | y] = a y."""
        return 1.0 if self.relation == "x = y + n" else self.var_a / (self.var_a + self.var_n)

    @property
    def cond_var(self):
        """sigma^2_{x|y}."""
        if self.relation == "x = y + n":
            return self.var_n
        return self.var_a * self.var_n / (self.var_a + self.var_n)

    def sample(self, count, rng):
        """``count`` draws (x, y) from a numpy Generator."""
        a = rng.normal(0.0, math.sqrt(self.var_a), count)
        n = rng.normal(0.0, math.sqrt(self.var_n), count)
        return (a + n, a) if self.relation == "x = y + n" else (a, a + n)

    def to_dict(self):
        key = "var_y" if self.relation == "x = y + n" else "var_x"
        return {"relation": self.relation, key: self.var_a, "var_n": self.var_n}

    def tag_vector(self):
        return np.array([RELATIONS.index(self.relation), self.var_a, self.var_n], dtype=np.float64)


@dataclass(frozen=True)
class NSQParams:
    """Nested scalar quantization: cell width ``delta``, ``cosets`` L, decoder, coset code."""

    delta: float
    cosets: int
    decoder: str = "soft"
    coset_code: str = "marginal"


@dataclass(frozen=True)
class RECParams:
    """REC binning: test-channel variance, bits per label, candidates N, samples per block."""

    sigma_v2: float
    label_bits: float
    candidates: int
    dims: int = 1
    decoder: str = "soft"
    soft_draws: int = 64
    components: int = 4

    @property
    def labels(self):
        return max(1, int(round(2.0**self.label_bits)))


@dataclass(frozen=True)
class WZModel:
    """A Wyner-Ziv model: the source, the scheme, and the scheme's parameters (or None)."""

    source: GaussianSource
    scheme: str
    nsq: NSQParams | None = None
    rec: RECParams | None = None

    def params(self):
        """The chosen scheme's parameters; InputError when the model file lacks them."""
        found = self.nsq if self.scheme == "nsq" else self.rec
        if found is None:
            raise InputError(f"the model has no {self.scheme!r} parameters; "
                             "run reccodec wz design --model MODEL.json --rate R first")
        return found

    def to_dict(self):
        out = {"scheme": self.scheme, "source": self.source.to_dict()}
        for name in SCHEMES:
            params = getattr(self, name)
            if params is not None:
                out[name] = asdict(params)
        return out


def _source_from(obj, where):
    if not isinstance(obj, dict):
        raise InputError(f"{where}: 'source' must be an object")
    relation = obj.get("relation")
    if relation not in RELATIONS:
        raise InputError(f"{where}: source relation must be {' or '.join(repr(r) for r in RELATIONS)}, "
                         f"got {relation!r}")
    key = "var_y" if relation == "x = y + n" else "var_x"
    low, high = VARIANCE_RANGE
    values = []
    for name in (key, "var_n"):
        value = _number(obj, name, f"{where} source")
        if not low <= value <= high:
            raise InputError(f"{where} source: {name} must be in [{low:g}, {high:g}], got {value!r}")
        values.append(value)
    return GaussianSource(relation, *values)


def _nsq_cells(source, delta, cosets, coset_code):
    """Cells per sample that decoding weighs: the coset members within reach of the
    posterior (``nsq_decode``) and, for a marginal code, every cell within reach of X's
    marginal (``coset_probabilities``)."""
    members = 2.0 * (REACH * math.sqrt(source.cond_var) / delta + 1.0) / cosets + 2.0
    if coset_code == "uniform":
        return members
    return max(members, 2.0 * (REACH * math.sqrt(source.var_x) / delta + 1.0) + 5.0)  # inf for a tiny delta


def _nsq_problem(source, delta, cosets, coset_code):
    """Why (delta, cosets, coset_code) cannot be decoded within the stated limits, or None."""
    if not 1 <= cosets <= MAX_LABELS:
        return f"cosets must be in [1, 2^40], got {cosets}"
    if coset_code == "marginal" and cosets > MAX_CODED_COSETS:
        return (f"coset_code 'marginal' handles at most {MAX_CODED_COSETS} cosets, got {cosets}; "
                "use coset_code 'uniform'")
    if not 0 < delta <= MAX_DELTA_SIGMAS * math.sqrt(source.var_x):
        return f"delta must be in (0, 2^32 sigma_x], got {delta!r}"
    cells = _nsq_cells(source, delta, cosets, coset_code)
    if not cells <= MAX_NSQ_CELLS:
        return (f"delta {delta!r} is too small for the source: decoding would weigh {cells:.3g} cells "
                f"per sample, more than 2^{MAX_NSQ_CELLS.bit_length() - 1}")
    return None


def _sv2_problem(source, sv2):
    """Why sigma_v^2 is out of its range against the source, or None."""
    low, high = (ratio * source.var_x for ratio in SV2_RATIO_RANGE)
    if not low <= sv2 <= high:
        return f"sigma_v2 must be within 2^-64 and 2^32 times var_x ({low:.3g} .. {high:.3g}), got {sv2!r}"
    return None


def _nsq_from(obj, where, source):
    where = f"{where} nsq"
    params = NSQParams(_number(obj, "delta", where), _number(obj, "cosets", where, integer=True),
                       _choice(obj, "decoder", DECODERS, "soft", where),
                       _choice(obj, "coset_code", COSET_CODES, "marginal", where))
    problem = _nsq_problem(source, params.delta, params.cosets, params.coset_code)
    if problem is not None:
        raise InputError(f"{where}: {problem}")
    return params


def _rec_from(obj, where, source):
    where = f"{where} rec"
    params = RECParams(
        _number(obj, "sigma_v2", where),
        _number(obj, "label_bits", where, positive=False),
        _number(obj, "candidates", where, integer=True),
        _number({"dims": obj.get("dims", 1)}, "dims", where, integer=True),
        _choice(obj, "decoder", DECODERS, "soft", where),
        _number({"soft_draws": obj.get("soft_draws", 64)}, "soft_draws", where, integer=True),
        _number({"components": obj.get("components", 4)}, "components", where, integer=True),
    )
    if not 0 <= params.label_bits <= 40:
        raise InputError(f"{where}: label_bits must be in [0, 40], got {params.label_bits}")
    if params.candidates > MAX_CANDIDATES:
        raise InputError(f"{where}: candidates must be at most 2^22, got {params.candidates}")
    if params.dims > 64:
        raise InputError(f"{where}: dims must be at most 64, got {params.dims}")
    problem = _soft_problem(params) or _sv2_problem(source, params.sigma_v2)
    if problem is not None:
        raise InputError(f"{where}: {problem}")
    return params


def _soft_problem(params):
    """Why the soft REC decoder's draws or components are out of range, or None."""
    if not 1 <= params.soft_draws <= MAX_SOFT_DRAWS:
        return f"soft_draws must be in [1, {MAX_SOFT_DRAWS}], got {params.soft_draws}"
    if not 1 <= params.components <= MAX_COMPONENTS:
        return f"components must be in [1, {MAX_COMPONENTS}], got {params.components}"
    return None


def model_from_dict(obj, where="model"):
    """Validate a parsed model file.

    Args:
        obj (dict): the JSON object.
        where (str): what to call it in messages.
    Returns:
        WZModel.
    Raises:
        InputError: an unknown scheme or relation, a missing, negative or non-finite
            variance, or a bad parameter (named in the message).
    """
    if not isinstance(obj, dict):
        raise InputError(f"{where}: expected a JSON object")
    scheme = obj.get("scheme")
    if scheme not in SCHEMES:
        raise InputError(f"{where}: unknown scheme {scheme!r} (known: {', '.join(SCHEMES)})")
    if "source" not in obj:
        raise InputError(f"{where}: missing 'source'")
    source = _source_from(obj["source"], where)
    sections = {}
    for name, parse in (("nsq", _nsq_from), ("rec", _rec_from)):
        if obj.get(name) is not None:
            if not isinstance(obj[name], dict):
                raise InputError(f"{where}: {name!r} must be an object")
            sections[name] = parse(obj[name], where, source)
    return WZModel(source, scheme, **sections)


def _bounded_int(text):
    if len(text) > 40:  # far past any count or variance a model holds
        raise ValueError(f"an integer of {len(text)} digits")
    return int(text)


def load_model(path):
    """Read and validate MODEL.json; InputError with a one-line reason otherwise.

    The file is untrusted: at most ``MAX_MODEL_BYTES``, integers of at most 40 digits,
    and nesting within the JSON parser's recursion limit, then ``model_from_dict``.
    """
    data = container.read_file(path)
    where = os.fspath(path)
    if len(data) > MAX_MODEL_BYTES:
        raise InputError(f"{where}: not a model file ({len(data)} bytes; a model file has at most {MAX_MODEL_BYTES})")
    try:
        obj = json.loads(data.decode("utf-8"), parse_int=_bounded_int)
    except (UnicodeDecodeError, ValueError) as e:  # json.JSONDecodeError is a ValueError
        raise InputError(f"{where}: not a JSON model file ({e})") from None
    except RecursionError:
        raise InputError(f"{where}: not a model file (JSON nested too deeply)") from None
    return model_from_dict(obj, where)


def save_model(path, model):
    """Write a model as JSON, atomically."""
    container.atomic_write(path, (json.dumps(model.to_dict(), indent=2) + "\n").encode())


# --------------------------------------------------------------------------- bounds


def dwz(source, rate):
    """Wyner-Ziv bound D_WZ(R) = sigma^2_{x|y} 2^-2R (linear MSE)."""
    return source.cond_var * 2.0 ** (-2.0 * np.asarray(rate, dtype=float))


def d_no_side(source, rate):
    """Rate-distortion bound without side information, sigma_x^2 2^-2R."""
    return source.var_x * 2.0 ** (-2.0 * np.asarray(rate, dtype=float))


def _phi(z):
    return np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


def _mass(lo, hi):
    from scipy.special import ndtr

    return np.where(lo >= 0, ndtr(-lo) - ndtr(-hi), ndtr(hi) - ndtr(lo))


def nsq_mse_theory(source, delta, cosets, decoder="soft", grid=4096):
    """MSE of dithered NSQ by numerical integration over the dither.

    With a dither uniform over a cell, the error does not depend on y (a shift of the
    posterior mean is a shift of the dither and a relabelling of the cosets), so
    MSE = int_{-1/2}^{1/2} E[(X - xhat)^2 | u] du with X ~ N(0, s^2); for the soft decoder
    E[.. | u] = s^2 - sum_c (sum_{k in c} p_k mu_k)^2 / P_c (p_k, mu_k: mass and mean of
    cell k). The integral is a midpoint rule over ``grid`` dithers.

    Returns:
        float, the expected squared error per sample.
    """
    s = math.sqrt(source.cond_var)
    u = (np.arange(grid) + 0.5) / grid - 0.5
    reach = int(math.ceil(12.0 * s / delta)) + 2
    reach = reach + (-(2 * reach + 1)) % cosets  # whole periods
    ks = np.arange(-reach, reach + 1)
    lo = (delta * (ks[None, :] + u[:, None] - 0.5)) / s
    hi = lo + delta / s
    p = _mass(lo, hi)
    safe = np.maximum(p, 1e-300)
    mu = s * (_phi(lo) - _phi(hi)) / safe
    second = s * s * (1.0 + (lo * _phi(lo) - hi * _phi(hi)) / safe)
    labels = np.mod(ks, cosets)
    mse = np.zeros(grid)
    for c in range(cosets):
        sel = labels == c
        pc = p[:, sel]
        if decoder == "soft":
            num = (pc * mu[:, sel]).sum(axis=1)
            den = pc.sum(axis=1)
            mse -= np.where(den > 0, num * num / np.maximum(den, 1e-300), 0.0)
        else:
            best = np.argmax(pc, axis=1)
            xhat = mu[:, sel][np.arange(grid), best]
            mse += (pc * (second[:, sel] - 2.0 * mu[:, sel] * xhat[:, None] + xhat[:, None] ** 2)).sum(axis=1)
    if decoder == "soft":
        mse += s * s
    return float(mse.mean())


def rec_mismatch_bound(source, sigma_v2, labels, dims=1, samples=20000, seed=0):
    """The Poisson matching bound P_e <= E[min(1, 2^{i(W;X|Y)} / L)] per block, by Monte Carlo.

    i(w; x | y) = log2 p(w | x) / p(w | y) summed over the block's ``dims`` samples.
    """
    rng = np.random.default_rng(seed)
    x, y = source.sample(samples * dims, rng)
    w = x + rng.normal(0.0, math.sqrt(sigma_v2), x.shape)
    vy = source.cond_var + sigma_v2
    info = (0.5 * np.log(vy / sigma_v2) - (w - x) ** 2 / (2 * sigma_v2)
            + (w - source.coef * y) ** 2 / (2 * vy)) / math.log(2.0)
    info = info.reshape(samples, dims).sum(axis=1)
    return float(np.minimum(1.0, 2.0 ** (info - math.log2(labels))).mean())


def default_candidates(source, sigma_v2, dims=1):
    """N: 2^(ceil(d I(X;W)) + 6 + 2d), at most 2^20, so that the encoder's PFR search
    (about 2^D_inf(x) steps, D_inf(x) = d I(X;W) + |x|^2 log2(e) / (2 sigma_x^2)) is
    rarely cut short."""
    info = 0.5 * math.log2((source.var_x + sigma_v2) / sigma_v2)
    return 2 ** int(min(20, math.ceil(dims * info) + 6 + 2 * dims))


# --------------------------------------------------------------------------- coding


@dataclass
class WZEncodeResult:
    """What ``encode`` returns: the file's bytes and the encoder's choices."""

    data: bytes
    choices: np.ndarray  # nsq: cell k per sample; rec: candidate index per block
    header_bits: int
    payload_bits: int
    samples: int
    seconds: float

    @property
    def rate(self):
        """Payload bits per sample."""
        return self.payload_bits / self.samples

    def summary(self):
        return {"samples": self.samples, "bits": 8 * len(self.data), "header_bits": self.header_bits,
                "payload_bits": self.payload_bits, "bits_per_sample": round(self.rate, 4),
                "seconds": round(self.seconds, 4)}


def _as_samples(values, name):
    try:
        array = np.asarray(values)
    except Exception:
        raise InputError(f"{name} must be a numeric array") from None
    if array.dtype == object or not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise InputError(f"{name} must be a numeric array, got dtype {array.dtype}")
    if array.size == 0:
        raise InputError(f"{name} is empty")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise InputError(f"{name} holds NaN or infinite values")
    return array


def dithers(seed, count):
    """The shared dither u in [-1/2, 1/2) of samples 0..count-1 (STREAM_DITHER, block 0)."""
    return uniforms(seed, stream_word(STREAM_DITHER, 0), 0, 0, count) - 0.5


def _blocks(count, dims):
    starts = np.arange(0, count, dims, dtype=np.int64)
    return starts, np.minimum(dims, count - starts).astype(np.int64)


def _nsq_probabilities(source, u, delta, cosets):
    p = coset_probabilities(u, float(delta), int(cosets), math.sqrt(source.var_x))
    return np.maximum(p, _PROB_FLOOR)


def _check_nsq(params):
    if params.coset_code == "marginal" and params.cosets > MAX_CODED_COSETS:
        raise InputError(f"coset_code 'marginal' handles at most {MAX_CODED_COSETS} cosets, got {params.cosets}; "
                         "use coset_code 'uniform'")


def encode(x, model, seed):
    """Encode samples x for a decoder that holds side information.

    Args:
        x (array_like): the samples, any shape, finite.
        model (WZModel): source, scheme and its parameters.
        seed (int): shared seed in [0, 2^64); never stored.
    Returns:
        WZEncodeResult.
    Raises:
        InputError: invalid samples, seed or model parameters.
    """
    started = time.perf_counter()
    x = _as_samples(x, "x")
    k0, k1 = split_seed(seed)
    params = model.params()
    flat = x.ravel()
    writer = PayloadWriter()
    if model.scheme == "nsq":
        _check_nsq(params)
        u = dithers(seed, flat.size)
        scaled = flat / params.delta - u + 0.5
        if np.abs(scaled).max() >= 2.0**62:
            raise InputError("x / delta is too large: choose a larger delta")
        choices = np.floor(scaled).astype(np.int64)
        sent = np.mod(choices, params.cosets)
        if params.coset_code == "marginal":
            writer.add_categorical(sent, _nsq_probabilities(model.source, u, params.delta, params.cosets))
        else:
            writer.add_uniform(sent, params.cosets)
        header_params = {"wz_delta": params.delta, "wz_cosets": params.cosets,
                         "wz_coset_code": COSET_CODES.index(params.coset_code)}
    else:
        sv2 = params.sigma_v2
        starts, lengths = _blocks(flat.size, params.dims)
        choices, labels = rec_encode(k0, k1, flat, starts, lengths, model.source.var_x + sv2, sv2,
                                     params.labels, params.candidates)
        writer.add_uniform(labels, params.labels)
        header_params = {"wz_sigma_v2": sv2, "wz_labels": params.labels, "wz_candidates": params.candidates,
                         "wz_block_dims": params.dims}
    header = container.Header(algorithm=_ALGORITHM[model.scheme], shape=tuple(x.shape),
                              tag=container.seed_tag(seed, model.source.tag_vector(), np.zeros(0)),
                              params=header_params)
    data = container.pack(header, writer.finish())
    head = container.header_size(data)
    return WZEncodeResult(data=data, choices=choices, header_bits=8 * head, payload_bits=8 * (len(data) - head),
                          samples=flat.size, seconds=time.perf_counter() - started)


def _param(header, name):
    if name not in header.params:
        raise FormatError(f"the file lacks its parameter {name}")
    return header.params[name]


def _soft_normals(count, dims):
    """Fixed standard normals for the soft REC decoder: stratified quantiles in 1-D."""
    if count <= 0:
        return np.zeros((0, dims))
    if dims == 1:
        return np.array([ndtri_as241((j + 0.5) / count) for j in range(count)]).reshape(count, 1)
    return np.random.default_rng(0x5EED).standard_normal((count, dims))


def _draw_groups(z, groups):
    """Group the soft decoder's prior draws into nearby sets (a few rounds of k-means).

    Only the speed of decoding depends on the grouping: each draw's search is exact for
    any group, and the estimate sums the draws in their own order.
    Returns:
        (int64 (count,) group of each draw, number of groups).
    """
    if z.shape[0] == 0:
        return np.zeros(0, dtype=np.int64), 1
    groups = max(1, min(groups, z.shape[0]))
    centres = z[np.linspace(0, z.shape[0] - 1, groups).astype(np.int64)].copy()
    for _ in range(SOFT_GROUP_ROUNDS):
        label = np.argmin(((z[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2), axis=1)
        for g in range(groups):
            if np.any(label == g):
                centres[g] = z[label == g].mean(axis=0)
    return label.astype(np.int64), groups


def decode_with_choices(data, y, model, seed, decoder=None, max_dims=container.MAX_DIMS):
    """Decode with side information y; also return the hard decoder's choices.

    Args:
        data (bytes): a wz-nsq or wz-rec file.
        y (array_like): side information, the file's shape.
        model (WZModel): the encoder's source and scheme; the decoder ("soft"/"hard")
            comes from it unless ``decoder`` is given. The scheme's coding parameters are
            read from the file.
        seed (int): the encoder's seed.
        decoder (str or None): "soft" or "hard".
        max_dims (int): the most elements a file may declare (``--max-dims``).
    Returns:
        (xhat, choices): float64 estimate of x in the file's shape, and the hard choices
        (nsq: cell per sample; rec: candidate per block, -1 when no candidate carries the
        label).
    Raises:
        FormatError: not a Wyner-Ziv file, or a corrupt one.
        MismatchError: another seed, source or scheme than the encoder's.
        InputError: side information of another shape, or invalid values.
    """
    header, words = container.unpack(data)
    if header.algorithm not in _SCHEME_OF:
        raise FormatError(f"this is a {header.algorithm!r} file, not a Wyner-Ziv one; use reccodec decode")
    scheme = _SCHEME_OF[header.algorithm]
    if scheme != model.scheme:
        raise MismatchError(f"the file was coded with scheme {scheme!r} but the model names {model.scheme!r}")
    split_seed(seed)
    container.check_header(header, max_dims)
    shape = tuple(header.shape)
    y = _as_samples(y, "side information")
    if y.shape != shape:
        raise InputError(f"side information has shape {y.shape} but the file holds shape {shape}")
    if seed_tag_of(seed, model) != header.tag:
        raise MismatchError(_TAG_MISMATCH)
    k0, k1 = split_seed(seed)
    source = model.source
    count = y.size
    mean = source.coef * y.ravel()
    section = getattr(model, scheme)
    decoder = decoder or (section.decoder if section is not None else "soft")
    if decoder not in DECODERS:
        raise InputError(f"decoder must be one of {', '.join(DECODERS)}, got {decoder!r}")
    reader = PayloadReader(words)
    if scheme == "nsq":
        delta = float(_param(header, "wz_delta"))
        cosets = int(_param(header, "wz_cosets"))
        code = COSET_CODES[int(_param(header, "wz_coset_code"))]
        problem = _nsq_problem(source, delta, cosets, code)
        if problem is not None:
            raise FormatError(f"the file's nsq parameters are out of range for the model's source ({problem}): "
                              "the file is corrupt or was coded for another source")
        u = dithers(seed, count)
        if code == "marginal":
            sent = np.empty(count, dtype=np.int64)
            rows = max(1, _ROWS_PER_READ // cosets)  # the table of count x L probabilities, a part at a time
            for lo in range(0, count, rows):
                hi = min(lo + rows, count)
                sent[lo:hi] = reader.read_categorical(hi - lo, _nsq_probabilities(source, u[lo:hi], delta, cosets))
        else:
            sent = reader.read_uniform(cosets, count)
        reader.finish()
        xhat, choices, status = nsq_decode(mean, math.sqrt(source.cond_var), sent, u, delta, cosets,
                                           decoder == "soft")
    else:
        sv2 = float(_param(header, "wz_sigma_v2"))
        labels = int(_param(header, "wz_labels"))
        cap = int(_param(header, "wz_candidates"))
        dims = int(_param(header, "wz_block_dims"))
        problem = _sv2_problem(source, sv2)
        if problem is None and labels > 2**23 and labels & (labels - 1):
            problem = f"labels above 2^23 must be a power of two, got {labels}"
        if problem is not None:
            raise FormatError(f"the file's rec parameters are out of range for the model's source ({problem}): "
                              "the file is corrupt or was coded for another source")
        starts, lengths = _blocks(count, dims)
        sent = reader.read_uniform(labels, starts.size)
        reader.finish()
        params = model.rec or RECParams(sv2, math.log2(labels), cap, dims)
        problem = _soft_problem(params)
        if problem is not None:
            raise InputError(f"the model's rec section: {problem}")
        g0 = params.soft_draws // 2
        components = params.components
        gc = max(1, (params.soft_draws - g0) // components)
        z_prior = _soft_normals(g0, dims)
        # more lists mean shorter ones but one more scan of up to N candidates each
        prior_group, prior_groups = _draw_groups(z_prior, min(g0 // SOFT_DRAWS_PER_GROUP, SOFT_SCAN_BUDGET // cap))
        xhat, choices, status = rec_decode(k0, k1, mean, starts, lengths, source.cond_var, source.var_x + sv2, sv2,
                                           labels, cap, sent, decoder == "soft", z_prior, prior_group, prior_groups,
                                           _soft_normals(gc, dims), components, 2.0)
    if status:
        raise FormatError(_KERNEL_STATUS.get(int(status), f"decoding failed with status {int(status)}"))
    return xhat.reshape(shape), choices


def seed_tag_of(seed, model):
    """The file tag of (seed, source)."""
    return container.seed_tag(seed, model.source.tag_vector(), np.zeros(0))


def decode(data, y, model, seed, decoder=None, max_dims=container.MAX_DIMS):
    """``decode_with_choices`` without the choices: the estimate of x."""
    return decode_with_choices(data, y, model, seed, decoder, max_dims)[0]


# --------------------------------------------------------------------------- design


def _nsq_training(model, rate, x, y, rng):
    source = model.source
    base = model.nsq or NSQParams(1.0, 2)
    s = math.sqrt(source.cond_var)
    u = rng.uniform(-0.5, 0.5, x.size)
    if base.coset_code == "uniform":
        cosets_grid = sorted({max(1, int(math.floor(2.0**rate + 1e-9)))})
    else:
        cosets_grid = sorted({max(1, int(round(2.0 ** (rate + j / 4.0)))) for j in range(-4, 5)})
    rate_u = u[: min(x.size, 1000)]
    best = None
    for cosets in cosets_grid:
        if base.coset_code == "marginal" and cosets > MAX_CODED_COSETS:
            continue
        for period in np.geomspace(1.5, 40.0, 32):
            delta = period * s / cosets
            if base.coset_code == "marginal":
                p = _nsq_probabilities(source, rate_u, delta, cosets)
                p = p / p.sum(axis=1, keepdims=True)
                bits = float(-(p * np.log2(p)).sum(axis=1).mean())
            else:
                bits = math.log2(cosets)
            if bits > rate + 1e-9:
                continue
            # The distortion is the exact integral over the dither: at high rates it is set
            # by coset mismatches rarer than 1 in 10^4, which training draws cannot see.
            mse = nsq_mse_theory(source, delta, cosets, base.decoder, grid=1024)
            if best is None or mse < best[0]:
                best = (mse, delta, cosets, bits)
    if best is None:
        raise InputError(f"no nsq parameters reach rate {rate} bits per sample")
    mse, delta, cosets, bits = best
    params = NSQParams(float(delta), int(cosets), base.decoder, base.coset_code)
    return replace(model, nsq=params), {"train_mse": mse, "train_bits": bits}


def _rec_trial(model, params, x, y, seed):
    trial = replace(model, rec=params)
    coded = encode(x, trial, seed)
    xhat = decode(coded.data, y, trial, seed)
    return float(np.mean((xhat - x) ** 2)), trial


def _rec_single(model, rate, x, y, seed, dims, decoder, soft_draws, components):
    """The per-block grid of the test channel with N from ``default_candidates``."""
    label_bits = rate * dims
    labels = max(1, int(round(2.0**label_bits)))
    best = None
    # quarter bits at low rates; at higher rates the mismatches need margins of several bits
    offsets = np.arange(-3.0, 0.01, 0.25) if rate < 3 else np.arange(-6.0, 0.01, 0.5)
    for offset in offsets:
        design_rate = rate + offset
        if design_rate < 0.1 and offset < 0:
            continue
        sv2 = source_sv2(model.source, design_rate)
        params = RECParams(float(sv2), math.log2(labels), default_candidates(model.source, sv2, dims), dims,
                           decoder, soft_draws, components)
        mse, trial = _rec_trial(model, params, x, y, seed)
        if best is None or mse < best[0]:
            best = (mse, trial, float(offset))
    return best


def source_sv2(source, design_rate):
    """sigma_v^2 of the test channel W = X + V whose rate I(X;W|Y) is ``design_rate`` bits."""
    return source.cond_var / (2.0 ** (2.0 * design_rate) - 1.0)


def joint_plan(source, rate, dims=None, budget_bits=JOINT_BUDGET_BITS):
    """The joint-coding configurations ``design`` tries at ``rate``: (dims, offset, log2 N).

    Coding d samples per block amortises the one-shot overhead of the Poisson matching
    lemma, and the decoder's work grows with N, so the largest d from ``JOINT_DIMS`` for
    which at least half of the configurations fit ``budget_bits`` is taken (failing that,
    the d with the most; or the given ``dims``). The codebook is near 2^(d I(X;W)), far
    below ``default_candidates``: N = 2^round(d (I(X;W) + m)) for margins m in
    ``JOINT_MARGINS`` bits per sample (fewer candidates share each label, against more
    choice for the encoder; which side wins depends on the source). The test channel's
    design rate is R + offset for offsets in ``JOINT_OFFSETS``. Labels L = 2^(R d) must
    fit 2^``JOINT_MAX_LABEL_BITS`` and N >= 2 L; repeated configurations are tried once.

    Returns:
        list of (dims, offset, log2 N); empty when no d > 1 fits.
    """
    def configs(d):
        out = []
        if rate * d > JOINT_MAX_LABEL_BITS + 1e-9:
            return out
        for offset in JOINT_OFFSETS:
            sv2 = source_sv2(source, rate + offset)
            info = 0.5 * math.log2((source.var_x + sv2) / sv2)
            for margin in JOINT_MARGINS:
                log_n = int(round(d * (info + margin)))
                if rate * d + 1 <= log_n <= budget_bits and (d, float(offset), log_n) not in out:
                    out.append((d, float(offset), log_n))
        return out

    if dims is not None:
        return configs(dims)
    plans = [configs(d) for d in sorted(JOINT_DIMS, reverse=True)]
    full = len(JOINT_OFFSETS) * len(JOINT_MARGINS)
    for plan in plans:
        if 2 * len(plan) >= full:
            return plan
    return max(plans, key=len)


def _rec_training(model, rate, x, y, seed, dims=None, budget_bits=JOINT_BUDGET_BITS):
    base = model.rec
    decoder = base.decoder if base else "soft"
    plan = [] if dims == 1 else joint_plan(model.source, rate, dims, budget_bits)
    best = None
    if dims is None or not plan:  # one sample per block, or a fixed block no joint configuration fits
        best = _rec_single(model, rate, x, y, seed, dims or 1, decoder, 64, 4)
    for d, offset, log_n in plan:
        sv2 = source_sv2(model.source, rate + offset)
        labels = max(1, int(round(2.0 ** (rate * d))))
        params = RECParams(float(sv2), math.log2(labels), 2**log_n, d, decoder, JOINT_SOFT_DRAWS,
                           JOINT_COMPONENTS)
        mse, trial = _rec_trial(model, params, x, y, seed)
        if best is None or mse < best[0]:
            best = (mse, trial, offset)
    mse, trial, offset = best
    return trial, {"train_mse": mse, "train_bits": trial.rec.label_bits / trial.rec.dims, "design_offset": offset,
                   "joint_configurations": len(plan)}


def design(model, rate, train_samples=None, seed=2**40 + 17, dims=None, budget_bits=None):
    """Pick the scheme's parameters for a target rate on training draws.

    The draws come from the source with a numpy generator seeded by ``seed`` (and, for
    REC, the codec runs with that seed as its shared seed), so they never coincide with
    evaluation draws made otherwise.

    - nsq: a grid of L around 2^R (only L <= 2^R with a uniform coset code) and of the
      period L Delta in posterior standard deviations; the rate is the mean ideal code
      length of the coset index on the draws (log2 L for a uniform code), the MSE the
      decoder's exact integral over the dither (``nsq_mse_theory``: on draws, mismatches
      rarer than one in 10^4 would go unseen and the design would pick too short a
      period); the lowest MSE with rate <= R wins.
    - rec: L = round(2^(R d)); sigma_v^2 = sigma^2_{x|y} / (2^(2R') - 1). One sample per
      block: R' from R - 3 to R in quarter bits (R < 3), or from R - 6 to R in half bits (a
      test channel below the rate leaves margin for the one-shot mismatches, whose rate
      depends on R - R' and not on R), N from ``default_candidates``, 64 soft draws. Joint
      blocks: the configurations of ``joint_plan`` (the largest block that fits the
      candidate budget, a smaller codebook), 1024 soft draws with 8 components. The
      lowest measured MSE over both wins.

    Args:
        model (WZModel): the source and scheme; the decoder and coset code of an existing
            section are kept.
        rate (float): bits per sample, > 0.
        train_samples (int or None): draws (default 20,000 for nsq, 3,000 for rec).
        seed (int): training seed.
        dims (int or None): rec only: samples per block; None lets the design choose
            (one, or the joint block of ``joint_plan``). A fixed block that no joint
            configuration fits gets the one-sample grid with that block.
        budget_bits (int or None): rec only: joint blocks get at most 2^budget_bits
            candidates (``joint_plan``; None: ``JOINT_BUDGET_BITS``). More candidates can
            lower the MSE where I(X;W) is large; the decoder's time grows about in step.
    Returns:
        (WZModel, dict): the model with the scheme's section filled, and training figures.
    Raises:
        InputError: a rate out of (0, 16], too few training draws, a bad ``dims`` or
            ``budget_bits``.
    """
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate) or not 0 < rate <= 16:
        raise InputError(f"rate must be in (0, 16] bits per sample, got {rate!r}")
    if train_samples is None:
        train_samples = 20000 if model.scheme == "nsq" else 3000
    if int(train_samples) < 100:
        raise InputError(f"train_samples must be at least 100, got {train_samples}")
    if dims is not None and (isinstance(dims, bool) or not isinstance(dims, int) or not 1 <= dims <= 64):
        raise InputError(f"dims must be an integer in [1, 64], got {dims!r}")
    max_bits = MAX_CANDIDATES.bit_length() - 1
    if budget_bits is None:
        budget_bits = JOINT_BUDGET_BITS
    if isinstance(budget_bits, bool) or not isinstance(budget_bits, int) or not 2 <= budget_bits <= max_bits:
        raise InputError(f"budget_bits must be an integer in [2, {max_bits}], got {budget_bits!r}")
    rng = np.random.default_rng(seed)
    x, y = model.source.sample(int(train_samples), rng)
    if model.scheme == "nsq":
        return _nsq_training(model, float(rate), x, y, rng)
    return _rec_training(model, float(rate), x, y, seed, dims, budget_bits)
