"""The algorithm registry: every algorithm behind the same interface, no import cycle."""

import ast
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from rec_codec import algorithms, codec, container
from rec_codec.distributions import DiagonalGaussian
from rec_codec.errors import InputError

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "rec_codec"


@pytest.mark.parametrize("name", algorithms.NAMES)
def test_every_algorithm_round_trips_through_the_registry(name):
    rng = np.random.default_rng(7)
    target = DiagonalGaussian(rng.normal(0, 0.5, (3, 4)), rng.uniform(0.3, 0.8, (3, 4)))
    result = codec.encode(target, seed=11, algorithm=name, block_bits=8.0)
    header, words = container.unpack(result.data)
    assert header.algorithm == name
    assert header.approximate == (not algorithms.get(name).exact)
    decoded = algorithms.get(name).implementation().decode(header, words, 11, None, None)
    assert decoded.tobytes() == result.sample.tobytes()
    assert codec.decode(result.data, seed=11).tobytes() == result.sample.tobytes()


def test_every_registered_module_has_the_interface():
    for algorithm in algorithms.REGISTRY.values():
        module = algorithm.implementation()
        assert callable(module.encode) and callable(module.decode), algorithm.name


def test_unknown_algorithm_is_refused_with_the_choices():
    with pytest.raises(InputError, match="choose one of pfr, orc, sp-pfr, sp-orc, hybrid"):
        algorithms.get("zstd")


def test_algorithm_modules_do_not_import_codec():
    """codec dispatches to the modules; none of them reaches back into it."""
    for name in {a.module for a in algorithms.REGISTRY.values()} | {"file_coding", "algorithms"}:
        tree = ast.parse((PACKAGE / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                names = {alias.name for alias in node.names}
                assert node.module != "codec" and not (node.module is None and "codec" in names), name


@pytest.mark.parametrize("module", ["hybrid", "partition", "block_rec"])
def test_each_algorithm_module_imports_first_on_its_own(module):
    subprocess.run([sys.executable, "-c", f"import rec_codec.{module}"], check=True)
