"""Splitting the dimensions of a target into blocks, each one REC instance.

A block is a run of contiguous dimensions (in C order of the flattened array). Blocks are
independent given the seed, so they are searched in parallel and decoded in any order.
"""

from dataclasses import dataclass

import numpy as np

from .errors import InputError

__all__ = ["BlockLayout", "layout_by_budget", "layout_fixed", "halve_blocks", "apply_halvings", "halving_leaves"]


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


def _halves(start, length):
    """The two blocks a halving makes: the first floor(n/2) dimensions and the rest."""
    half = length // 2
    return (start, half), (start + half, length - half)


def halve_blocks(layout, block_cost, limit):
    """Halve every block whose cost passes a limit, again and again, down to one dimension.

    The cost of a block must depend on that block alone (SP-PFR's D_inf(Q||P'), which sets
    its steps, does). The decoder replays the halvings from one flag per visited block of
    two or more dimensions, in preorder: 1 halved, 0 kept (``apply_halvings``). A flag's
    depth (0 for a block of ``layout``, 1 for its halves, ...) lets it be coded with its
    own probability.

    Args:
        layout (BlockLayout): the blocks to start from.
        block_cost (callable): BlockLayout -> float array, the cost of each of its blocks.
        limit (float): the largest cost a block may keep.
    Returns:
        (BlockLayout, np.ndarray, np.ndarray): the new blocks, the int64 flags and their depths.
    """
    leaves = list(zip(layout.starts.tolist(), layout.lengths.tolist()))
    final = [False] * len(leaves)
    halved = set()
    while not all(final):
        costs = block_cost(BlockLayout(np.array([n for _, n in leaves], dtype=np.int64)))
        new_leaves, new_final = [], []
        for (start, length), done, cost in zip(leaves, final, costs.tolist()):
            if not done and length > 1 and cost > limit:
                halved.add((start, length))
                new_leaves += list(_halves(start, length))
                new_final += [False, False]
            else:
                new_leaves.append((start, length))
                new_final.append(True)
        leaves, final = new_leaves, new_final
    flags, depths = [], []

    def visit(start, length, depth):
        if length == 1:
            return
        flags.append(int((start, length) in halved))
        depths.append(depth)
        if flags[-1]:
            for child in _halves(start, length):
                visit(*child, depth + 1)

    for start, length in zip(layout.starts.tolist(), layout.lengths.tolist()):
        visit(start, length, 0)
    return (BlockLayout(np.array([n for _, n in leaves], dtype=np.int64)), np.array(flags, dtype=np.int64),
            np.array(depths, dtype=np.int64))


def apply_halvings(layout, read_flag):
    """The blocks ``halve_blocks`` made, replayed from its flags.

    Args:
        layout (BlockLayout): the blocks before halving.
        read_flag (callable): depth -> the next flag (0 or 1).
    Returns:
        BlockLayout.
    """
    return BlockLayout(halving_leaves(layout, read_flag)[0])


def halving_leaves(layout, read_flag):
    """``apply_halvings`` with each new block's origin: its lengths, depths and parent.

    Args:
        layout (BlockLayout): the blocks before halving.
        read_flag (callable): depth -> the next flag (0 or 1).
    Returns:
        (lengths, depths, parents): int64 arrays, one entry per new block; a block's depth
        counts the halvings that made it and its parent is the block of ``layout`` it
        comes from.
    """
    lengths, depths, parents = [], [], []

    def visit(start, length, depth, parent):
        if length > 1 and read_flag(depth):
            for child in _halves(start, length):
                visit(*child, depth + 1, parent)
        else:
            lengths.append(length)
            depths.append(depth)
            parents.append(parent)

    for parent, (start, length) in enumerate(zip(layout.starts.tolist(), layout.lengths.tolist())):
        visit(start, length, 0, parent)
    return tuple(np.array(x, dtype=np.int64) for x in (lengths, depths, parents))
