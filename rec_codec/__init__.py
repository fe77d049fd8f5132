"""reccodec: relative entropy coding (channel simulation) with numba kernels.

Send a random sample of a diagonal Gaussian target Q with about KL(Q||P) bits, given a
prior P and a seed shared by encoder and decoder::

    from rec_codec import DiagonalGaussian, encode, decode
    result = encode(DiagonalGaussian(mean, std), seed=7)
    sample = decode(result.data, seed=7)      # == result.sample, bit for bit
"""

from importlib.metadata import PackageNotFoundError, version as _version

from .batch import BatchResult, decode_batch, decode_record, encode_batch, record_file
from .blocks import BlockLayout, layout_by_budget, layout_fixed
from .codec import ALGORITHMS, EncodeResult, decode, encode
from .distributions import DiagonalGaussian, dinf_bits, kl_bits, standard_normal_like
from .entropy import EmpiricalIndexModel
from .errors import FormatError, InputError, MismatchError, RecCodecError
from .soft_round import soft_round, soft_round_conditional_mean, soft_round_inverse
from .model import CodecModel, load_model
from .shards import decode_shards, encode_shards
from .training import fit_index_model, train_model
from .uq import UQPrior, decode_uq, encode_uq

try:
    __version__ = _version("reccodec")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "__version__",
    "ALGORITHMS",
    "BatchResult",
    "CodecModel",
    "BlockLayout",
    "DiagonalGaussian",
    "EmpiricalIndexModel",
    "EncodeResult",
    "FormatError",
    "InputError",
    "MismatchError",
    "RecCodecError",
    "UQPrior",
    "decode",
    "decode_batch",
    "decode_record",
    "decode_shards",
    "decode_uq",
    "dinf_bits",
    "encode",
    "encode_batch",
    "encode_shards",
    "encode_uq",
    "fit_index_model",
    "kl_bits",
    "layout_by_budget",
    "load_model",
    "layout_fixed",
    "record_file",
    "soft_round",
    "soft_round_conditional_mean",
    "soft_round_inverse",
    "standard_normal_like",
    "train_model",
]
