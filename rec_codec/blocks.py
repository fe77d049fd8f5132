"""Splitting the dimensions of a target into blocks, each one REC instance.

A block is a run of contiguous dimensions (in C order of the flattened array). Blocks are
independent given the seed, so they are searched in parallel and decoded in any order.
"""

from dataclasses import dataclass

import numpy as np

from .errors import InputError

__all__ = ["BlockLayout", "layout_by_budget", "layout_fixed"]


@dataclass(frozen=True, eq=False)
class BlockLayout:
    """Lengths of consecutive blocks over a flat array of ``sum(lengths)`` dimensions."""

    lengths: np.ndarray

    def __post_init__(self):
        lengths = np.ascontiguousarray(self.lengths, dtype=np.int64)
        if lengths.ndim != 1 or (lengths < 1).any():
            raise InputError("block lengths must be a 1-D array of positive integers")
        object.__setattr__(self, "lengths", lengths)

    @property
    def num_blocks(self):
        return int(self.lengths.shape[0])

    @property
    def num_dims(self):
        return int(self.lengths.sum())

    @property
    def starts(self):
        """Index of the first dimension of each block (int64)."""
        return np.concatenate(([0], np.cumsum(self.lengths)[:-1])).astype(np.int64)

    def is_fixed(self):
        """True when every block but the last has the length of the first."""
        return self.num_blocks <= 1 or bool((self.lengths[:-1] == self.lengths[0]).all()
                                            and self.lengths[-1] <= self.lengths[0])

    def block_sums(self, per_dim):
        """Sum of a per-dimension quantity over each block."""
        return np.add.reduceat(np.asarray(per_dim, dtype=np.float64).ravel(), self.starts)


def layout_fixed(num_dims, block_dims):
    """Blocks of block_dims dimensions (the last one may be shorter).

    Args:
        num_dims (int): dimensions in all, >= 1.
        block_dims (int): dimensions per block, >= 1.
    Returns:
        BlockLayout.
    Raises:
        InputError: if block_dims < 1.
    """
    if int(block_dims) < 1:
        raise InputError(f"--block-dims must be >= 1, got {block_dims}")
    block_dims = min(int(block_dims), int(num_dims))
    full, rest = divmod(int(num_dims), block_dims)
    lengths = [block_dims] * full + ([rest] if rest else [])
    return BlockLayout(np.array(lengths, dtype=np.int64))


def layout_by_budget(kl_bits, dinf_bits, budget_bits, dinf_limit_bits):
    """Group contiguous dimensions so that each block's KL stays within a budget.

    A block is closed before a dimension that would take its KL above ``budget_bits`` or its
    D_inf above ``dinf_limit_bits`` (D_inf sets the number of PFR steps, about 2^D_inf); a
    dimension that alone exceeds a limit gets a block of its own.

    Args:
        kl_bits (np.ndarray): KL of each dimension in bits, flat.
        dinf_bits (np.ndarray): D_inf of each dimension in bits (may be +inf, e.g. for ORC).
        budget_bits (float): KL budget per block, > 0.
        dinf_limit_bits (float): D_inf limit per block, > 0 (+inf for none).
    Returns:
        BlockLayout.
    Raises:
        InputError: if the budget is not a positive finite number.
    """
    if not np.isfinite(budget_bits) or budget_bits <= 0:
        raise InputError(f"--block-bits must be a positive number, got {budget_bits}")
    if not dinf_limit_bits > 0:
        raise InputError(f"the D_inf limit per block must be > 0, got {dinf_limit_bits}")
    kl = np.asarray(kl_bits, dtype=np.float64).ravel()
    dinf = np.asarray(dinf_bits, dtype=np.float64).ravel()
    lengths = []
    length, block_kl, block_dinf = 0, 0.0, 0.0
    for k, i in zip(kl.tolist(), dinf.tolist()):
        if length and (block_kl + k > budget_bits or block_dinf + i > dinf_limit_bits):
            lengths.append(length)
            length, block_kl, block_dinf = 0, 0.0, 0.0
        length += 1
        block_kl += k
        block_dinf += i
    if length:
        lengths.append(length)
    return BlockLayout(np.array(lengths, dtype=np.int64))
