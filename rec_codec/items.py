"""Items coded with a codec model: their seeds, narrowing, halving, search and symbols.

An item is one target of the model's shape. The encoder, for every item:

0. **picks** its coding component k (``components.choose_components``) and codes it
   against P_k from then on (a model with one component has nothing to pick);
1. **narrows** each dimension whose posterior is too wide for the coding distribution
   P_c (``narrowing``: D_inf(q_d||p_c,d) infinite or more than the model's
   ``narrow_slack`` bits over the dimension's KL); the item is then approximate, within
   the reported total variation, and ``strict=True`` refuses it instead.
2. **halves** every block of the model whose D_inf(Q||P') passes the model's
   ``dinf_limit`` (``blocks.halve_blocks``), so that no search needs more than about
   2^dinf_limit candidates;
3. **searches** every resulting block with SP-PFR (or PFR for a pfr model), keyed by the
   item's own seed, with the block's place among the item's blocks as counter field;
4. **writes** its symbols: the component k under the model's component frequencies (no
   bits when there is one), the halving flags (one frequency table per depth), then for each
   block the bin k_d of every dimension with J_d > 1 (uniform over J_d: exact bits) and the
   index n within the bin, as the octave b of n + 1 = 2^b + r under the block's table and
   r uniform over 2^b.

Item i of a batch coded with seed S uses the seed
``int.from_bytes(SHA-256(b"reccodec/item-seed/v1" + S (8 bytes LE) + i (8 bytes LE))[:8], "little")``:
every item has its own candidates, any item decodes alone, and the bytes do not depend on
how many threads run the search.
"""

import functools
import hashlib
import math
from dataclasses import dataclass

import numpy as np

from . import narrowing, sp_numpy
from .components import choose_components
from .blocks import BlockLayout, halve_blocks, halving_leaves
from .distributions import DiagonalGaussian, kl_bits, log_ratio_coefficients
from .errors import InputError
from .interrupts import run_search
from .philox_numpy import candidate_normals
from .rebuild import sp_candidate_values  # numpy: decoding needs no numba
from .record_coder import cumulative_table
from .seed import split_seed

__all__ = ["ITEM_SEED_DOMAIN", "CodedItem", "item_seed", "check_items", "pick_components", "narrow_stds",
           "encode_items",
           "write_item", "read_item", "item_samples"]

ITEM_SEED_DOMAIN = b"reccodec/item-seed/v1"
DEFAULT_MAX_STEPS = 2**31
_LN2 = math.log(2.0)


def item_seed(seed, index):
    """The seed of item ``index`` of a batch coded with ``seed`` (see the module docstring)."""
    split_seed(seed)
    if not 0 <= int(index) < 2**64:
        raise InputError(f"item index {index} is out of range")
    digest = hashlib.sha256(ITEM_SEED_DOMAIN + int(seed).to_bytes(8, "little") + int(index).to_bytes(8, "little"))
    return int.from_bytes(digest.digest()[:8], "little")


@dataclass
class CodedItem:
    """One item's choice and figures.

    Attributes:
        component (int): its coding component.
        lengths, depths, parents (np.ndarray): its blocks after halving (``halving_leaves``).
        flags, flag_depths (np.ndarray): the halving flags in preorder, with their depths.
        bins (np.ndarray): int64 k_d of every dimension (0 where J_d = 1).
        indices (np.ndarray): int64 index of the chosen candidate of each block.
        steps (np.ndarray): candidates drawn per block.
        narrowed (int): dimensions narrowed; tv_bound (float): the TV bound of that.
        kl_bits (float): KL(Q||P) to the user's prior; coding_kl_bits: KL(Q||P_c).
    """

    component: int
    lengths: np.ndarray
    depths: np.ndarray
    parents: np.ndarray
    flags: np.ndarray
    flag_depths: np.ndarray
    bins: np.ndarray
    indices: np.ndarray
    steps: np.ndarray
    narrowed: int
    tv_bound: float
    kl_bits: float
    coding_kl_bits: float


def check_items(model, mean, std):
    """Two float64 arrays [items, dims] after checking them against the model's shape.

    Args:
        model (CodecModel): the model.
        mean, std (array_like): [items, *model.shape] (or one item of model.shape); anything
            ``np.asarray`` takes, such as float32 arrays or CPU torch tensors.
    Raises:
        InputError: another shape, NaN or infinite values, std <= 0.
    """
    mean, std = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
    shape = model.shape
    if mean.shape != std.shape:
        raise InputError(f"mean has shape {mean.shape} but std has shape {std.shape}")
    if mean.shape == shape:
        mean, std = mean[None], std[None]
    if mean.ndim != len(shape) + 1 or mean.shape[1:] != shape:
        raise InputError(f"items must have shape (N, {', '.join(map(str, shape))}) for this model, got {mean.shape}")
    if mean.shape[0] == 0:
        raise InputError("there are no items")
    flat_mean, flat_std = mean.reshape(mean.shape[0], -1), std.reshape(std.shape[0], -1)
    for name, values in (("mean", flat_mean), ("std", flat_std)):
        bad = ~np.isfinite(values)
        if bad.any():
            item, dim = np.argwhere(bad)[0]
            raise InputError(f"item {item}: {name} of dimension {dim} is not finite")
    if (flat_std <= 0).any():
        item, dim = np.argwhere(flat_std <= 0)[0]
        raise InputError(f"item {item}: std of dimension {dim} is {flat_std[item, dim]:g}; it must be > 0")
    return flat_mean, flat_std


def pick_components(model, mean, std):
    """Each item's coding component (``components.choose_components``), int64 [items]."""
    return choose_components(mean, std, model.component_freqs, model.coding_mean, model.coding_std,
                             model.narrow_slack)


def narrow_stds(model, mean, std, components, strict=False):
    """``narrowing.narrow_stds`` against each item's coding component and the model's slack,
    with errors that name the item."""
    if model.num_components == 1:
        return narrowing.narrow_stds(mean, std, model.coding_mean[0], model.coding_std[0], model.narrow_slack,
                                     strict, against="the model's coding std")
    out, narrowed, tv = std.copy(), np.zeros(mean.shape[0], dtype=np.int64), np.zeros(mean.shape[0])
    for k in np.unique(components).tolist():
        rows = np.flatnonzero(components == k)
        out[rows], narrowed[rows], tv[rows] = narrowing.narrow_stds(
            mean[rows], std[rows], model.coding_mean[k], model.coding_std[k], model.narrow_slack, strict,
            against=f"the model's coding std (component {k})",
            item_name=None if mean.shape[0] == 1 else rows.__getitem__)
    return out, narrowed, tv


@functools.lru_cache(maxsize=16)
def _tables(model):
    """Cumulative frequency tables of the model: (index tables, halving tables, component table)."""
    return ([cumulative_table(row) for row in model.index_freqs],
            [cumulative_table(row) for row in model.halving_freqs], cumulative_table(model.component_freqs))


def _index_table(model, parent, depth):
    nb = model.num_blocks
    if depth == 0:
        return parent
    return nb + min(int(depth), model.index_freqs.shape[0] - nb) - 1


def _strides(nbins, starts, lengths):
    strides = np.ones(nbins.shape[0], dtype=np.int64)
    for s, n in zip(starts.tolist(), lengths.tolist()):
        strides[s:s + n] = np.concatenate(([1], np.cumprod(nbins[s:s + n - 1])))
    return strides


def _block_dinf(model, target, coding, components):
    """Per flat dimension, its share of a block's D_inf(Q||P') in bits, and the search tables."""
    if model.algorithm == "pfr":
        a, b, c, lrmax = log_ratio_coefficients(target, coding)
        return lrmax / _LN2, (a, b, c, lrmax)
    from .partition import encoder_tables

    nbins = model.nbins[components].ravel()
    tables = encoder_tables(target, coding, nbins)
    return tables[-1] / _LN2, tables + (nbins,)


def encode_items(model, mean, std, seeds, strict=False, max_steps=DEFAULT_MAX_STEPS):
    """Search every item of a batch; return one ``CodedItem`` each.

    Args:
        model (CodecModel): the model.
        mean, std (np.ndarray): float64 [items, dims] from ``check_items``.
        seeds (list of int): each item's seed (``item_seed``).
        strict (bool): refuse an item that needs narrowing.
        max_steps (int): cap on candidates per block.
    Raises:
        InputError: an item that needs narrowing with ``strict``, an item too far from the
            coding distribution (``codec.check_target_range``), a max_steps out of range,
            or a block past max_steps.
    """
    from .file_coding import check_max_steps, check_target_range

    max_steps = check_max_steps(max_steps)
    count, dims = mean.shape
    components = pick_components(model, mean, std)
    coding_mean, coding_std = model.coding_mean[components], model.coding_std[components]
    check_target_range(DiagonalGaussian(mean, std), DiagonalGaussian(coding_mean, coding_std))
    kl = kl_bits(DiagonalGaussian(mean, std), DiagonalGaussian(np.broadcast_to(model.prior_mean, mean.shape),
                                                              np.broadcast_to(model.prior_std, mean.shape)))
    narrowed_std, narrowed, tv = narrow_stds(model, mean, std, components, strict)
    target = DiagonalGaussian(mean.ravel(), narrowed_std.ravel())
    coding = DiagonalGaussian(coding_mean.ravel(), coding_std.ravel())
    coding_kl = kl_bits(target, coding).reshape(count, dims).sum(axis=1)
    dinf, tables = _block_dinf(model, target, coding, components)
    dinf = dinf.reshape(count, dims)
    layout = BlockLayout(model.block_lengths)
    plans = []
    for i in range(count):
        leaves, flags, flag_depths = halve_blocks(layout, lambda blocks: blocks.block_sums(dinf[i]),
                                                  model.dinf_limit)
        replay = iter(flags.tolist())
        lengths, depths, parents = halving_leaves(layout, lambda depth: next(replay))
        plans.append((lengths, depths, parents, flags, flag_depths))
    per_item = np.array([len(p[0]) for p in plans])
    lengths = np.concatenate([p[0] for p in plans])
    item_of = np.repeat(np.arange(count), per_item)
    block_ids = np.concatenate([np.arange(n) for n in per_item]).astype(np.int64)
    starts = (np.concatenate([np.cumsum(p[0]) - p[0] for p in plans]) + dims * item_of).astype(np.int64)
    keys = np.array([split_seed(seeds[i]) for i in range(count)], dtype=np.uint64)
    k0s, k1s = keys[item_of, 0].copy(), keys[item_of, 1].copy()
    bins = np.zeros(count * dims, dtype=np.int64)
    indices = np.empty(lengths.shape[0], dtype=np.int64)
    steps = np.empty(lengths.shape[0], dtype=np.int64)
    if model.algorithm == "pfr":
        from .kernels.block_search import pfr_blocks

        a, b, c, lrmax = tables

        def search(lo, hi, stop, done):
            pfr_blocks(k0s, k1s, block_ids, starts, lengths, a, b, c, lrmax, int(max_steps), stop, done, lo, hi,
                       indices, steps)

        run_search(lengths.shape[0], search)
    else:
        a, b, c, tstart, offset, cum, lrmax_p, nbins = tables
        strides = _strides(nbins, starts, lengths)
        # a small batch (one item, say) is searched in numpy and never loads numba
        # (``sp_numpy``: the kernel's results); the kernel takes the blocks left
        indices, steps, finished = sp_numpy.search_small((k0s, k1s), block_ids, starts, lengths, a, b, c, nbins,
                                                         strides, tstart, offset, cum, lrmax_p, max_steps, bins)
        left = np.flatnonzero(~finished)
        if left.shape[0] > 0:
            from .kernels.partition import sp_search_keyed_blocks

            found = np.empty(left.shape[0], dtype=np.int64)
            drawn = np.empty(left.shape[0], dtype=np.int64)
            keys_left = (k0s[left], k1s[left], block_ids[left], starts[left], lengths[left])

            def search(lo, hi, stop, done):
                sp_search_keyed_blocks(*keys_left, a, b, c, nbins, strides, tstart, offset, cum, lrmax_p,
                                       int(max_steps), bins, stop, done, lo, hi, found, drawn)

            run_search(left.shape[0], search)
            indices[left], steps[left] = found, drawn
    if (indices < 0).any():
        j = int(np.argmax(indices < 0))
        raise InputError(f"item {item_of[j]}: block {block_ids[j]} ran past {max_steps} candidates")
    bounds = np.concatenate(([0], np.cumsum(per_item)))
    bins = bins.reshape(count, dims)
    return [CodedItem(int(components[i]), *plans[i], bins=bins[i], indices=indices[bounds[i]:bounds[i + 1]],
                      steps=steps[bounds[i]:bounds[i + 1]], narrowed=int(narrowed[i]), tv_bound=float(tv[i]),
                      kl_bits=float(kl[i].sum()), coding_kl_bits=float(coding_kl[i]))
            for i in range(count)]


def write_item(writer, model, item):
    """Put one item's symbols into a ``RecordWriter``."""
    index_tables, halving_tables, component_table = _tables(model)
    levels = len(halving_tables)
    if model.num_components > 1:
        writer.categorical(item.component, component_table)
    for flag, depth in zip(item.flags.tolist(), item.flag_depths.tolist()):
        writer.categorical(flag, halving_tables[min(depth, levels - 1)])
    start = 0
    nbins = model.nbins[item.component]
    for length, depth, parent, n in zip(item.lengths.tolist(), item.depths.tolist(), item.parents.tolist(),
                                        item.indices.tolist()):
        for d in range(start, start + length):
            writer.uniform(item.bins[d], nbins[d])
        octave = (n + 1).bit_length() - 1
        writer.categorical(octave, index_tables[_index_table(model, parent, depth)])
        writer.uniform(n + 1 - (1 << octave), 1 << octave)
        start += length


def read_item(reader, model):
    """One item's (component, lengths, bins, indices) from a ``RecordReader``."""
    index_tables, halving_tables, component_table = _tables(model)
    levels = len(halving_tables)
    component = reader.categorical(component_table) if model.num_components > 1 else 0
    lengths, depths, parents = halving_leaves(
        BlockLayout(model.block_lengths), lambda depth: reader.categorical(halving_tables[min(depth, levels - 1)]))
    bins = np.zeros(model.num_dims, dtype=np.int64)
    indices = np.empty(lengths.shape[0], dtype=np.int64)
    start = 0
    nbins = model.nbins[component].tolist()
    for i, (length, depth, parent) in enumerate(zip(lengths.tolist(), depths.tolist(), parents.tolist())):
        for d in range(start, start + length):
            bins[d] = reader.uniform(nbins[d])
        octave = reader.categorical(index_tables[_index_table(model, parent, depth)])
        indices[i] = (1 << octave) - 1 + reader.uniform(1 << octave)
        start += length
    return component, lengths, bins, indices


def item_samples(model, seed, component, lengths, bins, indices):
    """The sample an item's choice names, flat float64: the decoder's output and the encoder's.

    Args:
        model (CodecModel): the model.
        seed (int): the item's seed.
        component (int): its coding component.
        lengths (np.ndarray): its blocks after halving.
        bins, indices (np.ndarray): its bins and per-block indices.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    block_ids = np.arange(lengths.shape[0], dtype=np.int64)
    if model.algorithm == "pfr":
        z = candidate_normals(seed, block_ids, lengths, indices)
        return model.coding_mean[component] + model.coding_std[component] * z
    starts = (np.cumsum(lengths) - lengths).astype(np.int64)
    nbins = model.nbins[component]
    return sp_candidate_values(seed, block_ids, starts, lengths, nbins, _strides(nbins, starts, lengths), bins, indices,
                               model.coding_mean[component], model.coding_std[component])
