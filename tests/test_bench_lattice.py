"""The nearest-point decoders of bench/wz_lattice_gain.py, against a search of every
lattice point near the query (each coordinate of the nearest point lies within 1 of it)."""

import importlib.util
import itertools
from pathlib import Path

import numpy as np
import pytest

_spec = importlib.util.spec_from_file_location("wz_lattice_gain",
                                               Path(__file__).parent.parent / "bench" / "wz_lattice_gain.py")
lattice_gain = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lattice_gain)


def _searched(v, lattice):
    n = v.size
    shifts = [0.0] if lattice != "E8" else [0.0, 0.5]
    best, best_d = None, np.inf
    for shift in shifts:
        base = np.round(v - shift)
        for offset in itertools.product((-1.0, 0.0, 1.0), repeat=n):
            point = base + np.array(offset)
            if lattice != "Z" and point.sum() % 2 != 0:
                continue
            d = float(((v - point - shift) ** 2).sum())
            if d < best_d:
                best, best_d = point + shift, d
    return best, best_d


@pytest.mark.parametrize("lattice", ["Z", "D4", "E8"])
def test_the_nearest_point_is_the_closest_lattice_point(lattice):
    n = lattice_gain.LATTICES[lattice]
    rng = np.random.default_rng(3)
    points = rng.uniform(-3.0, 3.0, (20 if lattice == "E8" else 200, n))
    found = lattice_gain.nearest(points, lattice)
    for v, p in zip(points, found):
        _, best_d = _searched(v, lattice)
        assert ((v - p) ** 2).sum() == pytest.approx(best_d, abs=1e-12)
        assert lattice == "Z" or p.sum() % 2 == 0  # D4 and E8 points have an even sum


@pytest.mark.parametrize("lattice", ["Z", "D4", "E8"])
def test_with_y_equal_to_x_the_decoder_finds_the_encoders_point(lattice):
    rng = np.random.default_rng(5)
    x = rng.normal(0.0, 1.0, 8 * 500)
    e, y = lattice_gain.nested_code(x, x, lattice, 0.4, 2, np.random.default_rng(1))
    assert np.array_equal(y, x)
    # the fine point minus the dither is within the fine cell's covering radius of x
    n = lattice_gain.LATTICES[lattice]
    covering_radius = 0.5 * np.sqrt(n) if lattice == "Z" else 1.0
    assert np.sqrt(((e - x).reshape(-1, n) ** 2).sum(axis=1)).max() <= 0.4 * covering_radius + 1e-9
