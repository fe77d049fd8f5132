"""Hybrid coding with uniform proposals: REC on a width-1 window of the prior's CDF scale.

Agustsson & Theis, "Universally quantized neural compression", NeurIPS 2020, and Theis &
Yosri, "Algorithms for the communication of samples", ICML 2022 (patent claims 16-20).
Per dimension, w = M_d F_p(z) is uniform on [0, M_d) under the prior. The target Q is
truncated to tail mass eps per block (each dimension to the central interval of mass
(1 - eps)^(1/d) of its own Gaussian), so the result is within eps of Q in total
variation, exactly. The width M_d is the largest power of two with M_d (F_p(m + t sigma) -
F_p(m - t sigma)) <= 1 (the truncated support at the prior's mode, the widest case), so
the image of the truncated support always fits a window of width 1, centred at
c_d = clip(M_d (F_p(a) + F_p(b)) / 2, 1/2, M_d - 1/2).

Candidates are the shared uniforms u_n (PFR's stream), moved onto the window as
k_n = floor(c - u_n + 1/2), w_n = k_n + u_n; PFR (exact for the truncated target) or ORC
selects n; the file holds n (Zipf code, budget KL - sum log2 M_d) and k_{n,d}, uniform on
{0 .. M_d - 1} under the marginal (``Uniform(M_d)``, chunked by the payload writer). The
decoder returns F_p^-1((k + u_n) / M). Steps fall by about prod M_d against PFR, bits stay
about the same.

Why powers of two: the decoder must know M_d. The file describes them as e_d = log2 M_d:
the smallest e and the number of levels in the header, and e_d - min in the payload with a
uniform code only when the levels differ, so a target whose dimensions share one width
pays a few header bytes and nothing per block (those bytes are reported as ``m_bits``).
A power of two gives up at most a factor 2 of speed per dimension against floor(1/width).
"""

import math
import time

import numpy as np

from . import container
from .blocks import layout_by_budget, layout_fixed
from .distributions import kl_bits, log_ratio_coefficients
from .entropy import PayloadReader, PayloadWriter
from .errors import FormatError, InputError
from .file_coding import (DEFAULT_BLOCK_BITS, DEFAULT_MAX_STEPS, DINF_SLACK_BITS, EncodeResult, check_max_steps,
                          decoder_prior, f32, header_dims, index_octaves, read_layout, resolve_prior,
                          target_header, write_layout, zipf_bits_param)
from .interrupts import run_search
from .rebuild import hybrid_values  # numpy: decoding needs no numba
from .seed import split_seed

__all__ = ["DEFAULT_EPS", "SEARCHES", "MAX_LOG2_M", "plan_hybrid", "encode_hybrid", "decode_hybrid", "encode",
           "decode"]

DEFAULT_EPS = 1e-3
SEARCHES = ("pfr", "orc")
MAX_LOG2_M = 40
_LN2 = math.log(2.0)


def _check_eps(eps):
    try:
        value = float(eps)
    except (TypeError, ValueError):
        raise InputError(f"eps must be a number in (0, 1), got {eps!r}") from None
    if not 0.0 < value < 1.0:
        raise InputError(f"eps must be in (0, 1), got {eps}")
    return value


def _ndtri(p):
    from scipy import special  # imported here: scipy.special costs 0.3 s of CLI start-up

    return special.ndtri(p)


def _ndtr(x):
    from scipy import special

    return special.ndtr(x)


def plan_hybrid(target, prior, layout, eps):
    """Truncation box, widths and windows of every dimension.

    Args:
        target, prior (DiagonalGaussian): Q and P.
        layout (BlockLayout): the blocks (eps is spent per block).
        eps (float): tail mass cut from each block's target.
    Returns:
        dict of flat float64 arrays: a, b, c (log ratio), zlo, zhi (truncation box in prior
        standard coordinates), log2m (int64 e_d), m (2^e_d), start (window left end c - 1/2),
        lrmax (truncated sup of the log ratio, nats).
    """
    mu, sigma = target.mean.ravel(), target.std.ravel()
    s = prior.std.ravel()
    mass_d = np.repeat(-np.expm1(np.log1p(-eps) / layout.lengths), layout.lengths)
    t = -_ndtri(mass_d / 2.0)  # keep [mu - t sigma, mu + t sigma], tail mass mass_d
    half = t * sigma / s
    width = 1.0 - 2.0 * _ndtr(-half)  # prior mass of the truncated support at the prior's mode
    with np.errstate(divide="ignore"):
        e = np.floor(-np.log2(width) - 1e-9)
    e = np.clip(e, 0, MAX_LOG2_M).astype(np.int64)
    m = np.ldexp(1.0, e)
    z_mu = (mu - prior.mean.ravel()) / s
    zlo, zhi = z_mu - half, z_mu + half
    centre = np.clip(m * (_ndtr(zlo) + _ndtr(zhi)) / 2.0, 0.5, m - 0.5)
    a, b, c, _ = log_ratio_coefficients(target, prior)
    from .kernels.hybrid import truncated_lrmax  # numba: the encoder only

    lrmax = truncated_lrmax(a, b, c, zlo, zhi)
    return {"a": a, "b": b, "c": c, "zlo": zlo, "zhi": zhi, "log2m": e, "m": m,
            "start": centre - 0.5, "lrmax": lrmax}


def _layout(target, prior, eps, block_bits, block_dims, kl):
    if block_dims is not None:
        return layout_fixed(target.size, block_dims)
    # D_inf against the window does not depend much on eps: lay out with the per-dimension
    # figures of a one-dimensional block, then plan with the real block sizes.
    one = plan_hybrid(target, prior, layout_fixed(target.size, 1), eps)
    dinf = one["lrmax"] / _LN2 - one["log2m"]
    return layout_by_budget(kl, np.maximum(dinf, 0.0), block_bits, block_bits + DINF_SLACK_BITS)


def _check_reach(plan, layout, max_steps, orc):
    dinf = layout.block_sums(plan["lrmax"] / _LN2 - plan["log2m"])
    worst = int(np.argmax(dinf))
    if not orc and dinf[worst] > math.log2(max_steps) - 1:
        start = int(layout.starts[worst])
        raise InputError(
            f"block {worst} (dimensions {start}..{start + int(layout.lengths[worst]) - 1}) has D_inf "
            f"{dinf[worst]:.1f} bits against the hybrid window: about 2^{dinf[worst]:.0f} candidates, more "
            f"than --max-steps {max_steps}; use smaller blocks, a larger --eps or --hybrid-search orc")
    return dinf


def encode_hybrid(target, seed, prior=None, eps=DEFAULT_EPS, search="pfr", block_bits=DEFAULT_BLOCK_BITS,
                  block_dims=None, orc_candidates=None, index_model=None, max_steps=DEFAULT_MAX_STEPS,
                  progress=None):
    """Encode one sample of the eps-truncated target with hybrid coding (module docstring).

    Args:
        target (DiagonalGaussian): Q, any shape.
        seed (int): shared seed.
        prior (DiagonalGaussian or None): P; default N(0, 1).
        eps (float): tail mass cut from each block's target, in (0, 1).
        search (str): "pfr" (exact for the truncated target) or "orc".
        block_bits, block_dims: the block layout, as in ``codec.encode``.
        orc_candidates (int or None): ORC's N; default 2^(index budget + 2).
        index_model (EmpiricalIndexModel or None): the code of n; default Zipf.
        max_steps (int): PFR's cap per block.
        progress: accepted for symmetry with ``codec.encode``; blocks run in one call.
    Returns:
        EncodeResult, with ``extra`` holding eps, the mean log2 M per block and m_bits
        (header bits that describe the widths).
    Raises:
        InputError: a bad eps, search or target, or a block the search cannot finish.
    """
    started = time.perf_counter()
    eps = _check_eps(eps)
    if search not in SEARCHES:
        raise InputError(f"unknown hybrid search {search!r}; choose one of {', '.join(SEARCHES)}")
    split_seed(seed)
    prior = resolve_prior(target, prior)
    check_max_steps(max_steps)
    if target.size == 0:
        raise InputError("the target is empty")
    kl = kl_bits(target, prior).ravel()
    layout = _layout(target, prior, eps, block_bits, block_dims, kl)
    plan = plan_hybrid(target, prior, layout, eps)
    orc = search == "orc"
    _check_reach(plan, layout, max_steps, orc)
    block_log2m = layout.block_sums(plan["log2m"].astype(np.float64))
    index_kl = np.maximum(layout.block_sums(kl) - block_log2m, 0.0)
    if orc:
        if orc_candidates is None:
            orc_candidates = 2 ** min(math.ceil(float(index_kl.max())) + 2, 40)
        orc_candidates = int(orc_candidates)
        if not 1 <= orc_candidates <= 2**40:
            raise InputError(f"--orc-candidates must be in [1, 2^40], got {orc_candidates}")
    from .kernels.hybrid import hybrid_search_blocks, window_symbols  # numba: the encoder only

    k0, k1 = split_seed(seed)
    block_ids = np.arange(layout.num_blocks, dtype=np.int64)
    indices = np.empty(layout.num_blocks, dtype=np.int64)
    steps = np.empty(layout.num_blocks, dtype=np.int64)
    run_search(layout.num_blocks, lambda lo, hi, stop, done: hybrid_search_blocks(
        k0, k1, block_ids, layout.starts, layout.lengths, plan["a"], plan["b"], plan["c"], plan["zlo"], plan["zhi"],
        plan["m"], plan["start"], orc_candidates if orc else 0, int(max_steps), stop, done, lo, hi, indices, steps),
        progress)
    if (indices < 0).any():
        i = int(np.argmax(indices < 0))
        limit = f"{orc_candidates} ORC candidates" if orc else f"--max-steps {max_steps} candidates"
        raise InputError(f"block {i} found no candidate within {limit}; use smaller blocks or a larger limit")
    symbols = np.empty(layout.num_dims, dtype=np.int64)
    window_symbols(k0, k1, block_ids, layout.starts, layout.lengths, indices, plan["start"], symbols)

    zipf_bits = f32(index_kl.mean())
    e = plan["log2m"]
    e_min, levels = int(e.min()), int(e.max() - e.min()) + 1
    params = {"zipf_bits": zipf_bits, "hybrid_eps": eps, "hybrid_log2m_min": e_min, "hybrid_log2m_levels": levels}
    if orc:
        params["orc_candidates"] = orc_candidates
    writer = PayloadWriter()
    layout_bits = write_layout(writer, params, layout, block_dims)
    if levels > 1:
        writer.add_uniform(e - e_min, levels)
    if index_model is not None:
        params["index_model"] = index_model.fingerprint()
    writer.add_indices(indices, index_octaves(index_model, zipf_bits))
    writer.add_uniform(symbols, np.int64(1) << e)
    words = writer.finish()
    header = target_header("hybrid", target, seed, prior, params, approximate=True)
    data = container.pack(header, words)
    sample = _values(seed, layout, indices, symbols, plan["m"], prior).reshape(target.shape)
    m_bits = 8 * (len(data) - len(container.pack(_without_m(header), words)))
    return EncodeResult.of_file(
        data, started, sample=sample, algorithm="hybrid", layout=layout, indices=indices, steps=steps,
        kl_bits=float(kl.sum()), layout_bits=layout_bits, approximate=True,
        extra={"eps": eps, "hybrid_search": search, "mean_log2_m": round(float(block_log2m.mean()), 3),
               "m_bits": m_bits})


def _without_m(header):
    params = {k: v for k, v in header.params.items() if not k.startswith("hybrid_log2m")}
    return container.Header(header.algorithm, header.shape, header.tag, params, header.approximate)


def _values(seed, layout, indices, symbols, m, prior):
    """The sample that the chosen candidates and window symbols name (both sides call this)."""
    return hybrid_values(seed, np.arange(layout.num_blocks, dtype=np.int64), layout.lengths,
                         np.asarray(indices, dtype=np.int64), symbols, m, prior.mean.ravel(), prior.std.ravel())


def decode_hybrid(header, words, seed, prior, index_model=None):
    """Decode the payload of a hybrid file whose header ``decode`` has checked.

    Args:
        header (container.Header): the file's header, algorithm "hybrid".
        words (np.ndarray): its payload words.
        seed (int): the encoder's seed.
        prior (DiagonalGaussian): the encoder's prior, the file's shape (tag checked).
        index_model (EmpiricalIndexModel or None): the encoder's index model.
    Returns:
        np.ndarray: the encoder's sample, bit for bit.
    Raises:
        FormatError: corrupt or inconsistent data.
    """
    params = header.params
    shape = tuple(header.shape)
    num_dims = int(np.prod(shape, dtype=np.int64))
    for key in ("hybrid_log2m_min", "hybrid_log2m_levels"):
        if key not in params:
            raise FormatError(f"the hybrid file lacks its parameter {key}")
    e_min, levels = int(params["hybrid_log2m_min"]), int(params["hybrid_log2m_levels"])
    if levels < 1 or e_min + levels - 1 > MAX_LOG2_M:
        raise FormatError("the hybrid file's widths are out of range")
    reader = PayloadReader(words)
    layout = read_layout(header, reader, num_dims)
    e = np.full(num_dims, e_min, dtype=np.int64)
    if levels > 1:
        e += reader.read_uniform(levels, num_dims)
    indices = reader.read_indices(layout.num_blocks, index_octaves(index_model, params["zipf_bits"]))
    symbols = reader.read_uniform(np.int64(1) << e)
    reader.finish()
    limit = params.get("orc_candidates")
    if limit is not None and (indices >= limit).any():
        raise FormatError("an ORC index is out of range: the file is corrupt")
    return _values(seed, layout, indices, symbols, np.ldexp(1.0, e), prior).reshape(shape)


def encode(algorithm, target, seed, prior, block_bits=DEFAULT_BLOCK_BITS, block_dims=None, orc_candidates=None,
           index_model=None, max_steps=DEFAULT_MAX_STEPS, progress=None, eps=DEFAULT_EPS, search="pfr"):
    """The registry's entry (``algorithms``): ``encode_hybrid``."""
    return encode_hybrid(target, seed, prior=prior, eps=eps, search=search, block_bits=block_bits,
                         block_dims=block_dims, orc_candidates=orc_candidates, index_model=index_model,
                         max_steps=max_steps, progress=progress)


def decode(header, words, seed, prior, index_model=None, max_dims=container.MAX_DIMS):
    """The registry's entry (``algorithms``): check the seed, prior and index model against
    the header (and the shape against ``max_dims``), then ``decode_hybrid``."""
    prior = decoder_prior(header, seed, prior, index_model, max_dims)
    header_dims(header)
    zipf_bits_param(header)
    return decode_hybrid(header, words, seed, prior, index_model)
