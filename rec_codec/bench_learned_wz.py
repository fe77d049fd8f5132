"""The Wyner-Ziv bench with the learned scheme and the non-Gaussian sources.

``reccodec bench wz`` hands over here when a scheme is ``learned`` or ``learned-published``
or a source is one of ``wz_sources.SOURCES``. Rows have the columns of ``bench_wz``:

- nsq, nsq-uniform and rec are designed for the source's Gaussian fit (the source itself
  when it is Gaussian) and run on the true draws;
- ``learned`` trains on ``TRAIN_PAIRS`` draws of its own (``learned_wz.train_for_rate``,
  the lambda search included; its time is in ``params``), then encodes the evaluation
  draws into a real file: the rate is the file's payload bits per sample;
- ``learned-published`` keeps that model's q and decoder but encodes with the published
  code's rule, u = argmin_k -log2 q(k) + lambda E[(x - g(k, y))^2], the expectation over
  ``PUBLISHED_DRAWS`` quantiles of y given x (which it must know);
- for a non-Gaussian source ``dwz_db`` holds the Shannon lower bound of the conditional
  rate-distortion function (``wz_sources.shannon_lower_bound``), ``dr_db`` is empty and
  ``side_only_db`` is the measured MSE of E[X | y].
"""

import math
import time
import zlib

import numpy as np

from . import bench_wz as _bench
from . import learned_wz as _learned
from . import wyner_ziv as _wz
from . import wz_sources as _sources
from .errors import InputError
from .rng import ndtri_as241

__all__ = ["LEARNED_SCHEMES", "TRAIN_PAIRS", "PUBLISHED_DRAWS", "HIDDEN", "EPOCHS", "wz_general", "published_indices"]

LEARNED_SCHEMES = ("learned", "learned-published")
TRAIN_PAIRS = 30000
PUBLISHED_DRAWS = 16
HIDDEN = 64
EPOCHS = 60


def _rng(name, salt):
    return np.random.default_rng([salt, zlib.crc32(name.encode())])


def _y_given_x(name, gaussian, x):
    """(n, M) quantile draws of y given x for a known source."""
    z = np.array([ndtri_as241((j + 0.5) / PUBLISHED_DRAWS) for j in range(PUBLISHED_DRAWS)])
    if name == "signed-laplace":
        return np.repeat(np.sign(x)[:, None], 1, axis=1)
    if gaussian.relation == "y = x + n" or name in _sources.SOURCES:
        return x[:, None] + math.sqrt(gaussian.var_n) * z[None, :]
    var_x = gaussian.var_x
    return (gaussian.var_y / var_x) * x[:, None] + math.sqrt(gaussian.var_y * gaussian.var_n / var_x) * z[None, :]


def published_indices(model, x, y_draws, chunk=2048):
    """u = argmin_k -log2 q(k) + lambda E[(x - g(k, y))^2] over the rows of ``y_draws``.

    Args:
        model (LearnedWZ): one-dimensional; lambda is the model's (per nat, so the rate
            term is in nats here).
        x (float64 (n,)), y_draws (float64 (n, M)).
    Returns:
        int64 (n,).
    """
    k = model.codewords
    lmbda = float(model.info["lmbda"])
    rate = -np.log(model.rate_probabilities())
    out = np.empty(x.size, dtype=np.int64)
    m = y_draws.shape[1]
    for start in range(0, x.size, chunk):
        xs, ys = x[start:start + chunk], y_draws[start:start + chunk]
        n = xs.size
        u = np.tile(np.arange(k), n * m)
        yy = np.repeat(ys.reshape(-1), k).reshape(-1, 1)
        g = model.reconstruct(u, yy)[:, 0].reshape(n, m, k)
        cost = rate[None, :] + lmbda * ((xs[:, None, None] - g) ** 2).mean(axis=1)
        out[start:start + n] = np.argmin(cost, axis=1)
    return out


def _code_indices(model, u):
    """A real file of the indices u under q: its payload bits."""
    from .entropy import PayloadWriter
    from . import container

    writer = PayloadWriter()
    writer.add_categorical(u, model.rate_probabilities())
    data = container.pack(container.Header(algorithm=_learned.ALGORITHM, shape=(u.size,), tag=model.tag,
                                           params={"wz_codewords": model.codewords}), writer.finish())
    head = container.header_size(data)
    return 8 * (len(data) - head), head


def wz_general(sources, schemes, rates, samples=10000, seed=1, progress=None, rec_budget_bits=None):
    """Rows of the Wyner-Ziv bench for any source and scheme; see the module docstring."""
    known = _bench._SCHEMES + LEARNED_SCHEMES
    for scheme in schemes:
        if scheme not in known:
            raise InputError(f"unknown scheme {scheme!r}; choose from {', '.join(known)}")
    rows = []
    for name in sources:
        other = _sources.source(name)
        gaussian = other.gaussian_fit if other else _bench.parse_source(name)
        if other:
            x, y = other.sample(samples, _rng(name, 7))
            side_only = float(np.mean((other.mmse_estimate(y) - x) ** 2))
            h_cond = other.conditional_entropy()
        else:
            x, y = gaussian.sample(samples, _bench._evaluation_rng(gaussian))
            side_only = gaussian.cond_var
        trained = {}
        for rate in rates:
            bound = float(_sources.shannon_lower_bound(h_cond, rate) if other else _wz.dwz(gaussian, rate))
            for scheme in schemes:
                hard_db, error_rate, pe_bound = None, 0.0, None
                if scheme in LEARNED_SCHEMES:
                    if rate not in trained:
                        tx, ty = (other or gaussian).sample(TRAIN_PAIRS, _rng(name, 13))
                        started = time.perf_counter()
                        trained[rate] = (*_learned.train_for_rate(tx, ty, rate, hidden=HIDDEN, epochs=EPOCHS,
                                                                  seed=0), time.perf_counter() - started)
                    model, report, train_s = trained[rate]
                    started = time.perf_counter()
                    if scheme == "learned":
                        data, u, header_bits = _learned.encode(x, model)
                        payload_bits, header_bytes = 8 * len(data) - header_bits, header_bits // 8
                    else:
                        u = published_indices(model, x, _y_given_x(name, gaussian, x))
                        payload_bits, header_bytes = _code_indices(model, u)
                    encode_s = time.perf_counter() - started
                    started = time.perf_counter()
                    xhat = model.reconstruct(u, y.reshape(-1, 1))[:, 0]
                    decode_s = time.perf_counter() - started
                    decoder = "g(u,y)"
                    kind = (f"modulo L={model.codewords} step={model.info['step']:.4g}"
                            if model.architecture == "modulo" else
                            f"K={model.codewords} lambda={model.info['lmbda']:.4g}")
                    params = f"{kind} train {train_s:.0f} s ({len(report.trials)} trials)"
                else:
                    model, coded, xhat, hard, choices, encode_s, decode_s = _bench.designed_row_run(
                        gaussian, scheme, rate, x, y, seed, rec_budget_bits)
                    hard_db = round(10 * math.log10(float(np.mean((hard - x) ** 2))), 2)
                    error_rate = round(float(np.mean(choices != coded.choices)), 4)
                    payload_bits, header_bytes = coded.payload_bits, coded.header_bits // 8
                    decoder = model.params().decoder
                    params = _bench._params_text(model) + (" (Gaussian fit)" if other else "")
                mse = float(np.mean((xhat - x) ** 2))
                row = {
                    "source": name, "scheme": scheme, "decoder": decoder, "rate_bits": rate,
                    "bits_per_sample": round(payload_bits / x.size, 4), "header_bytes": header_bytes,
                    "mse": round(mse, 6), "mse_db": round(10 * math.log10(mse), 2), "hard_mse_db": hard_db,
                    "dwz_db": round(10 * math.log10(bound), 2),
                    "gap_db": round(10 * math.log10(mse / bound), 2),
                    "dr_db": None if other else round(10 * math.log10(float(_wz.d_no_side(gaussian, rate))), 2),
                    "side_only_db": round(10 * math.log10(side_only), 2),
                    "error_rate": error_rate, "pe_bound": pe_bound, "params": params,
                    "encode_s": round(encode_s, 3), "decode_s": round(decode_s, 3),
                }
                rows.append(row)
                if progress is not None:
                    progress(row)
    return rows
