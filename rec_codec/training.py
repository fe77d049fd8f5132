"""Models fitted on a batch of training targets: the codec model and the empirical index model."""

import math

import numpy as np

from .blocks import BlockLayout
from .block_rec import default_orc_candidates, plan_blocks, search
from .file_coding import DEFAULT_BLOCK_BITS, DEFAULT_MAX_STEPS
from .distributions import DiagonalGaussian, kl_bits, standard_normal_like
from .entropy import EmpiricalIndexModel, zipf_lambda
from .errors import InputError
from .narrowing import DEFAULT_SLACK_BITS

__all__ = ["fit_index_model", "train_model", "DEFAULT_MODEL_BLOCK_BITS", "DEFAULT_MODEL_DINF_LIMIT",
           "DEFAULT_MODEL_MARGIN_BITS", "MAX_MARGIN_BITS"]


def fit_index_model(train, seed, prior=None, algorithm="pfr", block_bits=DEFAULT_BLOCK_BITS, block_dims=None,
                    orc_candidates=None, max_steps=DEFAULT_MAX_STEPS, progress=None):
    """Run the encoder on training targets and fit an index histogram with a Zipf escape.

    Args:
        train (DiagonalGaussian): a batch of targets, shape (N, *shape); each train[i] is
            coded as the encoder would code it.
        seed (int): seed for the training searches (any; the model does not depend on it
            beyond sampling noise).
        prior (DiagonalGaussian or None): P of shape ``shape``; default N(0, 1).
        algorithm, block_bits, block_dims, orc_candidates, max_steps: as for ``encode``.
        progress (callable or None): progress(blocks_done, blocks_total).
    Returns:
        EmpiricalIndexModel.
    Raises:
        InputError: a batch without a leading axis or of the wrong shape.
    """
    if algorithm in ("sp-pfr", "sp-orc"):
        raise InputError(f"fit-index-model supports pfr and orc; {algorithm} files use the Zipf index code")
    if train.mean.ndim < 2 or train.shape[0] < 1:
        raise InputError(f"training targets need a leading batch axis, shape (N, ...), got {train.shape}")
    item_shape = train.shape[1:]
    if prior is None:
        prior = standard_normal_like(item_shape)
    if prior.shape != item_shape:
        raise InputError(f"training targets have shape {item_shape} but the prior has shape {prior.shape}")
    count = train.shape[0]
    lengths, kls = [], []
    for i in range(count):
        target = DiagonalGaussian(train.mean[i], train.std[i], name=f"training target {i}")
        layout, kl, _ = plan_blocks(target, prior, algorithm, block_bits, block_dims, max_steps)
        lengths.append(layout.lengths)
        kls.append(kl)
    layout = BlockLayout(np.concatenate(lengths))
    kl = np.concatenate(kls)
    flat_train = DiagonalGaussian(train.mean.ravel(), train.std.ravel())
    flat_prior = DiagonalGaussian(np.tile(prior.mean.ravel(), count), np.tile(prior.std.ravel(), count))
    if algorithm == "orc" and orc_candidates is None:
        orc_candidates = default_orc_candidates(layout, kl)
    indices, _ = search(flat_train, flat_prior, seed, layout, algorithm, orc_candidates, max_steps,
                        progress=progress)
    budget = float(layout.block_sums(kl).mean())
    return EmpiricalIndexModel.fit(
        indices,
        escape_lambda=zipf_lambda(budget),
        metadata={"algorithm": algorithm, "block_bits": float(block_bits) if block_dims is None else -1.0,
                  "block_dims": int(block_dims or 0), "training_targets": int(count)},
    )


DEFAULT_MODEL_BLOCK_BITS = 64.0
# Blocks are halved past this D_inf(Q||P') (about 2^21 steps), and a block's bins are its MI
# less this margin. Measured on the digits VAE (bench/RESULTS.md, "Over seeds"): over 5
# training seeds with 8 coding seeds each, limit 21 with a 4-bit margin gave 68.00 bits per
# image, against 68.16 for limit 20 with the margin of the trial below (which chose 8 bits
# on 3 of the 5 seeds), fewer bits for every training seed, at about the same encode time
# and in half the training time.
DEFAULT_MODEL_DINF_LIMIT = 21.0
DEFAULT_MODEL_MARGIN_BITS = 4.0
MAX_MARGIN_BITS = 32.0
# margin_bits="auto" tries these on a sample of the training items
_MARGINS = (0.0, 1.0, 2.0, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 8.0)
_MARGIN_TRIAL_ITEMS = 256
# The index and halving tables are fitted on at most this many training items (a
# seeded subset): every search costs time, and 63 octaves per table need no more.
_TABLE_ITEMS = 4096


def _coding_components(mean, std, prior_mean, prior_std, fit, components, seed):
    """((component_freqs, coding_mean [K, dims], coding_std [K, dims]), report)."""
    from .model import INDEX_TOTAL_BITS
    from .components import fit_components
    from .record_coder import quantize_frequencies

    if not fit:
        return (None, prior_mean[None].copy(), prior_std[None].copy()), {}
    weights, coding_mean, coding_std, report = fit_components(mean, std, seed, components)
    freqs = quantize_frequencies(weights, INDEX_TOTAL_BITS) if weights.shape[0] > 1 else None
    return (freqs, coding_mean, coding_std), report


def _table(counts, total_bits, floor):
    from .record_coder import quantize_frequencies

    counts = np.asarray(counts, dtype=np.float64)
    return quantize_frequencies(counts + floor * max(counts.sum(), 1.0) / counts.size, total_bits)


def _fit_tables(nb, coded):
    """Index and halving tables (index_freqs, halving_freqs) fitted on coded training items
    of a model with ``nb`` blocks."""
    from .model import INDEX_TOTAL_BITS, N_OCTAVES

    depth_levels = max(1, max((int(item.depths.max()) for item in coded), default=0))
    counts = np.zeros((nb + depth_levels, N_OCTAVES))
    max_depth = max((int(item.flag_depths.max()) for item in coded if item.flag_depths.size), default=0)
    flag_counts = np.zeros((max_depth + 1, 2))
    for item in coded:
        octaves = np.array([(int(n) + 1).bit_length() - 1 for n in item.indices])
        rows = np.where(item.depths == 0, item.parents, nb + np.minimum(item.depths, depth_levels) - 1)
        np.add.at(counts, (rows, octaves), 1)
        np.add.at(flag_counts, (item.flag_depths, item.flags), 1)
    pooled = counts.sum(axis=0)
    # each table leans on the pooled histogram of all blocks for octaves it rarely saw
    smoothed = counts + 2.0 * (pooled + 0.05) / (pooled.sum() + 0.05 * N_OCTAVES)
    index_freqs = np.stack([_table(row, INDEX_TOTAL_BITS, 0.0) for row in smoothed])
    halving_freqs = np.stack([_table(row + 0.5, INDEX_TOTAL_BITS, 0.0) for row in flag_counts])
    return index_freqs, halving_freqs


def _with(model, CodecModel, **changes):
    fields = {name: getattr(model, name) for name in model.__dataclass_fields__}
    fields.update(changes)
    return CodecModel(**fields)


def _held_out_folds(mean, std, final, seed):
    """[(rows, coding)]: the training items to code and the components to code them with.

    Everything fitted on how items code (the profile, hence the layout and bins, the margin
    and the tables) comes from items coded as new items will be: with one component, all
    items against it; with several, each half of the items against components fitted on
    the other half, so that their KL is not the fitted items' optimism.
    """
    count = mean.shape[0]
    if final[1].shape[0] == 1 or count < 4:
        return [(np.arange(count), final)]
    order = np.random.default_rng(seed).permutation(count)
    halves = (np.sort(order[: count // 2]), np.sort(order[count // 2:]))
    return [(halves[1 - h], _coding_components(mean[halves[h]], std[halves[h]], None, None, fit=True,
                                               components=final[1].shape[0], seed=seed)[0]) for h in (0, 1)]


def _coded_kl(mean, std, model):
    """(KL [items, dims] of each item to its component, the components picked)."""
    from .items import pick_components

    picked = pick_components(model, mean, std)
    kl = kl_bits(DiagonalGaussian(mean, std), DiagonalGaussian(model.coding_mean[picked], model.coding_std[picked]))
    return kl, picked


# a component's profile leans on the profile of all items as if that were this many items
_PROFILE_PRIOR_ITEMS = 10.0


def _component_profiles(mean, std, model, profile):
    """Each of the model's components' MI profile, from the items it was fitted on: their
    mean KL, plus the gap between ``profile`` (held out) and the same items' in-sample mean,
    drawn towards ``profile`` by ``_PROFILE_PRIOR_ITEMS``."""
    kl, picked = _coded_kl(mean, std, model)
    gap = profile - kl.mean(axis=0)
    out = []
    for k in range(model.num_components):
        mine = kl[picked == k]
        out.append((mine.sum(axis=0) + _PROFILE_PRIOR_ITEMS * (profile - gap)) / (mine.shape[0] + _PROFILE_PRIOR_ITEMS)
                   + gap)
    return out


def _fit_bins(nbins, layout):
    """Bins with every block's total kept within MAX_BLOCK_BIN_BITS (rounding J_d per
    dimension can pass it): the largest J_d of a block too large is lowered until it fits."""
    from .model import MAX_BLOCK_BIN_BITS

    nbins = nbins.copy()
    for start, length in zip(layout.starts.tolist(), layout.lengths.tolist()):
        block = nbins[start:start + length]
        while np.log2(block).sum() > MAX_BLOCK_BIN_BITS:
            block[np.argmax(block)] = max(1, block.max() // 2)
    return nbins


def _untrained(CodecModel, **fields):
    from .model import INDEX_TOTAL_BITS, N_OCTAVES

    flat = np.full(N_OCTAVES, 1 << (INDEX_TOTAL_BITS - 6))
    flat[0] += (1 << INDEX_TOTAL_BITS) - int(flat.sum())
    nb = fields["block_lengths"].shape[0]
    half = np.array([[1 << (INDEX_TOTAL_BITS - 1)] * 2])
    return CodecModel(index_freqs=np.tile(flat, (nb + 1, 1)), halving_freqs=half, **fields)


def _record_bits(model, coded, whole_bytes=True):
    """Each item's record size in bits (or, not ``whole_bytes``, its symbols' information
    content: what a container spends on it, less noisy for comparing settings)."""
    from .items import write_item
    from .record_coder import RecordWriter

    bits = []
    for item in coded:
        writer = RecordWriter()
        write_item(writer, model, item)
        bits.append(8 * len(writer.finish()) if whole_bytes else writer.information_bits())
    return np.array(bits, dtype=np.float64)


def train_model(train_mean, train_std, seed=0, prior=None, algorithm="sp-pfr", block_bits=DEFAULT_MODEL_BLOCK_BITS,
                dinf_limit=DEFAULT_MODEL_DINF_LIMIT, margin_bits=DEFAULT_MODEL_MARGIN_BITS, fit_coding_prior=True,
                components=None, narrow_slack=DEFAULT_SLACK_BITS, progress=None):
    """Make a codec model from training posteriors.

    The coding components (``components.fit_components``), the MI profile, the block layout
    (contiguous dimensions grouped by their mean KL up to ``block_bits``) and the bins J_d
    (per component) come from the training targets; the index and halving tables from
    coding them (``_held_out_folds``), each with its own item seed of ``seed``.
    The tables are fitted on up to 4096 of the training items. With ``margin_bits="auto"``,
    the margin between a block's MI and log2 J is chosen among 0..8 bits by the mean
    information content of the records of up to 256 of the training items (whole bytes
    would add up to 8 bits of rounding noise per item). Either subset is drawn with
    ``seed`` from the whole set.

    Args:
        train_mean, train_std (array_like): [items, *shape].
        seed (int): seed of the training searches.
        prior (DiagonalGaussian or None): the user's prior of shape ``shape``; default N(0, 1).
        algorithm (str): "sp-pfr" (default) or "pfr".
        block_bits (float): mean KL per block.
        dinf_limit (float): blocks whose D_inf(Q||P') passes this many bits are halved.
        margin_bits (float or "auto"): bits between a block's MI and log2 J (sp-pfr), in
            [0, 32]; "auto" chooses it on the training items (slower).
        fit_coding_prior (bool): draw candidates from Gaussians fitted to the training
            posteriors (default) rather than from the prior.
        components (int or None): how many coding components (K); None chooses K by
            cross-validation (``components.fit_components``).
        narrow_slack (float): see ``items.narrow_stds``.
        progress (callable or None): progress(stage) with a short text.
    Returns:
        CodecModel.
    Raises:
        InputError: bad shapes or values, or options out of range.
    """
    from .items import check_items, encode_items, item_seed
    from .model import ALGORITHMS, CodecModel
    from .partition import allocate_bins
    from .blocks import layout_by_budget

    if algorithm not in ALGORITHMS:
        raise InputError(f"a codec model supports {', '.join(ALGORITHMS)}; got {algorithm!r}")
    for name, value, low, high in (("block_bits", block_bits, 0.5, 4096), ("dinf_limit", dinf_limit, 1, 30),
                                   ("narrow_slack", narrow_slack, 1, 64)):
        if not (isinstance(value, (int, float)) and low <= value <= high):
            raise InputError(f"{name} must be in [{low}, {high}], got {value!r}")
    if margin_bits != "auto" and not (isinstance(margin_bits, (int, float)) and 0 <= margin_bits <= MAX_MARGIN_BITS):
        raise InputError(f"margin_bits must be in [0, {MAX_MARGIN_BITS:g}] or 'auto', got {margin_bits!r}")
    from .model import MAX_COMPONENTS

    if components is not None and not (isinstance(components, int) and 1 <= components <= MAX_COMPONENTS):
        raise InputError(f"components must be an integer in [1, {MAX_COMPONENTS}], got {components!r}")
    if not fit_coding_prior and components not in (None, 1):
        raise InputError("coding components are fitted to the training posteriors: drop --no-fit-prior")
    mean, std = np.asarray(train_mean, dtype=np.float64), np.asarray(train_std, dtype=np.float64)
    if mean.ndim < 2 or mean.shape != std.shape or mean.shape[0] < 1:
        raise InputError(f"training targets need mean and std of one shape (N, ...), got {mean.shape} and {std.shape}")
    from .components import MIN_ITEMS

    if components is not None and components > 1 and mean.shape[0] < MIN_ITEMS * components:
        raise InputError(f"{components} coding components need at least {MIN_ITEMS * components} training items "
                         f"({MIN_ITEMS} each), got {mean.shape[0]}; pass fewer --components")
    shape = mean.shape[1:]
    prior = standard_normal_like(shape) if prior is None else prior
    if prior.shape != shape:
        raise InputError(f"training targets have shape {shape} but the prior has shape {prior.shape}")
    prior_mean, prior_std = prior.mean.ravel(), prior.std.ravel()
    count = mean.shape[0]
    mean, std = mean.reshape(count, -1), std.reshape(count, -1)
    probe = _untrained(CodecModel, algorithm="pfr", block_lengths=np.array([mean.shape[1]]), shape=shape,
                       prior_mean=prior_mean, prior_std=prior_std, coding_mean=prior_mean, coding_std=prior_std,
                       dinf_limit=float(dinf_limit), narrow_slack=float(narrow_slack),
                       nbins=np.ones(mean.shape[1], dtype=np.int64))
    mean, std = check_items(probe, mean.reshape((count,) + shape), std.reshape((count,) + shape))
    if progress is not None:
        progress("coding components")
    final, components_cv = _coding_components(mean, std, prior_mean, prior_std, fit_coding_prior, components, seed)
    base = dict(shape=shape, prior_mean=prior_mean, prior_std=prior_std, dinf_limit=float(dinf_limit),
                narrow_slack=float(narrow_slack))

    def model_with(coding, block_lengths, nbins, algorithm="pfr"):
        freqs, coding_mean, coding_std = coding
        nbins = np.asarray(nbins)
        return _untrained(CodecModel, algorithm=algorithm, block_lengths=block_lengths, coding_mean=coding_mean,
                          coding_std=coding_std, component_freqs=freqs,
                          nbins=nbins if nbins.ndim == 2 else np.tile(nbins, (coding_mean.shape[0], 1)), **base)

    def unbinned(coding):
        return model_with(coding, np.array([mean.shape[1]]), np.ones(mean.shape[1]))

    folds = _held_out_folds(mean, std, final, seed)
    profile = np.empty_like(mean)
    for rows, coding in folds:
        profile[rows] = _coded_kl(mean[rows], std[rows], unbinned(coding))[0]
    profile = profile.mean(axis=0)
    # each fold's components were fitted on the items it does not code
    fitted_on = [np.setdiff1d(np.arange(count), rows) for rows, _ in folds] if len(folds) > 1 else [np.arange(count)]
    profiles_of = [_component_profiles(mean[rows], std[rows], unbinned(coding), profile)
                   for (_, coding), rows in zip(folds, fitted_on)]
    final_profiles = _component_profiles(mean, std, unbinned(final), profile)
    layout = layout_by_budget(profile, np.zeros_like(profile), float(block_bits), math.inf)
    seeds = [item_seed(seed, i) for i in range(count)]

    def bins_with(margin, profiles):
        if algorithm == "pfr":
            return np.ones(mean.shape[1], dtype=np.int64)
        return np.stack([_fit_bins(allocate_bins(p, layout, margin), layout) for p in profiles])

    def subsets(limit):
        """Each fold's rows, or ``limit`` of them in all drawn with the seed, each fold's in
        order: items from the whole training set, however it is sorted."""
        total = sum(rows.shape[0] for rows, _ in folds)
        if total <= limit:
            return [rows for rows, _ in folds]
        rng = np.random.default_rng(seed)
        return [np.sort(rng.choice(rows, max(1, limit * rows.shape[0] // total), replace=False))
                for rows, _ in folds]

    def code_items(margin, fold_rows, whole_bytes=True):
        """The items ``fold_rows`` (``subsets``) coded: (tables fitted on all of them, and
        each item's record bits under its fold's model with those tables)."""
        runs = []
        for rows, (_, coding), profiles in zip(fold_rows, folds, profiles_of):
            model = model_with(coding, layout.lengths, bins_with(margin, profiles), algorithm)
            runs.append((model, encode_items(model, mean[rows], std[rows], [seeds[i] for i in rows.tolist()])))
        coded = [item for _, items in runs for item in items]
        index_freqs, halving_freqs = _fit_tables(layout.lengths.shape[0], coded)
        bits = np.concatenate([_record_bits(_with(model, CodecModel, index_freqs=index_freqs,
                                                  halving_freqs=halving_freqs), items, whole_bytes)
                               for model, items in runs])
        return coded, (index_freqs, halving_freqs), bits

    margins = (0.0,) if algorithm == "pfr" else (_MARGINS if margin_bits == "auto" else (float(margin_bits),))
    margin = margins[0]
    if len(margins) > 1:
        trial_rows, best = subsets(_MARGIN_TRIAL_ITEMS), math.inf
        for trial in margins:
            if progress is not None:
                progress(f"margin {trial:g} bits")
            mean_bits = float(code_items(trial, trial_rows, whole_bytes=False)[2].mean())
            if mean_bits < best:
                margin, best = trial, mean_bits
    if progress is not None:
        progress("index tables")
    coded, (index_freqs, halving_freqs), bits = code_items(margin, subsets(_TABLE_ITEMS))
    model = _with(model_with(final, layout.lengths, bins_with(margin, final_profiles), algorithm), CodecModel,
                  index_freqs=index_freqs, halving_freqs=halving_freqs)
    kl = np.array([item.kl_bits for item in coded])
    info = {
        "training_items": int(count),
        "margin_bits": margin,
        "block_bits": float(block_bits),
        "training_kl_bits_mean": round(float(kl.mean()), 3),
        "training_coding_kl_bits_mean": round(float(np.mean([item.coding_kl_bits for item in coded])), 3),
        "training_record_bits_mean": round(float(bits.mean()), 3),
        "training_narrowed_items": int(sum(item.narrowed > 0 for item in coded)),
    }
    if len(coded) < count:
        info["table_items"] = len(coded)  # the figures above are of these items
    if components_cv:
        info["components_cv_bits"] = " ".join(f"{k}:{v:g}" for k, v in components_cv.items())
    fields = {name: getattr(model, name) for name in model.__dataclass_fields__}
    fields["info"] = info
    return CodecModel(**fields)
