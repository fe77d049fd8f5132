"""Modules of another checkout's ``rec_codec``, imported beside this tree's for a comparison
in one process (``pfr_against_checkout.py``, ``records_against_checkout.py``)."""

import importlib
import shutil
import sys
import tempfile
from pathlib import Path

_OTHER = "rec_codec_other"


def checkout_modules(checkout, *names):
    """The modules ``names`` (dotted, under rec_codec) of the checkout, imported under another name."""
    folder = Path(tempfile.mkdtemp())
    shutil.copytree(Path(checkout) / "rec_codec", folder / _OTHER)
    sys.path.insert(0, str(folder))
    return tuple(importlib.import_module(f"{_OTHER}.{name}") for name in names)
