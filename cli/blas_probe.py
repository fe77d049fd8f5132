"""Keep numba's BLAS probe from importing scipy.linalg in the command line.

When numba loads its array library (``numba.np.arraymath``, at the first kernel a process
compiles or loads from the cache) it checks whether a BLAS is there by importing
``scipy.linalg.cython_blas``, which imports all of ``scipy.linalg``: 0.15-0.3 s of every
command that searches. The probe only chooses how numba compiles a dot product of two
1-D arrays (a BLAS call, or a loop); reccodec's kernels compute none. ``install`` makes
that one import fail inside the probe, so numba takes the loop; ``scipy.linalg`` imports
as usual anywhere else. The library itself leaves numba alone: a program that imports
rec_codec keeps numba's defaults.
"""

import importlib.abc
import sys

__all__ = ["install"]

_PROBE = ("numba.np.arraymath", "_check_blas")


class _SkipBlasProbe(importlib.abc.MetaPathFinder):
    """Refuse ``scipy.linalg`` (and below) while numba's ``_check_blas`` is running."""

    def find_spec(self, name, path=None, target=None):
        if not (name == "scipy.linalg" or name.startswith("scipy.linalg.")):
            return None
        frame = sys._getframe(1)
        while frame is not None:
            if (frame.f_globals.get("__name__"), frame.f_code.co_name) == _PROBE:
                raise ImportError("reccodec's kernels compute no dot products: numba's BLAS probe is skipped")
            frame = frame.f_back
        return None


def install():
    """Skip numba's BLAS probe in this process (once; before numba loads its array library)."""
    if not any(isinstance(finder, _SkipBlasProbe) for finder in sys.meta_path):
        sys.meta_path.insert(0, _SkipBlasProbe())
