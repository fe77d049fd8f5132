"""``reccodec bench rate``: bits per item against KL on real VAE latents, with baselines.

By default the digits VAE shipped with reccodec (``digits_vae``): a model is trained on the
1497 training posteriors and the 300 test posteriors are coded. Rows:

- ``model sp-pfr`` / ``model pfr``: a codec model (``train_model``), per-item records and one
  container; exact unless items were narrowed (the ``narrowed`` column);
- ``file pfr``, ``file sp-pfr``, ``file hybrid``: no model, all items flattened into one
  ``.rec`` file (what a user had before codec models; no item decodes alone), and
  ``file pfr`` per item as separate files (``record_bits`` column);
- ``uq``: universal quantization of the posterior means with a step per dimension of c times
  the dimension's mean training std, c found by bisection so that the PSNR matches the
  first REC row's (a deterministic quantizer, not a sample of the posterior; one seed's
  comparison is noisy, as a sample's PSNR varies by seed: ``bench/uq_over_seeds.py``
  compares means over many seeds); after a model
  row with coding components, a second row gives the information content of the same
  quantized values under the model's components as UQ's entropy model (each item under
  its cheapest component, plus that component's code length): no file format, no header;
- ``fixed16``: the RECOMBINER/COMBINER scheme: blocks of about 16 bits of mean KL from the
  profile, 2^16 ORC candidates per block, 16 bits per block (biased samples).

Columns: bits per item of records (``record_bits``) and of one container or file
(``batch_bits``), both over the mean KL, the header's share, encode and decode ms per item,
the variance of z = (sample - mean) / std and a KS p-value of z against N(0, 1) (exactness),
and the PSNR of the decoded images.
"""

import math
import time

import numpy as np

from . import codec, digits_vae
from .batch import decode_batch, describe_container, encode_batch
from .blocks import BlockLayout, layout_by_budget
from .distributions import DiagonalGaussian, kl_bits
from .errors import InputError
from .training import train_model

__all__ = ["RATE_COLUMNS", "rate", "uq_at_psnr", "largest_step", "uq_of_means", "uq_settings", "uq_component_bits"]

RATE_COLUMNS = ("scheme", "record_bits", "record_over_kl", "batch_bits", "batch_over_kl", "header_share",
                "encode_ms", "decode_ms", "z_var", "ks_p", "psnr_db", "narrowed", "note")


def _exactness(samples, mean, std):
    from scipy import stats

    z = ((samples - mean) / std).ravel()
    return round(float(z.var()), 4), float(f"{stats.kstest(z, 'norm').pvalue:.3g}")


def _row(scheme, kl_mean, count, record_bits, batch_bytes, header_bits, encode_s, decode_s, samples, mean, std,
         psnr, narrowed=0):
    z_var, ks_p = _exactness(samples, mean, std) if samples is not None else (None, None)
    batch_bits = 8 * batch_bytes / count if batch_bytes is not None else None
    return {
        "scheme": scheme,
        "record_bits": round(record_bits, 2) if record_bits is not None else None,
        "record_over_kl": round(record_bits / kl_mean, 4) if record_bits is not None else None,
        "batch_bits": round(batch_bits, 2) if batch_bits is not None else None,
        "batch_over_kl": round(batch_bits / kl_mean, 4) if batch_bits is not None else None,
        "header_share": round(header_bits / (8 * batch_bytes), 4) if batch_bytes else None,
        "encode_ms": round(1000 * encode_s / count, 3),
        "decode_ms": round(1000 * decode_s / count, 3),
        "z_var": z_var,
        "ks_p": ks_p,
        "psnr_db": round(psnr, 3),
        "narrowed": narrowed,
    }


def _psnr(vae, images, samples):
    if vae is None:
        return math.nan
    return float(digits_vae.psnr(images, vae.decode(samples)).mean())


def _model_row(algorithm, train, test, seed, vae, images, **train_options):
    model = train_model(*train, seed=seed, algorithm=algorithm, **train_options)
    encode_batch(test[0][:2], test[1][:2], model, seed)  # compile and warm the kernels outside the timing
    started = time.perf_counter()
    result = encode_batch(*test, model, seed)
    encode_s = time.perf_counter() - started
    started = time.perf_counter()
    decoded = decode_batch(result.container, model, seed)
    decode_s = time.perf_counter() - started
    assert decoded.tobytes() == result.samples.tobytes()
    count = test[0].shape[0]
    return _row(f"model {algorithm}", float(result.kl_bits.mean()), count, float(result.record_bits.mean()),
                len(result.container), describe_container(result.container)["header_bits"], encode_s, decode_s,
                decoded, *test,
                _psnr(vae, images, decoded), int((result.narrowed > 0).sum())), model


def uq_component_bits(reconstruction, step, model):
    """Bits per item of UQ's quantized values under a codec model's coding components.

    ``reconstruction`` is UQ's output (quantized value plus dither, times ``step``), so each
    value's cell is reconstruction -/+ step / 2; an item costs, under its cheapest component
    k, -log2 w_k plus the -log2 of each cell's mass under N(coding_mean_k, coding_std_k^2).
    """
    from scipy.special import log_ndtr

    lo, hi = reconstruction - step / 2, reconstruction + step / 2
    weights = model.component_freqs / model.component_freqs.sum()
    costs = []
    for w, m, s in zip(weights, model.coding_mean, model.coding_std):
        # a cell's mass Phi(z_hi) - Phi(z_lo), from the nearer tail: above the mean it is
        # Phi(-z_lo) - Phi(-z_hi), whose logs do not both round to 0
        z_lo, z_hi = (lo - m) / s, (hi - m) / s
        upper = z_lo > 0
        near, far = np.where(upper, -z_lo, z_hi), np.where(upper, -z_hi, z_lo)
        a, b = log_ndtr(far), log_ndtr(near)  # log of the mass: log(e^b - e^a), a < b
        log_mass = b + np.log1p(-np.exp(a - b))
        costs.append(-np.log2(w) - log_mass.sum(axis=1) / np.log(2.0))
    return np.min(costs, axis=0)


def _file_row(algorithm, test, seed, vae, images, per_item):
    mean, std = test
    count = mean.shape[0]
    target = DiagonalGaussian(mean.ravel(), std.ravel())
    started = time.perf_counter()
    try:
        result = codec.encode(target, seed, algorithm=algorithm)
    except InputError as e:
        return {"scheme": f"file {algorithm}", "note": f"refused: {e}"}
    encode_s = time.perf_counter() - started
    started = time.perf_counter()
    decoded = codec.decode(result.data, seed).reshape(mean.shape)
    decode_s = time.perf_counter() - started
    record_bits, note = None, ""
    if per_item:
        sizes = []
        for i in range(count):
            try:
                sizes.append(8 * len(codec.encode(DiagonalGaussian(mean[i], std[i]), seed + i, algorithm=algorithm).data))
            except InputError:
                pass
        record_bits = float(np.mean(sizes)) if sizes else None
        if len(sizes) < count:
            note = f"{count - len(sizes)} of {count} items refused as single files"
    kl_mean = float(kl_bits(target, DiagonalGaussian(np.zeros(target.size), np.ones(target.size))).sum()) / count
    row = _row(f"file {algorithm}", kl_mean, count, record_bits, len(result.data), result.header_bits, encode_s,
               decode_s, decoded, mean, std, _psnr(vae, images, decoded))
    narrowed = result.extra.get("narrowed_dims", 0)
    if narrowed:
        note = "; ".join(filter(None, [f"{narrowed} dimensions narrowed: approximate", note]))
    row["note"] = note
    return row


def uq_settings(train_mean, train_std):
    """UQ's step unit and entropy model from training posteriors [items, dims]: (width,
    prior_mean, prior_std), the mean posterior std of each dimension and the mean and std of
    the aggregate posterior."""
    return (train_std.mean(axis=0), train_mean.mean(axis=0),
            np.sqrt(train_mean.var(axis=0) + (train_std ** 2).mean(axis=0)))


def uq_of_means(mean, width, c, seed, prior_mean, prior_std):
    """Universal quantization of the means with step c * width per dimension, coded under
    N(prior_mean, prior_std^2); returns (UQResult, the decoder's reconstruction)."""
    from .uq import UQPrior, encode_uq

    step = c * width
    prior = UQPrior("gaussian", np.broadcast_to(prior_mean / step, mean.shape),
                    np.broadcast_to(prior_std / step, mean.shape))
    result = encode_uq(mean / step, prior, seed)
    return result, result.sample * step


def largest_step(reaches, lo=0.05, hi=20.0, rounds=30):
    """The largest step factor c in [lo, hi] for which reaches(c) holds (the PSNR falls as
    c grows), by geometric bisection; lo if none does."""
    for _ in range(rounds):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if reaches(mid) else (lo, mid)
    return lo


def uq_at_psnr(mean, width, seed, vae, images, psnr_target, prior_mean, prior_std):
    """``uq_of_means`` with c bisected so that the PSNR reaches psnr_target; returns
    (UQResult, c, psnr, reconstruction)."""
    def run(c):
        return uq_of_means(mean, width, c, seed, prior_mean, prior_std)

    c = largest_step(lambda c: _psnr(vae, images, run(c)[1]) >= psnr_target)
    result, reconstruction = run(c)
    return result, c, _psnr(vae, images, reconstruction), reconstruction


def _fixed16_row(train, test, seed, vae, images):
    mean, std = test
    count, dims = mean.shape
    profile = kl_bits(DiagonalGaussian(*train), DiagonalGaussian(np.zeros_like(train[0]), np.ones_like(train[1])))
    layout = layout_by_budget(profile.mean(axis=0), np.zeros(dims), 16.0, math.inf)
    tiled = BlockLayout(np.tile(layout.lengths, count))
    target = DiagonalGaussian(mean.ravel(), std.ravel())
    prior = DiagonalGaussian(np.zeros(target.size), np.ones(target.size))
    started = time.perf_counter()
    indices, _ = codec.search(target, prior, seed, tiled, "orc", orc_candidates=2**16)
    encode_s = time.perf_counter() - started
    started = time.perf_counter()
    decoded = codec.candidates(seed, prior, tiled, indices).reshape(mean.shape)
    decode_s = time.perf_counter() - started
    bits = 16.0 * layout.num_blocks
    kl_mean = float(kl_bits(target, prior).sum()) / count
    return _row("fixed16", kl_mean, count, bits, math.ceil(bits * count / 8), 0, encode_s, decode_s, decoded, mean,
                std, _psnr(vae, images, decoded))


def rate(schemes=("model sp-pfr", "model pfr", "file pfr", "file sp-pfr", "file hybrid", "uq", "fixed16"),
         train=None, test=None, seed=1, items=None, per_item_files=True, progress=None, **train_options):
    """Rows of RATE_COLUMNS, one per scheme, on the digits VAE unless train/test are given.

    Args:
        schemes (sequence of str): rows to run (see the module docstring).
        train, test (tuple of arrays or None): (mean, std) of training and test posteriors;
            default the digits VAE's (then PSNR is measured through its decoder).
        seed (int): the seed of every coder.
        items (int or None): use only the first ``items`` test posteriors.
        per_item_files (bool): also code each item as its own file for ``file`` rows.
        progress (callable or None): progress(row) after each row.
        **train_options: passed to ``train_model`` (block_bits, dinf_limit, ...).
    """
    vae = None
    if train is None or test is None:
        vae = digits_vae.load()
        train = (vae.train_mean, vae.train_std) if train is None else train
        test = (vae.test_mean, vae.test_std) if test is None else test
    images = vae.test_images if vae is not None else None
    if items is not None:
        test = (test[0][:items], test[1][:items])
        images = images[:items] if images is not None else None
    train = tuple(np.asarray(x, dtype=np.float64).reshape(len(x), -1) for x in train)
    test = tuple(np.asarray(x, dtype=np.float64).reshape(len(x), -1) for x in test)
    rows = []
    models = []
    for scheme in schemes:
        kind, _, algorithm = scheme.partition(" ")
        if kind == "model":
            row, model = _model_row(algorithm, train, test, seed, vae, images, **train_options)
            models.append(model)
        elif kind == "file":
            row = _file_row(algorithm, test, seed, vae, images, per_item_files)
        elif scheme == "fixed16":
            row = _fixed16_row(train, test, seed, vae, images)
        elif scheme == "uq":
            target_psnr = next((r["psnr_db"] for r in rows if r["scheme"].startswith("model")), None)
            if target_psnr is None or vae is None:
                continue
            width, coding_mean, coding_std = uq_settings(*train)
            started = time.perf_counter()
            result, c, psnr, reconstruction = uq_at_psnr(test[0], width, seed, vae, images, target_psnr, coding_mean,
                                                         coding_std)
            encode_s = (time.perf_counter() - started) / 31
            kl_mean = float(kl_bits(DiagonalGaussian(*test), DiagonalGaussian(np.zeros_like(test[0]),
                                                                             np.ones_like(test[1]))).sum(axis=1).mean())
            row = _row(f"uq (step {c:.2f} std)", kl_mean, test[0].shape[0], None, len(result.data), result.header_bits,
                       encode_s, 0.0, None, *test, psnr)
            if models and models[0].num_components > 1:
                rows.append(row)
                if progress is not None:
                    progress(row)
                bits = float(uq_component_bits(reconstruction, c * width, models[0]).mean())
                row = {"scheme": "uq, model's components", "batch_bits": round(bits, 2),
                       "batch_over_kl": round(bits / kl_mean, 4), "psnr_db": round(psnr, 3),
                       "note": "information content: no file format, no header"}
        else:
            raise ValueError(f"unknown scheme {scheme!r}")
        rows.append(row)
        if progress is not None:
            progress(row)
    return rows


DETECTION_COLUMNS = ("change", "trials", "refused", "fraction")


def record_detection(seed=1, items=100, trials=2000, rng_seed=0):
    """How often a framed record is refused when decoded with a wrong seed, a wrong model, or
    after one flipped bit: rows of DETECTION_COLUMNS on the digits VAE's test items.

    A record that is not refused decodes to some other sample of the same shape; the batch
    container adds a CRC32 and a 32-bit seed tag on top and refuses all of these.
    """
    from .batch import decode_record, record_file
    from .errors import RecCodecError

    vae = digits_vae.load()
    model = train_model(vae.train_mean, vae.train_std, seed=seed)
    other = train_model(vae.train_mean[::2], vae.train_std[::2], seed=seed + 1)
    result = encode_batch(vae.test_mean[:items], vae.test_std[:items], model, seed)
    rng = np.random.default_rng(rng_seed)

    def refused(data, model_, seed_, index):
        try:
            decode_record(data, model_, seed_, index)
        except RecCodecError:
            return True
        return False

    counts = {"wrong seed": 0, "wrong model": 0, "one flipped bit": 0}
    for t in range(trials):
        i = int(rng.integers(items))
        framed = record_file(result.records[i], model, seed, i)
        counts["wrong seed"] += refused(framed, model, seed + 1 + t, i)
        counts["wrong model"] += refused(framed, other, seed, i)
        bad = bytearray(framed)
        bit = int(rng.integers(8 * len(bad)))
        bad[bit // 8] ^= 1 << (bit % 8)
        counts["one flipped bit"] += refused(bytes(bad), model, seed, i)
    return [{"change": k, "trials": trials, "refused": v, "fraction": round(v / trials, 4)} for k, v in counts.items()]
