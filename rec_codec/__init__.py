"""reccodec: relative entropy coding (channel simulation) with numba kernels.

Send a random sample of a diagonal Gaussian target Q with about KL(Q||P) bits, given a
prior P and a seed shared by encoder and decoder::

    from rec_codec import DiagonalGaussian, encode, decode
    result = encode(DiagonalGaussian(mean, std), seed=7)
    sample = decode(result.data, seed=7)      # == result.sample, bit for bit
"""

from .blocks import BlockLayout, layout_by_budget, layout_fixed
from .codec import ALGORITHMS, EncodeResult, decode, encode
from .distributions import DiagonalGaussian, dinf_bits, kl_bits, standard_normal_like
from .entropy import EmpiricalIndexModel
from .errors import FormatError, InputError, MismatchError, RecCodecError
from .soft_round import soft_round, soft_round_conditional_mean, soft_round_inverse
from .training import fit_index_model
from .uq import UQPrior, decode_uq, encode_uq

__all__ = [
    "ALGORITHMS",
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
    "decode_uq",
    "dinf_bits",
    "encode",
    "encode_uq",
    "fit_index_model",
    "kl_bits",
    "layout_by_budget",
    "layout_fixed",
    "soft_round",
    "soft_round_conditional_mean",
    "soft_round_inverse",
    "standard_normal_like",
]
