"""Block layouts: halving blocks over a cost limit, and replaying the halvings from flags."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rec_codec.blocks import BlockLayout, apply_halvings, halve_blocks


def cost_per_dim(weights):
    """A block's cost: the sum of its dimensions' weights (depends on that block alone)."""
    return lambda layout: layout.block_sums(weights)


@settings(max_examples=200, deadline=None)
@given(lengths=st.lists(st.integers(1, 40), min_size=1, max_size=8),
       seed=st.integers(0, 2**32 - 1), limit=st.floats(0.5, 30.0))
def test_halvings_replay_from_their_flags_and_respect_the_limit(lengths, seed, limit):
    layout = BlockLayout(np.array(lengths))
    weights = np.random.default_rng(seed).exponential(1.0, layout.num_dims)
    halved, flags, depths = halve_blocks(layout, cost_per_dim(weights), limit)
    assert halved.num_dims == layout.num_dims
    cost = halved.block_sums(weights)
    assert ((cost <= limit) | (halved.lengths == 1)).all()
    assert flags.shape == depths.shape and set(flags.tolist()) <= {0, 1}
    read = iter(zip(flags.tolist(), depths.tolist()))

    def read_flag(depth):
        flag, written_depth = next(read)
        assert depth == written_depth
        return flag

    assert np.array_equal(apply_halvings(layout, read_flag).lengths, halved.lengths)
    assert next(read, None) is None


def test_a_block_within_the_limit_is_kept_with_one_flag():
    layout = BlockLayout(np.array([4, 1, 3]))
    halved, flags, depths = halve_blocks(layout, cost_per_dim(np.ones(8)), 4.0)
    assert np.array_equal(halved.lengths, [4, 1, 3])
    assert flags.tolist() == [0, 0] and depths.tolist() == [0, 0]  # no flag for one dimension


def test_halving_splits_by_dimension_count_until_the_limit_holds():
    layout = BlockLayout(np.array([10]))
    halved, flags, depths = halve_blocks(layout, cost_per_dim(np.ones(10)), 3.0)
    assert halved.lengths.tolist() == [2, 3, 2, 3]
    assert flags.tolist() == [1, 1, 0, 0, 1, 0, 0]
    assert depths.tolist() == [0, 1, 2, 2, 1, 2, 2]
