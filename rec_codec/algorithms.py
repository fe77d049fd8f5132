"""The one list of the coding algorithms for Gaussian targets, and what each needs.

Every algorithm lives in a module with the same interface, and ``codec`` reaches it only
through this registry:

    encode(algorithm, target, seed, prior, block_bits=..., block_dims=..., orc_candidates=...,
           index_model=..., max_steps=..., progress=..., **options) -> file_coding.EncodeResult
    decode(header, words, seed, prior, index_model=...) -> np.ndarray   (the encoder's sample)

plus, for algorithms that take an MI profile, ``mi_profile=`` on both. Inside, each module
plans its blocks, runs its search kernel (through ``interrupts.run_search``), writes its
header parameters and payload with ``file_coding``'s pieces, and rebuilds the chosen
candidates from the shared PRNG. Modules are imported on first use, so a decoder that
never meets an algorithm never loads it (nor numba, where it decodes without it).

Universal quantization (``uq``) codes values rather than a Gaussian target, and Wyner-Ziv
(``wyner_ziv``) codes with side information; they keep interfaces of their own.
"""

import importlib
from dataclasses import dataclass

from .errors import InputError

__all__ = ["Algorithm", "REGISTRY", "NAMES", "get"]


@dataclass(frozen=True)
class Algorithm:
    """One coding algorithm.

    Attributes:
        name (str): as on the command line and in the file header.
        module (str): the module (in this package) that implements ``encode`` and ``decode``.
        exact (bool): the decoded sample follows the target exactly (else: approximately).
        narrows (bool): a dimension too wide for exact coding is narrowed by default
            (``narrowing``), marking the file approximate; strict=True refuses instead.
        options (tuple of str): keyword options of this algorithm beyond the common ones.
        takes_mi_profile (bool): accepts an MI profile (``partition``).
    """

    name: str
    module: str
    exact: bool
    narrows: bool = False
    options: tuple = ()
    takes_mi_profile: bool = False

    def implementation(self):
        """The module that codes with this algorithm."""
        return importlib.import_module(f".{self.module}", __package__)


REGISTRY = {a.name: a for a in (
    Algorithm("pfr", "block_rec", exact=True, narrows=True),
    Algorithm("orc", "block_rec", exact=False),
    Algorithm("sp-pfr", "partition", exact=True, narrows=True, options=("dinf_limit", "margin_bits"),
              takes_mi_profile=True),
    Algorithm("sp-orc", "partition", exact=False, options=("dinf_limit", "margin_bits"), takes_mi_profile=True),
    Algorithm("hybrid", "hybrid", exact=False, options=("eps", "search")),
)}
NAMES = tuple(REGISTRY)


def get(name):
    """The registered algorithm called ``name``.

    Raises:
        InputError: no algorithm has that name.
    """
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise InputError(f"unknown algorithm {name!r}; choose one of {', '.join(NAMES)}") from None
