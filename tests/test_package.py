"""The package's front door: public names loaded on first use, and what a plain import costs."""

import subprocess
import sys

import pytest

import rec_codec


def test_every_public_name_resolves_and_is_listed():
    for name in rec_codec.__all__:
        assert getattr(rec_codec, name) is not None, name
    assert set(rec_codec.__all__) <= set(dir(rec_codec))
    assert rec_codec.__version__ and rec_codec.encode.__module__ == "rec_codec.codec"


def test_soft_round_is_the_function_even_after_its_module_is_imported():
    import rec_codec.uq  # noqa: F401  (imports rec_codec.soft_rounding)
    from rec_codec import soft_round

    assert callable(soft_round) and soft_round.__module__ == "rec_codec.soft_rounding"


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_name"):
        rec_codec.no_such_name


def test_importing_the_package_or_its_errors_loads_neither_numpy_nor_numba():
    code = ("import sys, rec_codec, rec_codec.errors; "
            "print(sorted(m for m in ('numpy', 'numba', 'scipy', 'rec_codec.codec') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
