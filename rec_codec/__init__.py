"""reccodec: relative entropy coding (channel simulation) with numba kernels.

Send a random sample of a diagonal Gaussian target Q with about KL(Q||P) bits, given a
prior P and a seed shared by encoder and decoder::

    from rec_codec import DiagonalGaussian, encode, decode
    result = encode(DiagonalGaussian(mean, std), seed=7)
    sample = decode(result.data, seed=7)      # == result.sample, bit for bit

Names are imported on first use (PEP 562), so ``import rec_codec.errors`` or
``rec_codec.container`` alone loads neither numba nor the kernels.
"""

import importlib

# public name: the module that defines it
_EXPORTS = {
    "BatchResult": "batch", "decode_batch": "batch", "decode_record": "batch", "encode_batch": "batch",
    "record_file": "batch",
    "BlockLayout": "blocks", "layout_by_budget": "blocks", "layout_fixed": "blocks",
    "ALGORITHMS": "codec", "EncodeResult": "codec", "decode": "codec", "encode": "codec",
    "DiagonalGaussian": "distributions", "dinf_bits": "distributions", "kl_bits": "distributions",
    "standard_normal_like": "distributions",
    "EmpiricalIndexModel": "entropy",
    "FormatError": "errors", "InputError": "errors", "Interrupted": "errors", "MismatchError": "errors",
    "RecCodecError": "errors",
    "soft_round": "soft_rounding", "soft_round_conditional_mean": "soft_rounding",
    "soft_round_inverse": "soft_rounding",
    "CodecModel": "model", "load_model": "model",
    "decode_shards": "shards", "encode_shards": "shards",
    "fit_index_model": "training", "train_model": "training",
    "UQPrior": "uq", "decode_uq": "uq", "encode_uq": "uq",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def _package_version():
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("reccodec")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


def __getattr__(name):
    if name == "__version__":
        value = _package_version()
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # looked up once
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
