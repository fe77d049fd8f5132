"""Models fitted on a batch of training targets: the empirical index model."""

import numpy as np

from .blocks import BlockLayout
from .codec import DEFAULT_BLOCK_BITS, DEFAULT_MAX_STEPS, default_orc_candidates, plan_blocks, search
from .distributions import DiagonalGaussian, standard_normal_like
from .entropy import EmpiricalIndexModel, zipf_lambda
from .errors import InputError

__all__ = ["fit_index_model"]


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
