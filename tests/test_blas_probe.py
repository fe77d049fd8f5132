"""The command line skips numba's BLAS probe, and only that: scipy.linalg imports elsewhere."""

import subprocess
import sys

PROBE = """
import sys
from reccodec_cli import blas_probe
{install}
import numpy as np
from rec_codec import codec
from rec_codec.distributions import DiagonalGaussian
codec.encode(DiagonalGaussian(np.linspace(-1, 1, 12), np.full(12, 0.3)), 5, algorithm="sp-pfr")  # loads kernels
import numba.np.arraymath
loaded = "scipy.linalg" in sys.modules
import scipy.linalg
print(loaded, numba.np.arraymath._HAVE_BLAS, scipy.linalg.norm([3.0, 4.0]))
"""


def _run(install):
    code = PROBE.format(install="blas_probe.install()" if install else "")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()


def test_the_probe_is_skipped_and_scipy_linalg_still_imports():
    assert _run(install=True) == ["False", "False", "5.0"]


def test_without_the_hook_numba_probes_through_scipy_linalg():
    assert _run(install=False) == ["True", "True", "5.0"]
