"""Entropy coding of REC payloads: the index code, a payload stream and index models.

This module owns every use of the entropy coder (constriction's ``AnsCoder``, a stack);
the rest of the package asks it for a :class:`PayloadWriter` / :class:`PayloadReader`
and for index models by name.  All models are constriction model *families* with
per-symbol parameter arrays (or one concrete model shared by all symbols), always with
``perfect=False``, and symbols as ``int32``, so no Python loop runs per symbol.

**The index code.**  constriction has no unbounded model for the index ``n >= 0`` that
a REC algorithm selects, so ``n`` is split as ``n + 1 = 2**b + r`` with
``0 <= r < 2**b``: the octave ``b`` is coded with a categorical model over
:data:`N_OCTAVES` octaves (a Zipf law by default, see :func:`zipf_octave_probabilities`,
or an :class:`EmpiricalIndexModel`), and ``r`` with a uniform model over ``2**b``
values, split into chunks of at most :data:`CHUNK_BITS` bits (low chunk first).  The
octave ``b = 0`` has an empty remainder, which costs nothing and is not coded.  An
index therefore costs ``-log2 P(b) + b`` bits (:func:`index_code_bits`).

The default Zipf law ``P(n) ∝ (n + 1)**-lam`` with
``lam = 1 + 1 / (budget + log2(e) / e + 1)`` (:func:`zipf_lambda`) is the one of Li and
El Gamal, "Strong functional representation lemma and applications to coding theorems"
(IEEE Trans. Inf. Theory, 2018), for the index of the Poisson functional representation.

**The payload stream.**  A :class:`PayloadWriter` records *parts* (indices, uniform
values, quantized Gaussians, categoricals) and, at :meth:`PayloadWriter.finish`, pushes
them onto one ``AnsCoder`` in reverse, so that a :class:`PayloadReader` pops them in the
order they were added.  Under all the parts the writer puts a fixed check symbol; the
reader's :meth:`PayloadReader.finish` pops it and requires the coder to be exactly
empty afterwards.  ANS decoding never runs out of data by itself (an exhausted coder
keeps returning symbol 0), so this check is what detects truncated data, leftover
data and a reader that used another model; in practice it costs no bits, because it
fills the bottom of the ANS state that the first symbols leave unused.  The words are
little-endian ``uint32``.
"""

from __future__ import annotations

import io
import json
import math
import operator
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import constriction
import numpy as np

from rec_codec.container import atomic_write
from rec_codec.errors import FormatError, InputError

__all__ = [
    "N_OCTAVES",
    "CHUNK_BITS",
    "MAX_INDEX",
    "MAX_ALPHABET",
    "INDEX_MODEL_FORMAT",
    "INDEX_MODEL_VERSION",
    "zipf_lambda",
    "zipf_octave_probabilities",
    "index_code_bits",
    "PayloadWriter",
    "PayloadReader",
    "EmpiricalIndexModel",
]

N_OCTAVES = 64
"""Number of octaves ``b`` (``n + 1`` in ``[2**b, 2**(b + 1))``) in the index code."""

CHUNK_BITS = 23
"""Largest number of bits coded by one uniform symbol (constriction allows < 2**24)."""

MAX_INDEX = 2**63 - 2
"""Largest codable index: ``n + 1`` must fit in int64, so octaves ``b <= 62``."""

MAX_ALPHABET = 2**24
"""Largest alphabet of a quantized Gaussian or categorical symbol (constriction's limit)."""

INDEX_MODEL_FORMAT = "reccodec-index-model"
"""Value of the ``format`` key of an index model file."""

INDEX_MODEL_VERSION = 1
"""Version of the index model file format written by :meth:`EmpiricalIndexModel.save`."""

_MAX_UNIFORM_SIZE = 2**62
_N_CHUNKS = 3  # ceil(62 / CHUNK_BITS)
_MAX_OCTAVE = 62
_PROB_FLOOR = 1e-12
_EM_MIN_OCTAVE = 10  # octaves below this are summed term by term

# Check symbol at the bottom of the stack (see the module docstring).  Its cumulative
# frequency 2 * _SENTINEL ~ 2**15.5 stays below the slack of the ANS state, so it is
# free in practice, while the reader must land on exactly that state at the end.
_SENTINEL_SIZE = 1 << CHUNK_BITS
_SENTINEL = 0x5A5A

_CORRUPT = "payload is corrupt or truncated"


# --------------------------------------------------------------------------------------
# Zipf law over octaves
# --------------------------------------------------------------------------------------


def zipf_lambda(budget_bits: float) -> float:
    """Exponent of the Zipf index law for a block whose KL is about ``budget_bits``.

    ``lam = 1 + 1 / (budget_bits + log2(e) / e + 1)``, as in Li and El Gamal (2018),
    where ``budget_bits + log2(e) / e + 1`` bounds the expected log2 of the Poisson
    functional representation's index.

    Args:
        budget_bits: float, the block's KL budget in bits, finite and >= 0.

    Returns:
        float, the exponent ``lam > 1``.

    Raises:
        InputError: if ``budget_bits`` is not a finite number >= 0.
    """
    try:
        budget = float(budget_bits)
    except (TypeError, ValueError) as exc:
        raise InputError(f"budget_bits must be a number, got {budget_bits!r}") from exc
    if not math.isfinite(budget) or budget < 0:
        raise InputError(f"budget_bits must be finite and >= 0, got {budget}")
    return 1.0 + 1.0 / (budget + math.log2(math.e) / math.e + 1.0)


def _octave_sum_euler_maclaurin(lam: float, b: int) -> float:
    """Sum of ``m**-lam`` over ``m`` in ``[2**b, 2**(b + 1))`` by Euler-Maclaurin.

    The integral, the end-point correction and the Bernoulli terms up to ``B4`` are each
    written as ``A**(-p) * (1 - 2**(-p))`` with ``A = 2**b``, so no difference of two
    nearly equal numbers is formed; ``expm1`` keeps the integral exact as ``lam -> 1``.
    The neglected ``B6`` term is below ``1e-20`` relative for ``b >= 10``.
    """
    a = 2.0**b
    ln2 = math.log(2.0)
    s = lam - 1.0
    integral = math.pow(a, -s) * (-math.expm1(-s * ln2)) / s
    ends = 0.5 * math.pow(a, -lam) * (1.0 - math.pow(2.0, -lam))
    b2 = lam / 12.0 * math.pow(a, -lam - 1.0) * (1.0 - math.pow(2.0, -lam - 1.0))
    b4 = (
        lam * (lam + 1.0) * (lam + 2.0) / 720.0
        * math.pow(a, -lam - 3.0) * (1.0 - math.pow(2.0, -lam - 3.0))
    )
    return integral + ends + b2 - b4


@lru_cache(maxsize=64)
def _zipf_octave_table(lam: float) -> bytes:
    sums = []
    for b in range(N_OCTAVES):
        if b < _EM_MIN_OCTAVE:
            sums.append(math.fsum(math.pow(m, -lam) for m in range(2**b, 2 ** (b + 1))))
        else:
            sums.append(_octave_sum_euler_maclaurin(lam, b))
    total = math.fsum(sums)
    probs = [max(x / total, _PROB_FLOOR) for x in sums]
    total = math.fsum(probs)
    return np.array([p / total for p in probs], dtype="<f8").tobytes()


def zipf_octave_probabilities(lam: float) -> np.ndarray:
    """Probability of each octave of ``n + 1`` under the Zipf law ``P(n) ∝ (n + 1)**-lam``.

    Octave ``b`` holds ``n + 1`` in ``[2**b, 2**(b + 1))``; its mass is
    ``[zeta(lam, 2**b) - zeta(lam, 2**(b + 1))] / zeta(lam, 1)`` (Hurwitz zeta).  Octaves
    below 10 are summed term by term (``math.fsum``), higher ones by Euler-Maclaurin
    written without cancellation.  The law is truncated to the :data:`N_OCTAVES`
    octaves and renormalised (for ``lam`` near 1 a few percent of the untruncated mass
    lies beyond ``2**64``), every entry is floored at ``1e-12`` and the table
    renormalised again, so all entries are > 0 and sum to 1.  Only Python's ``math``
    (libm) is used, in a fixed order, so the same ``lam`` gives the same bytes on the
    encoder and the decoder.

    Args:
        lam: float, the exponent, finite and > 1 (see :func:`zipf_lambda`).

    Returns:
        np.ndarray, float64, shape ``(N_OCTAVES,)``: the octave probabilities.

    Raises:
        InputError: if ``lam`` is not a finite number > 1.
    """
    try:
        lam_f = float(lam)
    except (TypeError, ValueError) as exc:
        raise InputError(f"lam must be a number, got {lam!r}") from exc
    if not math.isfinite(lam_f) or lam_f <= 1.0:
        raise InputError(f"lam must be finite and > 1, got {lam_f}")
    return np.frombuffer(_zipf_octave_table(lam_f), dtype="<f8").astype(np.float64)


# --------------------------------------------------------------------------------------
# Argument checking
# --------------------------------------------------------------------------------------


def _as_count(count: Any, name: str = "count") -> int:
    try:
        value = operator.index(count)
    except TypeError as exc:
        raise InputError(f"{name} must be an integer, got {count!r}") from exc
    if value < 0:
        raise InputError(f"{name} must be >= 0, got {value}")
    return value


def _as_int(x: Any, name: str) -> int:
    try:
        return operator.index(x)
    except TypeError as exc:
        raise InputError(f"{name} must be an integer, got {x!r}") from exc


def _as_int_array(x: Any, name: str) -> np.ndarray:
    """A 1-D int64 copy of ``x`` (a sequence or array of integers, or one integer)."""
    arr = np.asarray(x)
    if arr.dtype == object:
        raise InputError(f"{name} must be integers that fit in int64")
    if arr.ndim > 1:
        raise InputError(f"{name} must be 1-D, got shape {arr.shape}")
    arr = np.atleast_1d(arr)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype.kind == "u":
        if arr.max() > np.iinfo(np.int64).max:
            raise InputError(f"{name} must be integers that fit in int64")
    elif arr.dtype.kind != "i":
        raise InputError(f"{name} must be integers, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def _broadcast_int(x: Any, count: int, name: str) -> np.ndarray:
    arr = _as_int_array(x, name)
    if np.ndim(x) == 0:
        return np.full(count, arr[0], dtype=np.int64)
    if arr.shape != (count,):
        raise InputError(f"{name} must be a scalar or have shape ({count},), got {arr.shape}")
    return arr


def _broadcast_float(x: Any, count: int, name: str) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be numbers") from exc
    if arr.ndim == 0:
        arr = np.full(count, float(arr), dtype=np.float64)
    elif arr.shape != (count,):
        raise InputError(f"{name} must be a scalar or have shape ({count},), got {arr.shape}")
    return np.ascontiguousarray(arr)


def _check_probabilities(
    probabilities: Any, count: int | None, name: str, n_symbols: int | None = None
) -> np.ndarray:
    """A float64 table of shape ``(n,)`` or ``(count, n)``, all entries finite and > 0."""
    try:
        p = np.asarray(probabilities, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be an array of numbers") from exc
    if p.ndim not in (1, 2) or p.shape[-1] == 0:
        raise InputError(f"{name} must have shape (n_symbols,) or (count, n_symbols), got {p.shape}")
    if n_symbols is not None and p.shape[-1] != n_symbols:
        raise InputError(f"{name} must have {n_symbols} entries per row, got {p.shape[-1]}")
    if p.shape[-1] > MAX_ALPHABET:
        raise InputError(f"{name} has {p.shape[-1]} symbols, more than {MAX_ALPHABET}")
    if p.ndim == 2 and count is not None and p.shape[0] != count:
        raise InputError(f"{name} has {p.shape[0]} rows but there are {count} symbols")
    if not np.all(np.isfinite(p)):
        raise InputError(f"{name} must be finite")
    if not np.all(p > 0):
        raise InputError(f"{name} must all be > 0 (every symbol needs nonzero mass)")
    return np.ascontiguousarray(p)


# --------------------------------------------------------------------------------------
# Index code helpers
# --------------------------------------------------------------------------------------


def _floor_log2(v: np.ndarray) -> np.ndarray:
    """Exact ``floor(log2(v))`` of positive uint64 values (bit length minus one)."""
    v = v.copy()
    b = np.zeros(v.shape, dtype=np.int64)
    for shift in (32, 16, 8, 4, 2, 1):
        big = (v >> np.uint64(shift)) != 0
        v[big] >>= np.uint64(shift)
        b[big] += shift
    return b


def _split_indices(indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split valid indices ``n`` into octaves ``b`` and remainders ``r``: n+1 = 2**b + r."""
    v = indices.astype(np.uint64) + np.uint64(1)
    b = _floor_log2(v)
    r = (v - (np.uint64(1) << b.astype(np.uint64))).astype(np.int64)
    return b, r


def _check_indices(indices: Any, name: str = "indices") -> np.ndarray:
    n = _as_int_array(indices, name)
    if n.size and n.min() < 0:
        raise InputError(f"{name} must be >= 0, got {int(n.min())}")
    if n.size and n.max() > MAX_INDEX:
        raise InputError(f"{name} must be <= {MAX_INDEX}, got {int(n.max())}")
    return n


def index_code_bits(indices: Any, octave_probs: Any) -> np.ndarray:
    """Ideal code length of each index under the octave model: ``-log2 P(b) + b``.

    ``P`` is ``octave_probs`` normalised to sum to 1; the coder's fixed-point
    quantization and the ANS state add a few bits per payload on top of this.

    Args:
        indices: int array of shape ``(k,)``, each in ``[0, MAX_INDEX]``.
        octave_probs: float array ``(N_OCTAVES,)`` shared by all indices, or
            ``(k, N_OCTAVES)`` one row per index; all entries finite and > 0.

    Returns:
        np.ndarray, float64, shape ``(k,)``: bits of each index.

    Raises:
        InputError: for a negative or too large index or an invalid table.
    """
    n = _check_indices(indices)
    p = _check_probabilities(octave_probs, n.size, "octave_probs", N_OCTAVES)
    p = p / p.sum(axis=-1, keepdims=True)
    b, _ = _split_indices(n)
    pb = p[b] if p.ndim == 1 else p[np.arange(n.size), b]
    return -np.log2(pb) + b.astype(np.float64)


# --------------------------------------------------------------------------------------
# Uniform values in chunks
# --------------------------------------------------------------------------------------


def _check_sizes(sizes: np.ndarray) -> np.ndarray:
    """Validate uniform sizes; returns a bool mask of the power-of-two ones."""
    if sizes.size == 0:
        return np.zeros(0, dtype=bool)
    if sizes.min() < 1:
        raise InputError(f"sizes must be >= 1, got {int(sizes.min())}")
    if sizes.max() > _MAX_UNIFORM_SIZE:
        raise InputError(f"sizes must be <= 2**62, got {int(sizes.max())}")
    pow2 = (sizes & (sizes - 1)) == 0
    big = ~pow2 & (sizes > (1 << CHUNK_BITS))
    if np.any(big):
        raise InputError(
            f"sizes that are not powers of two must be <= 2**{CHUNK_BITS}, "
            f"got {int(sizes[big][0])}"
        )
    return pow2


def _chunk_plan(sizes: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Chunks of uniform values: ``(positions, chunk sizes int32, shift)`` per chunk.

    A power-of-two size ``2**k`` is coded as ``ceil(k / CHUNK_BITS)`` uniform symbols,
    low bits first; any other size (``<= 2**CHUNK_BITS``) as one symbol.  Chunks of size
    1 (nothing to code) are left out.  Chunk ``j`` of every value comes before chunk
    ``j + 1`` of any value.
    """
    pow2 = _check_sizes(sizes)
    bits = np.where(pow2, _floor_log2(np.maximum(sizes, 1).astype(np.uint64)), 0)
    plan = []
    for j in range(_N_CHUNKS):
        shift = j * CHUNK_BITS
        width = np.clip(bits - shift, 0, CHUNK_BITS)
        chunk = np.where(pow2, np.int64(1) << width, sizes if j == 0 else 1)
        pos = np.flatnonzero(chunk >= 2)
        if pos.size:
            plan.append((pos, chunk[pos].astype(np.int32), shift))
    return plan


# --------------------------------------------------------------------------------------
# Payload stream
# --------------------------------------------------------------------------------------

def _uniform_ops(values: np.ndarray | None, sizes: np.ndarray) -> list[tuple]:
    """Coding steps ``(symbols, model, params, count, positions, shift)`` of uniform values.

    ``symbols`` is None when decoding (``values`` is None).
    """
    ops = []
    for pos, chunk, shift in _chunk_plan(sizes):
        syms = None
        if values is not None:
            syms = ((values[pos] >> shift) % chunk).astype(np.int32)
        ops.append((syms, constriction.stream.model.Uniform(), (chunk,), pos.size, pos, shift))
    return ops


def _categorical_op(symbols: np.ndarray | None, p: np.ndarray, count: int) -> tuple:
    """Coding step ``(symbols, model, params, count)``: a shared table or one per symbol."""
    if p.ndim == 1:
        model = constriction.stream.model.Categorical(p, perfect=False)
        return (symbols, model, (), count)
    return (symbols, constriction.stream.model.Categorical(perfect=False), (p,), count)


class PayloadWriter:
    """Collects the parts of a payload and entropy codes them into uint32 words.

    Parts are coded in :meth:`finish`, in reverse onto one ANS stack, so that a
    :class:`PayloadReader` reads them back in the order they were added.  Every
    ``add_*`` method checks its arguments at once and raises :class:`InputError`.

    Example:
        >>> w = PayloadWriter()
        >>> w.add_indices([0, 5, 1000], zipf_octave_probabilities(zipf_lambda(8.0)))
        >>> words = w.finish()
    """

    def __init__(self) -> None:
        self._parts: list[list[tuple]] = []
        self._finished = False

    def _check_open(self) -> None:
        if self._finished:
            raise RuntimeError("PayloadWriter.finish() was already called")

    def add_indices(self, indices: Any, octave_probs: Any) -> None:
        """Add REC indices, coded with the octave model and uniform remainders.

        Args:
            indices: int array ``(k,)``, each in ``[0, MAX_INDEX]``.
            octave_probs: float array ``(N_OCTAVES,)`` shared by all indices, or
                ``(k, N_OCTAVES)`` one row per index; finite and > 0.

        Raises:
            InputError: for a negative or too large index or an invalid table.
        """
        self._check_open()
        n = _check_indices(indices)
        p = _check_probabilities(octave_probs, n.size, "octave_probs", N_OCTAVES)
        if n.size == 0:
            return
        b, r = _split_indices(n)
        part = [_categorical_op(b.astype(np.int32), p, n.size)]
        part += [op[:4] for op in _uniform_ops(r, np.int64(1) << b)]
        self._parts.append(part)

    def add_uniform(self, values: Any, sizes: Any) -> None:
        """Add integers ``0 <= values < sizes``, each uniform over its size.

        Power-of-two sizes up to ``2**62`` are coded in chunks of at most
        :data:`CHUNK_BITS` bits; other sizes must be at most ``2**CHUNK_BITS``.  Size 1
        costs nothing.

        Args:
            values: int array ``(k,)``.
            sizes: int scalar or int array ``(k,)``.

        Raises:
            InputError: for a size < 1, a size that is too large, or a value out of
                ``[0, size)``.
        """
        self._check_open()
        v = _as_int_array(values, "values")
        s = _broadcast_int(sizes, v.size, "sizes")
        _check_sizes(s)
        bad = (v < 0) | (v >= s)
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"values must be in [0, size): value {int(v[i])} at {i}, size {int(s[i])}")
        if v.size == 0:
            return
        self._parts.append([op[:4] for op in _uniform_ops(v, s)])

    def add_quantized_gaussian(self, values: Any, low: int, high: int, mean: Any, std: Any) -> None:
        """Add integers in ``[low, high]`` under a Gaussian quantized to unit bins.

        The Gaussian is clipped to ``[low - 0.5, high + 0.5]`` and every integer in the
        range keeps nonzero mass.  When ``low == high`` nothing is coded.

        Args:
            values: int array ``(k,)``, each in ``[low, high]``.
            low: int, smallest value (within int32).
            high: int, largest value; ``high - low + 1 <= MAX_ALPHABET``.
            mean: float scalar or array ``(k,)``, finite.
            std: float scalar or array ``(k,)``, finite and > 0.

        Raises:
            InputError: for a bad range, a value outside it, a non-finite mean or a
                std that is not finite and > 0.
        """
        self._check_open()
        v = _as_int_array(values, "values")
        op = _gaussian_op(v, v.size, low, high, mean, std)
        if op is not None:
            self._parts.append([op])

    def add_quantized_laplace(self, values: Any, low: int, high: int, loc: Any, scale: Any) -> None:
        """Add integers in ``[low, high]`` under a Laplace quantized to unit bins.

        As :meth:`add_quantized_gaussian`, with a location and a scale (> 0) per value.

        Raises:
            InputError: as :meth:`add_quantized_gaussian`.
        """
        self._check_open()
        v = _as_int_array(values, "values")
        op = _gaussian_op(v, v.size, low, high, loc, scale, family="laplace")
        if op is not None:
            self._parts.append([op])

    def add_categorical(self, values: Any, probabilities: Any) -> None:
        """Add symbols ``0 <= values < n_symbols`` under explicit probabilities.

        Args:
            values: int array ``(k,)``.
            probabilities: float array ``(n_symbols,)`` shared, or ``(k, n_symbols)``
                one row per value; finite and > 0 (rows need not sum to 1).

        Raises:
            InputError: for an invalid table or a value out of range.
        """
        self._check_open()
        v = _as_int_array(values, "values")
        p = _check_probabilities(probabilities, v.size, "probabilities")
        n_symbols = p.shape[-1]
        bad = (v < 0) | (v >= n_symbols)
        if np.any(bad):
            raise InputError(f"values must be in [0, {n_symbols}), got {int(v[bad][0])}")
        if v.size == 0 or n_symbols == 1:
            return
        self._parts.append([_categorical_op(v.astype(np.int32), p, v.size)])

    def finish(self) -> np.ndarray:
        """Code all parts and return the payload.

        Returns:
            np.ndarray of dtype ``'<u4'`` (little-endian uint32 words).

        Raises:
            RuntimeError: if called a second time.
        """
        self._check_open()
        self._finished = True
        coder = constriction.stream.stack.AnsCoder()
        coder.encode_reverse(
            np.array([_SENTINEL], dtype=np.int32),
            constriction.stream.model.Uniform(),
            np.array([_SENTINEL_SIZE], dtype=np.int32),
        )
        for part in reversed(self._parts):
            for symbols, model, params, _count in reversed(part):
                coder.encode_reverse(symbols, model, *params)
        self._parts = []
        return coder.get_compressed().astype("<u4")


def _gaussian_op(values, count, low, high, mean, std, family="gaussian") -> tuple | None:
    """Check a quantized Gaussian (or Laplace) part; None when there is nothing to code."""
    low = _as_int(low, "low")
    high = _as_int(high, "high")
    if low > high:
        raise InputError(f"low must be <= high, got low={low}, high={high}")
    if low < -(2**31) or high >= 2**31:
        raise InputError(f"low and high must fit in int32, got [{low}, {high}]")
    if high - low + 1 > MAX_ALPHABET:
        raise InputError(f"range [{low}, {high}] has more than {MAX_ALPHABET} values")
    mu = _broadcast_float(mean, count, "mean")
    sd = _broadcast_float(std, count, "std")
    if not np.all(np.isfinite(mu)):
        raise InputError("mean must be finite (got NaN or inf)")
    if not np.all(np.isfinite(sd) & (sd > 0)):
        raise InputError("std must be finite and > 0")
    if values is not None:
        bad = (values < low) | (values > high)
        if np.any(bad):
            raise InputError(f"values must be in [{low}, {high}], got {int(values[bad][0])}")
    if count == 0 or low == high:
        return None
    symbols = None if values is None else values.astype(np.int32)
    if family == "laplace":
        model = constriction.stream.model.QuantizedLaplace(low, high)
    else:
        model = constriction.stream.model.QuantizedGaussian(low, high)
    return (symbols, model, (mu, sd), count)


class PayloadReader:
    """Reads back what a :class:`PayloadWriter` wrote, part by part, in the same order.

    Each ``read_*`` call must repeat the arguments of the matching ``add_*`` call (the
    counts and models); the decoded values then match bit for bit.  Call
    :meth:`finish` at the end: it verifies that exactly all data was used.

    Args:
        words: np.ndarray of uint32 (either byte order), 1-D: the payload.

    Raises:
        InputError: if ``words`` is not a 1-D uint32 array.
        FormatError: if the words cannot be an ANS payload.
    """

    def __init__(self, words: Any) -> None:
        arr = np.asarray(words)
        if arr.ndim != 1 or arr.dtype.kind != "u" or arr.dtype.itemsize != 4:
            raise InputError(f"words must be a 1-D uint32 array, got {arr.dtype} {arr.shape}")
        try:
            self._coder = constriction.stream.stack.AnsCoder(np.ascontiguousarray(arr, dtype=np.uint32))
        except Exception as exc:
            raise FormatError(_CORRUPT) from exc
        self._finished = False

    def _check_open(self) -> None:
        if self._finished:
            raise RuntimeError("PayloadReader.finish() was already called")

    def _decode(self, symbols_model_params_count: tuple) -> np.ndarray:
        _symbols, model, params, count = symbols_model_params_count
        try:
            if params:
                out = self._coder.decode(model, *params)
            else:
                out = self._coder.decode(model, count)
        except BaseException as exc:  # constriction raises several kinds, and panics
            if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
                raise
            raise FormatError(_CORRUPT) from exc
        return np.asarray(out, dtype=np.int64)

    def _read_uniform(self, sizes: np.ndarray) -> np.ndarray:
        values = np.zeros(sizes.size, dtype=np.int64)
        for _syms, model, params, count, pos, shift in _uniform_ops(None, sizes):
            values[pos] |= self._decode((None, model, params, count)) << shift
        return values

    def read_indices(self, count: int, octave_probs: Any) -> np.ndarray:
        """Read ``count`` indices written by :meth:`PayloadWriter.add_indices`.

        Args:
            count: int, how many indices.
            octave_probs: the table given to ``add_indices``.

        Returns:
            np.ndarray, int64, shape ``(count,)``.

        Raises:
            InputError: for bad arguments.
            FormatError: if the payload is corrupt or truncated.
        """
        self._check_open()
        count = _as_count(count)
        p = _check_probabilities(octave_probs, count, "octave_probs", N_OCTAVES)
        if count == 0:
            return np.zeros(0, dtype=np.int64)
        b = self._decode(_categorical_op(None, p, count))
        if b.min() < 0 or b.max() > _MAX_OCTAVE:
            raise FormatError(_CORRUPT)
        r = self._read_uniform(np.int64(1) << b)
        return (np.int64(1) << b) - 1 + r

    def read_uniform(self, sizes: Any, count: int | None = None) -> np.ndarray:
        """Read values written by :meth:`PayloadWriter.add_uniform`.

        Args:
            sizes: int array ``(k,)``, or an int scalar together with ``count``.
            count: int, needed only when ``sizes`` is a scalar.

        Returns:
            np.ndarray, int64, shape ``(k,)``.

        Raises:
            InputError: for bad arguments.
            FormatError: if the payload is corrupt or truncated.
        """
        self._check_open()
        if np.ndim(sizes) == 0:
            if count is None:
                raise InputError("count is needed when sizes is a scalar")
            s = _broadcast_int(sizes, _as_count(count), "sizes")
        else:
            s = _as_int_array(sizes, "sizes")
            if count is not None and _as_count(count) != s.size:
                raise InputError(f"count {count} does not match {s.size} sizes")
        _check_sizes(s)
        values = self._read_uniform(s)
        if np.any(values >= s):
            raise FormatError(_CORRUPT)
        return values

    def read_quantized_gaussian(self, count: int, low: int, high: int, mean: Any, std: Any) -> np.ndarray:
        """Read values written by :meth:`PayloadWriter.add_quantized_gaussian`.

        Args:
            count: int, how many values.
            low, high, mean, std: as given to ``add_quantized_gaussian``.

        Returns:
            np.ndarray, int64, shape ``(count,)``, in ``[low, high]``.

        Raises:
            InputError: for bad arguments.
            FormatError: if the payload is corrupt or truncated.
        """
        self._check_open()
        count = _as_count(count)
        op = _gaussian_op(None, count, low, high, mean, std)
        if op is None:
            return np.full(count, _as_int(low, "low"), dtype=np.int64)
        values = self._decode(op)
        if values.min() < _as_int(low, "low") or values.max() > _as_int(high, "high"):
            raise FormatError(_CORRUPT)
        return values

    def read_quantized_laplace(self, count: int, low: int, high: int, loc: Any, scale: Any) -> np.ndarray:
        """Read values written by :meth:`PayloadWriter.add_quantized_laplace`.

        Raises:
            InputError: for bad arguments.
            FormatError: if the payload is corrupt or truncated.
        """
        self._check_open()
        count = _as_count(count)
        op = _gaussian_op(None, count, low, high, loc, scale, family="laplace")
        if op is None:
            return np.full(count, _as_int(low, "low"), dtype=np.int64)
        values = self._decode(op)
        if values.min() < _as_int(low, "low") or values.max() > _as_int(high, "high"):
            raise FormatError(_CORRUPT)
        return values

    def read_categorical(self, count: int, probabilities: Any) -> np.ndarray:
        """Read symbols written by :meth:`PayloadWriter.add_categorical`.

        Args:
            count: int, how many symbols.
            probabilities: the table given to ``add_categorical``.

        Returns:
            np.ndarray, int64, shape ``(count,)``.

        Raises:
            InputError: for bad arguments.
            FormatError: if the payload is corrupt or truncated.
        """
        self._check_open()
        count = _as_count(count)
        p = _check_probabilities(probabilities, count, "probabilities")
        if count == 0 or p.shape[-1] == 1:
            return np.zeros(count, dtype=np.int64)
        values = self._decode(_categorical_op(None, p, count))
        if values.min() < 0 or values.max() >= p.shape[-1]:
            raise FormatError(_CORRUPT)
        return values

    def finish(self) -> None:
        """Check that the payload was used up exactly.

        Raises:
            FormatError: if data is left over, data was missing, or the reader used
                other models than the writer (detected by the check symbol).
            RuntimeError: if called a second time.
        """
        self._check_open()
        self._finished = True
        check = self._decode(
            (None, constriction.stream.model.Uniform(), (np.array([_SENTINEL_SIZE], dtype=np.int32),), 1)
        )
        if check[0] != _SENTINEL or not self._coder.is_empty():
            raise FormatError(_CORRUPT)


# --------------------------------------------------------------------------------------
# Empirical index model
# --------------------------------------------------------------------------------------


def _check_metadata(metadata: Any) -> dict:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise InputError(f"metadata must be a dict, got {type(metadata).__name__}")
    out = {}
    for key, value in metadata.items():
        if not isinstance(key, str):
            raise InputError(f"metadata keys must be str, got {key!r}")
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise InputError(f"metadata[{key!r}] must be a str, int or float, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(f"metadata[{key!r}] must be finite, got {value}")
        out[key] = value
    return out


def _valid_octave_table(p: np.ndarray) -> str | None:
    """Why ``p`` is not a valid octave table, or None if it is."""
    if p.shape != (N_OCTAVES,):
        return f"octave_probs must have shape ({N_OCTAVES},), got {p.shape}"
    if p.dtype.kind != "f":
        return f"octave_probs must be floats, got {p.dtype}"
    if not np.all(np.isfinite(p)):
        return "octave_probs must be finite"
    if not np.all(p > 0):
        return "octave_probs must all be > 0"
    if abs(math.fsum(p.tolist()) - 1.0) > 1e-9:
        return "octave_probs must sum to 1"
    return None


_INDEX_MODEL_KEYS = ("format", "version", "octave_probs", "training_indices", "metadata")
_MAX_INDEX_MODEL_MEMBER = 1 << 20  # bytes of one .npy member; the table is 512 bytes


def _read_npz_member(archive: zipfile.ZipFile, key: str, path: str) -> np.ndarray | None:
    """The array ``key`` of an .npz archive, or None when it is absent.

    The file is untrusted: only this member is read, and only when it is at most
    ``_MAX_INDEX_MODEL_MEMBER`` bytes (zipfile reads no more than the size the directory
    declares, and checks the CRC); its .npy header must declare exactly the bytes that
    follow it, and object arrays are refused, so nothing is allocated beyond the member.
    """
    try:
        info = archive.getinfo(key + ".npy")
    except KeyError:
        return None
    if info.file_size > _MAX_INDEX_MODEL_MEMBER:
        raise FormatError(f"{path}: the '{key}' entry holds {info.file_size} bytes; an index model file "
                          f"holds at most {_MAX_INDEX_MODEL_MEMBER} per entry")
    data = archive.read(info)
    bad = FormatError(f"{path}: bad '{key}' entry in index model file")
    buffer = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(buffer)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(buffer)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(buffer)
        else:
            raise bad
    except ValueError as exc:
        raise bad from exc
    count = math.prod(shape)
    if dtype.hasobject or dtype.itemsize == 0 or count * dtype.itemsize != len(data) - buffer.tell():
        raise bad
    array = np.frombuffer(data, dtype=dtype, count=count, offset=buffer.tell())
    return array.reshape(shape, order="F" if fortran else "C")


@dataclass(frozen=True, eq=False)
class EmpiricalIndexModel:
    """An index model fitted on training indices: an octave histogram with a Zipf escape.

    The octave ``b`` of ``n + 1`` gets the mixture ``(1 - w) * hist + w * zipf``; the
    remainder stays uniform, as in the Zipf index code, so ``octave_probs`` is passed
    to :meth:`PayloadWriter.add_indices` in place of the Zipf table.  The escape
    weight ``w`` keeps every octave codable, including ones never seen in training.

    Attributes:
        octave_probs: np.ndarray, float64, ``(N_OCTAVES,)``, all > 0, summing to 1
            (read-only).
        training_indices: int, how many indices the model was fitted on.
        metadata: dict of str to str, int or float (e.g. algorithm, block_bits).
    """

    octave_probs: np.ndarray
    training_indices: int
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        problem = _valid_octave_table(np.asarray(self.octave_probs))
        if problem is not None:
            raise InputError(problem)
        p = np.array(self.octave_probs, dtype=np.float64, copy=True)
        p.setflags(write=False)
        object.__setattr__(self, "octave_probs", p)
        object.__setattr__(self, "training_indices", _as_count(self.training_indices, "training_indices"))
        object.__setattr__(self, "metadata", _check_metadata(self.metadata))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EmpiricalIndexModel):
            return NotImplemented
        return (
            np.array_equal(self.octave_probs, other.octave_probs)
            and self.training_indices == other.training_indices
            and self.metadata == other.metadata
        )

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def fit(
        cls,
        indices: Any,
        escape_lambda: float,
        escape_weight: float | None = None,
        metadata: dict | None = None,
    ) -> "EmpiricalIndexModel":
        """Fit the octave histogram of ``indices`` and mix in a Zipf escape.

        Args:
            indices: int array of training indices, each in ``[0, MAX_INDEX]``.
            escape_lambda: float > 1, exponent of the Zipf escape (see
                :func:`zipf_lambda`).
            escape_weight: float in ``(0, 1]``, weight of the escape; default
                ``max(1 / (len(indices) + 1), 1e-4)``.
            metadata: dict of str to str, int or float, stored with the model.

        Returns:
            EmpiricalIndexModel.

        Raises:
            InputError: for no indices, a negative or too large index, a bad
                ``escape_lambda``, ``escape_weight`` or ``metadata``.
        """
        n = _check_indices(indices)
        if n.size == 0:
            raise InputError("indices must not be empty: nothing to fit")
        zipf = zipf_octave_probabilities(escape_lambda)
        if escape_weight is None:
            w = max(1.0 / (n.size + 1), 1e-4)
        else:
            try:
                w = float(escape_weight)
            except (TypeError, ValueError) as exc:
                raise InputError(f"escape_weight must be a number, got {escape_weight!r}") from exc
            if not (0.0 < w <= 1.0):
                raise InputError(f"escape_weight must be in (0, 1], got {w}")
        b, _ = _split_indices(n)
        hist = np.bincount(b, minlength=N_OCTAVES).astype(np.float64) / n.size
        p = (1.0 - w) * hist + w * zipf
        p = p / math.fsum(p.tolist())
        return cls(octave_probs=p, training_indices=int(n.size), metadata=_check_metadata(metadata))

    def fingerprint(self) -> int:
        """CRC32 of the octave table's little-endian float64 bytes.

        The file header stores it, so a decoder holding another model refuses.

        Returns:
            int in ``[0, 2**32)``.
        """
        data = np.ascontiguousarray(self.octave_probs, dtype="<f8").tobytes()
        return zlib.crc32(data) & 0xFFFFFFFF

    def to_bytes(self) -> bytes:
        """The model as the bytes of an ``.npz`` file.

        The keys are ``format`` (``"reccodec-index-model"``), ``version`` (1),
        ``octave_probs`` (little-endian float64), ``training_indices`` and ``metadata``
        (a JSON string).
        """
        buffer = io.BytesIO()
        np.savez(
            buffer,
            format=np.array(INDEX_MODEL_FORMAT),
            version=np.array(INDEX_MODEL_VERSION, dtype="<i8"),
            octave_probs=np.ascontiguousarray(self.octave_probs, dtype="<f8"),
            training_indices=np.array(self.training_indices, dtype="<i8"),
            metadata=np.array(json.dumps(self.metadata, sort_keys=True)),
        )
        return buffer.getvalue()

    def save(self, path: str | os.PathLike) -> None:
        """Write ``to_bytes()`` to a file, atomically (a temporary file, then a rename),
        so ``path`` is never half written.

        Args:
            path: str or path-like, the file to write (used as given, no suffix added).

        Raises:
            OSError: if the folder cannot be written.
        """
        atomic_write(path, self.to_bytes())

    @classmethod
    def load(cls, path: str | os.PathLike) -> "EmpiricalIndexModel":
        """Read a model written by :meth:`save`.

        Args:
            path: str or path-like.

        Returns:
            EmpiricalIndexModel.

        Raises:
            FormatError: with a one-line reason, if the file is missing, unreadable,
                not an ``.npz``, of another format or version, or holds an invalid table.
        """
        path = os.fspath(path)
        if not os.path.exists(path):
            raise FormatError(f"index model file not found: {path}")
        not_npz = f"{path}: not an index model file (not an .npz archive)"
        try:
            with open(path, "rb") as f:
                try:
                    archive = zipfile.ZipFile(f)
                except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
                    raise FormatError(not_npz) from exc
                with archive:
                    arrays = {}
                    for key in _INDEX_MODEL_KEYS:
                        array = _read_npz_member(archive, key, path)
                        if array is not None:
                            arrays[key] = array
        except FormatError:
            raise
        except OSError as exc:
            raise FormatError(f"{path}: cannot read index model file ({exc.strerror or exc})") from exc
        except Exception as exc:  # a broken zip member, a bad CRC, a foreign compression, ...
            raise FormatError(f"{path}: not a valid index model file ({type(exc).__name__}: {exc})") from exc
        return cls._from_arrays(arrays, path)

    @classmethod
    def _from_arrays(cls, arrays: dict, path: str) -> "EmpiricalIndexModel":
        def scalar(key: str, kind: str):
            if key not in arrays:
                raise FormatError(f"{path}: not an index model file (no '{key}' entry)")
            arr = arrays[key]
            if arr.shape != () or arr.dtype.kind not in kind:
                raise FormatError(f"{path}: bad '{key}' entry in index model file")
            return arr.item()

        fmt = scalar("format", "U")
        if fmt != INDEX_MODEL_FORMAT:
            raise FormatError(f"{path}: not an index model file (format {fmt!r})")
        version = scalar("version", "iu")
        if version != INDEX_MODEL_VERSION:
            raise FormatError(
                f"{path}: index model file version {version} is not supported "
                f"(this reccodec reads version {INDEX_MODEL_VERSION})"
            )
        if "octave_probs" not in arrays:
            raise FormatError(f"{path}: not an index model file (no 'octave_probs' entry)")
        problem = _valid_octave_table(arrays["octave_probs"])
        if problem is not None:
            raise FormatError(f"{path}: {problem}")
        training = scalar("training_indices", "iu")
        if training < 0:
            raise FormatError(f"{path}: training_indices must be >= 0, got {training}")
        try:
            metadata = json.loads(scalar("metadata", "U"))
            metadata = _check_metadata(metadata)
        except (ValueError, InputError) as exc:  # a JSON error, an integer of too many digits, ...
            raise FormatError(f"{path}: bad metadata in index model file ({exc})") from exc
        except RecursionError:
            raise FormatError(f"{path}: bad metadata in index model file (JSON nested too deeply)") from None
        return cls(
            octave_probs=arrays["octave_probs"].astype(np.float64),
            training_indices=int(training),
            metadata=metadata,
        )
