"""Reading targets and priors from .npz files and writing samples, with one-line errors."""

import io
import os

import numpy as np

from .container import atomic_write, read_file
from .distributions import DiagonalGaussian
from .errors import InputError

__all__ = ["load_gaussian", "load_gaussian_bytes", "npy_bytes", "save_npy"]


def load_gaussian_bytes(data, name):
    """A DiagonalGaussian from the bytes of an .npz holding arrays ``mean`` and ``std``.

    Args:
        data (bytes): the file's content.
        name (str): what to call it in messages (a file name).
    Returns:
        DiagonalGaussian.
    Raises:
        InputError: if it is not an .npz, lacks a key, or holds invalid values.
    """
    try:
        loaded = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as e:  # zipfile, pickle and format errors of every kind
        raise InputError(f"{name}: not a readable .npz file ({type(e).__name__}: {e})") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise InputError(f"{name}: expected an .npz archive with arrays 'mean' and 'std', got a single array")
    with loaded as npz:
        missing = [key for key in ("mean", "std") if key not in npz.files]
        if missing:
            raise InputError(f"{name}: missing array {missing[0]!r} (it holds {sorted(npz.files)})")
        try:
            mean, std = npz["mean"], npz["std"]
        except Exception as e:
            raise InputError(f"{name}: not a readable .npz file ({type(e).__name__}: {e})") from None
    for key, values in (("mean", mean), ("std", std)):
        if not (np.issubdtype(values.dtype, np.floating) or np.issubdtype(values.dtype, np.integer)):
            raise InputError(f"{name}: {key} must be a numeric array, got dtype {values.dtype}")
    return DiagonalGaussian(mean, std, name=name)


def load_gaussian(path, name=None):
    """``load_gaussian_bytes`` of a file."""
    return load_gaussian_bytes(read_file(path), name or os.fspath(path))


def npy_bytes(array):
    """The .npy bytes of an array."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def save_npy(path, array):
    """Write an array as .npy atomically (temporary file, then rename)."""
    atomic_write(path, npy_bytes(array))
