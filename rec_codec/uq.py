"""Universal quantization (UQ): send y + U, U ~ U[-1/2, 1/2), with about H[K|U] bits.

Ziv, "On universal quantization", IEEE Trans. IT 1985; Agustsson & Theis, "Universally
quantized neural compression", NeurIPS 2020. Encoder and decoder share a dither u_i per
element, drawn from the seed (stream ``STREAM_DITHER``, element i at position i, so the
decoder reaches it directly). The encoder sends k = round(y - u); the decoder returns
y_hat = k + u, so that y_hat - y ~ U[-1/2, 1/2) independently of y, bit for bit the
encoder's y_hat. k is entropy coded under the prior of y (CDF C, Gaussian or Laplace):

    P(k | u) = C(k + u + 1/2) - C(k + u - 1/2),

a quantized Gaussian or Laplace in constriction with its mean shifted by -u.

**Soft rounding** (``alpha``). The channel input becomes z = s_alpha(y) (``soft_round``):
k = round(s_alpha(y) - u), and the decoder returns r_alpha(k + u), the MSE reconstruction
(``soft_round_conditional_mean``). The prior of z is the pushforward of y's prior, with CDF
C(s_alpha^-1(t)), so P(k | u) = C(g(k + u + 1/2)) - C(g(k + u - 1/2)), g = s_alpha^-1. Since
g(t + 1) = g(t) + 1, both ends shift by the same amount, and

    P(k | u) = C(k + u' + 1/2) - C(k + u' - 1/2),   u' = g(u + 1/2) - 1/2
                                                        = atanh(2 tanh(alpha/2) u) / alpha,

the same quantized model with the dither u replaced by u' (and the output is k + u').
So soft rounding costs nothing in speed: the coder still takes one parameter array per
element.

**Ranges.** constriction gives every symbol in a model's range at least 2^-24 of mass, so
ranges are kept tight: k is coded as j = k - round(loc), and elements are grouped by the
octave of their prior scale; group g codes j in [-R_g, R_g], R_g = ceil(T 2^g) + 2 (T = 12
for Gaussian, 20 for Laplace), widened by an escape count sent first (Zipf-coded, almost
always 0), so an outlier y costs bits, never an error, while 2 R_g + 1 <= 2^24.
"""

import io
import time
from dataclasses import dataclass, field

import numpy as np

from . import container
from .entropy import PayloadReader, PayloadWriter, zipf_lambda, zipf_octave_probabilities
from .errors import FormatError, InputError, MismatchError
from .philox_numpy import philox_uniforms
from .seed import STREAM_DITHER, split_seed
from .soft_rounding import check_alpha, soft_round, soft_round_conditional_mean, soft_round_inverse

__all__ = [
    "FAMILIES",
    "UQPrior",
    "UQResult",
    "dither",
    "encode_uq",
    "decode_uq",
    "uq_information_bits",
    "load_uq_values",
    "load_uq_prior",
    "load_uq_values_bytes",
]

#: Prior family name -> (id stored in the file, the .npz keys of its two parameters).
FAMILIES = {"gaussian": (0, ("mean", "std")), "laplace": (1, ("loc", "scale"))}
_TAIL = {"gaussian": 12.0, "laplace": 20.0}
_MAX_SCALE_LOG2 = 18
_MIN_SCALE_LOG2 = -30
_MAX_RANGE = 2**23 - 1
_MAX_LOC = 2.0**50
_ESCAPE_OCTAVES = None


@dataclass(frozen=True, eq=False)
class UQPrior:
    """The prior of y per element: Gaussian (loc = mean, scale = std) or Laplace (loc, scale).

    Args:
        family (str): "gaussian" or "laplace".
        loc (array_like): location per element.
        scale (array_like): scale per element, > 0; broadcastable against loc.
    Raises:
        InputError: an unknown family, NaN or infinite values, or scale <= 0.
    """

    family: str
    loc: np.ndarray
    scale: np.ndarray

    def __init__(self, family, loc, scale, name="prior"):
        if family not in FAMILIES:
            raise InputError(f"unknown prior family {family!r}; choose one of {', '.join(FAMILIES)}")
        keys = FAMILIES[family][1]
        try:
            loc = np.asarray(loc, dtype=np.float64)
            scale = np.asarray(scale, dtype=np.float64)
            loc, scale = np.broadcast_arrays(loc, scale)
        except (TypeError, ValueError):
            raise InputError(f"{name}: {keys[0]} and {keys[1]} must be numeric arrays of matching shapes") from None
        if not np.isfinite(loc).all() or not np.isfinite(scale).all():
            raise InputError(f"{name}: {keys[0]} and {keys[1]} must be finite")
        if (scale <= 0).any():
            raise InputError(f"{name}: {keys[1]} must be > 0")
        if (np.abs(loc) >= _MAX_LOC).any():
            raise InputError(f"{name}: |{keys[0]}| must be below 2^50")
        if (scale > 2.0**_MAX_SCALE_LOG2).any():
            raise InputError(f"{name}: {keys[1]} must be at most 2^{_MAX_SCALE_LOG2} for UQ")
        object.__setattr__(self, "family", family)
        object.__setattr__(self, "loc", np.array(loc, dtype=np.float64))
        object.__setattr__(self, "scale", np.array(scale, dtype=np.float64))

    def views(self, shape, name="prior"):
        """loc and scale as read-only views of ``shape`` (nothing is copied)."""
        try:
            return np.broadcast_to(self.loc, shape), np.broadcast_to(self.scale, shape)
        except ValueError:
            raise InputError(f"{name} has shape {self.loc.shape}, which does not fit values of shape {tuple(shape)}") from None

    def broadcast_to(self, shape, name="prior"):
        """Flat loc and scale arrays for an array of ``shape``."""
        loc, scale = self.views(shape, name)
        return np.ascontiguousarray(loc).ravel(), np.ascontiguousarray(scale).ravel()

    def standard_cdf(self, t):
        """CDF of the standardised prior, (x - loc) / scale, at t."""
        from scipy import special  # imported here: scipy.special costs 0.3 s of CLI start-up

        if self.family == "gaussian":
            return special.ndtr(t)
        return np.where(t < 0, 0.5 * np.exp(np.minimum(t, 0.0)), -0.5 * np.expm1(-np.maximum(t, 0.0)) + 0.5)


@dataclass
class UQResult:
    """What ``encode_uq`` returns: the file's bytes, the encoder's y_hat and the figures."""

    data: bytes
    sample: np.ndarray
    header_bits: int
    payload_bits: int
    information_bits: float
    seconds: float
    family: str
    alpha: float | None
    algorithm: str = "uq"
    extra: dict = field(default_factory=dict)

    @property
    def bits(self):
        return 8 * len(self.data)

    def summary(self):
        """A JSON-ready dict: bits, header_bits, payload_bits, information_bits, elements, ..."""
        return {
            "algorithm": "uq",
            "bits": self.bits,
            "header_bits": self.header_bits,
            "payload_bits": self.payload_bits,
            "information_bits": round(self.information_bits, 3),
            "elements": int(self.sample.size),
            "family": self.family,
            "alpha": self.alpha,
            "approximate": False,
            "seconds": round(self.seconds, 4),
            **self.extra,
        }


def dither(seed, count):
    """The shared dithers u_0 .. u_{count-1}, in (-1/2, 1/2).

    Args:
        seed (int): shared seed.
        count (int): number of elements.
    Returns:
        np.ndarray: float64 of shape (count,).
    """
    return philox_uniforms(seed, STREAM_DITHER, 0, 0, int(count)) - 0.5


def _effective_dither(u, alpha):
    """u' with P(k|u) = C(k + u' + 1/2) - C(k + u' - 1/2) and output k + u' (module docstring)."""
    if alpha is None:
        return u
    return soft_round_inverse(u + 0.5, alpha) - 0.5


def _groups(scale):
    """Octave group of each element's prior scale, and the sorted groups present."""
    g = np.clip(np.ceil(np.log2(scale)), _MIN_SCALE_LOG2, _MAX_SCALE_LOG2).astype(np.int64)
    return g, np.unique(g)


def _base_range(family, g):
    return int(np.ceil(_TAIL[family] * 2.0**g)) + 2


def _escape_octaves():
    global _ESCAPE_OCTAVES
    if _ESCAPE_OCTAVES is None:
        _ESCAPE_OCTAVES = zipf_octave_probabilities(zipf_lambda(0.0))
    return _ESCAPE_OCTAVES


def _model_means(loc, u_eff):
    centre = np.floor(loc + 0.5)
    return centre, loc - u_eff - centre


def uq_information_bits(k, u, prior_loc, prior_scale, prior, alpha=None):
    """Sum of -log2 P(k|u) over elements: the ideal payload of ``encode_uq``.

    Args:
        k (np.ndarray): int64 symbols, flat.
        u (np.ndarray): dithers, flat.
        prior_loc, prior_scale (np.ndarray): flat prior parameters.
        prior (UQPrior): gives the family.
        alpha (float or None): soft rounding sharpness.
    Returns:
        float.
    """
    ue = _effective_dither(u, alpha)
    lo = (k + ue - 0.5 - prior_loc) / prior_scale
    hi = (k + ue + 0.5 - prior_loc) / prior_scale
    upper = lo > 0  # in the upper tail, difference the survival function instead
    mass = np.where(upper, prior.standard_cdf(-lo) - prior.standard_cdf(-hi),
                    prior.standard_cdf(hi) - prior.standard_cdf(lo))
    return float(-np.log2(np.maximum(mass, 1e-300)).sum())


def _plan(family, g, groups, j):
    """Range per group: the base range widened by the escape count."""
    ranges, escapes = [], []
    for grp in groups.tolist():
        base = _base_range(family, grp)
        biggest = int(np.abs(j[g == grp]).max())
        ranges.append(max(base, biggest))
        escapes.append(max(0, biggest - base))
    return ranges, escapes


def _write_payload(family, g, groups, j, mean, scale):
    ranges, escapes = _plan(family, g, groups, j)
    if max(ranges) > _MAX_RANGE:
        i = int(np.argmax(np.abs(j) > _MAX_RANGE)) if (np.abs(j) > _MAX_RANGE).any() else 0
        raise InputError(f"element {i} lies too far from its prior ({int(np.abs(j).max())} units): "
                         f"UQ codes at most {_MAX_RANGE} units from the prior location")
    writer = PayloadWriter()
    writer.add_indices(np.array(escapes, dtype=np.int64), _escape_octaves())
    for grp, r in zip(groups.tolist(), ranges):
        sel = g == grp
        _add_group(writer, family, j[sel], r, mean[sel], scale[sel])
    return writer.finish()


def _add_group(writer, family, j, r, mean, scale):
    if family == "gaussian":
        writer.add_quantized_gaussian(j, -r, r, mean, scale)
    else:
        writer.add_quantized_laplace(j, -r, r, mean, scale)


def _read_group(reader, family, count, r, mean, scale):
    if family == "gaussian":
        return reader.read_quantized_gaussian(count, -r, r, mean, scale)
    return reader.read_quantized_laplace(count, -r, r, mean, scale)


def _params(family, alpha):
    params = {"uq_family": FAMILIES[family][0]}
    if alpha is not None:
        params["uq_alpha"] = alpha
    return params


def encode_uq(y, prior, seed, alpha=None):
    """Universally quantize y and entropy code it under its prior (module docstring).

    Args:
        y (array_like): the values, any shape, finite.
        prior (UQPrior): prior of y per element, broadcastable to y's shape.
        seed (int): shared seed; never stored in the file.
        alpha (float or None): soft rounding sharpness (> 0); None for plain UQ.
    Returns:
        UQResult: ``sample`` is y_hat, what ``decode_uq`` returns, bit for bit.
    Raises:
        InputError: non-finite y, a bad prior, seed or alpha, or a y too far from its prior.
    """
    started = time.perf_counter()
    split_seed(seed)
    if alpha is not None:
        alpha = check_alpha(alpha)
    if not isinstance(prior, UQPrior):
        raise InputError("prior must be a UQPrior (Gaussian mean/std or Laplace loc/scale)")
    try:
        y = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError("y must be a numeric array") from None
    if y.size == 0:
        raise InputError("y is empty")
    if not np.isfinite(y).all():
        raise InputError("y must be finite (it holds NaN or inf)")
    loc, scale = prior.broadcast_to(y.shape)
    flat = y.ravel()
    u = dither(seed, flat.size)
    z = flat if alpha is None else soft_round(flat, alpha)
    k = np.floor(z - u + 0.5)
    u_eff = _effective_dither(u, alpha)
    centre, mean = _model_means(loc, u_eff)
    j_float = k - centre
    if (np.abs(j_float) > _MAX_RANGE).any():
        i = int(np.argmax(np.abs(j_float) > _MAX_RANGE))
        raise InputError(f"y{_where(y.shape, i)} = {flat[i]:g} lies too far from its prior location "
                         f"{loc[i]:g}: UQ codes at most {_MAX_RANGE} units away")
    j = j_float.astype(np.int64)
    g, groups = _groups(scale)
    words = _write_payload(prior.family, g, groups, j, mean, scale)
    header = container.Header(algorithm="uq", shape=tuple(y.shape), tag=_tag(seed, prior, y.shape),
                              params=_params(prior.family, alpha))
    data = container.pack(header, words)
    y_hat = _reconstruct(k, u, alpha).reshape(y.shape)
    head = container.header_size(data)
    return UQResult(
        data=data,
        sample=y_hat,
        header_bits=8 * head,
        payload_bits=8 * (len(data) - head),
        information_bits=uq_information_bits(k, u, loc, scale, prior, alpha),
        seconds=time.perf_counter() - started,
        family=prior.family,
        alpha=alpha,
    )


def _where(shape, i):
    return str(list(int(x) for x in np.unravel_index(i, shape))) if len(shape) != 1 else f"[{i}]"


def _reconstruct(k, u, alpha):
    if alpha is None:
        return k + u
    return soft_round_conditional_mean(k + u, alpha)


def _tag(seed, prior, shape):
    loc, scale = prior.broadcast_to(shape)
    return container.seed_tag(seed, loc.reshape(shape), scale.reshape(shape))


def decode_uq(data, seed, prior, max_dims=container.MAX_DIMS):
    """Decode a UQ file into the encoder's y_hat, bit for bit.

    Args:
        data (bytes): the file's content.
        seed (int): the encoder's seed.
        prior (UQPrior): the encoder's prior of y.
        max_dims (int): the most elements a file may declare (``--max-dims``).
    Returns:
        np.ndarray: float64 y_hat of the encoded shape (y + u, or r_alpha(s_alpha(y) + u)).
    Raises:
        FormatError: corrupt data, not a UQ file, a parameter out of range, or more than
            max_dims elements.
        MismatchError: another seed, prior or prior family than the encoder's.
        InputError: a missing prior, or one that does not fit the file's shape.
    """
    header, words = container.unpack(data)
    if header.algorithm != "uq":
        raise FormatError(f"not a uq file (algorithm {header.algorithm!r})")
    split_seed(seed)
    if prior is None:
        raise InputError("decoding a uq file needs the prior of y (--prior: mean/std or loc/scale)")
    if not isinstance(prior, UQPrior):
        raise InputError("prior must be a UQPrior (Gaussian mean/std or Laplace loc/scale)")
    family_id = header.params.get("uq_family")
    families = {ident: name for name, (ident, _) in FAMILIES.items()}
    if family_id not in families:
        raise FormatError("the uq file lacks a valid prior family")
    if families[family_id] != prior.family:
        want = FAMILIES[families[family_id]][1]
        raise MismatchError(f"this file was coded with a {families[family_id]} prior ({want[0]}/{want[1]}), "
                            f"not a {prior.family} one")
    alpha = header.params.get("uq_alpha")
    shape = tuple(header.shape)
    count = container.check_header(header, max_dims)  # alpha's range and the shape, before any allocation
    if count == 0:
        raise FormatError("the file holds an empty array")
    container.check_tag(header, seed, *prior.views(shape), max_dims)  # the prior is copied only after the tag matches
    loc, scale = prior.broadcast_to(shape)
    u = dither(seed, count)
    centre, mean = _model_means(loc, _effective_dither(u, alpha))
    g, groups = _groups(scale)
    reader = PayloadReader(words)
    escapes = reader.read_indices(groups.size, _escape_octaves())
    j = np.empty(count, dtype=np.int64)
    for grp, esc in zip(groups.tolist(), escapes.tolist()):
        r = _base_range(prior.family, grp) + int(esc)
        if r > _MAX_RANGE:
            raise FormatError("a uq range is out of bounds: the file is corrupt")
        sel = g == grp
        j[sel] = _read_group(reader, prior.family, int(sel.sum()), r, mean[sel], scale[sel])
    reader.finish()
    return _reconstruct(j + centre, u, alpha).reshape(shape)


# --------------------------------------------------------------------------- files


def _load_npz(data, name):
    try:
        loaded = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as e:  # zipfile, pickle and format errors of every kind
        raise InputError(f"{name}: not a readable .npz file ({type(e).__name__}: {e})") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise InputError(f"{name}: expected an .npz archive, got a single array")
    with loaded as npz:
        try:
            return {key: npz[key] for key in npz.files}
        except Exception as e:
            raise InputError(f"{name}: not a readable .npz file ({type(e).__name__}: {e})") from None


def _numeric(arrays, key, name):
    values = arrays[key]
    if not (np.issubdtype(values.dtype, np.floating) or np.issubdtype(values.dtype, np.integer)):
        raise InputError(f"{name}: {key} must be a numeric array, got dtype {values.dtype}")
    return values


def _prior_from(arrays, name):
    found = [family for family, (_, keys) in FAMILIES.items() if any(k in arrays for k in keys)]
    if not found:
        raise InputError(f"{name}: missing the prior of y: arrays 'mean' and 'std' (Gaussian) "
                         f"or 'loc' and 'scale' (Laplace); it holds {sorted(arrays)}")
    if len(found) > 1:
        raise InputError(f"{name}: holds both Gaussian (mean/std) and Laplace (loc/scale) prior arrays; keep one pair")
    family = found[0]
    keys = FAMILIES[family][1]
    for key in keys:
        if key not in arrays:
            raise InputError(f"{name}: missing array {key!r} of the {family} prior (it holds {sorted(arrays)})")
    return UQPrior(family, _numeric(arrays, keys[0], name), _numeric(arrays, keys[1], name), name=name)


def load_uq_values_bytes(data, name):
    """(y, UQPrior) from the bytes of an .npz with ``y`` and mean/std or loc/scale.

    Raises:
        InputError: not an .npz, a missing key, or invalid values.
    """
    arrays = _load_npz(data, name)
    if "y" not in arrays:
        raise InputError(f"{name}: missing array 'y' (it holds {sorted(arrays)})")
    return _numeric(arrays, "y", name), _prior_from(arrays, name)


def load_uq_values(path):
    """``load_uq_values_bytes`` of a file."""
    return load_uq_values_bytes(container.read_file(path), str(path))


def load_uq_prior(path):
    """The UQPrior in an .npz (mean/std or loc/scale; a ``y`` array is ignored)."""
    return _prior_from(_load_npz(container.read_file(path), str(path)), str(path))
