"""Where the command line writes: stdout, character devices and FIFOs, and files.

Every command that writes goes through ``check_output`` before its work and
``write_output`` after it, so all of them keep one set of rules:

- ``-`` is stdout, refused when stdout is a terminal;
- a character device or a FIFO (``-o /dev/null``) is written directly, without ``-f``;
- an output that is one of the command's inputs (the same file, through any name or
  link) is refused, with or without ``-f``;
- a file that exists is replaced only with ``-f``, atomically; without ``-f`` the file is
  created in one step, so two commands racing for one new name cannot both succeed;
- a symbolic link is followed: the file it names is replaced, the link stays;
- a directory or any other kind of file is refused.
"""

import os
import stat
import sys

import click

from rec_codec import container

__all__ = ["OutputError", "check_output", "write_output", "remove_output"]


class OutputError(click.ClickException):
    """An output the command must not or cannot write (exit status 1)."""


def _same_file(path, other):
    try:
        return os.path.samefile(path, other)
    except (OSError, ValueError):
        return False


def check_output(path, force, inputs=()):
    """Refuse an output before any work is done.

    Args:
        path (str): the output, ``-`` for stdout.
        force (bool): whether ``-f`` was given.
        inputs (iterable of str or None): the command's input files; ``None`` and ``-``
            are skipped.
    Raises:
        OutputError: with the reason, naming ``path``.
    """
    if path == "-":
        if sys.stdout.isatty():
            raise OutputError("refusing to write binary data to a terminal; use -o FILE")
        return
    for source in inputs:
        if source not in (None, "-") and _same_file(path, source):
            raise OutputError(f"{path} is the input {source}; choose another output")
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            raise OutputError(f"cannot write {path}: a symbolic link to a missing file") from None
        mode = None
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None
    if mode is not None:
        if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
            return
        if stat.S_ISDIR(mode):
            raise OutputError(f"cannot write {path}: it is a directory")
        if not stat.S_ISREG(mode):
            raise OutputError(f"cannot write {path}: not a regular file, character device or FIFO")
        if not force:
            raise OutputError(f"{path} already exists; use -f/--force to overwrite it")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise OutputError(f"cannot write {path}: folder {folder} does not exist")


def write_output(path, data, force):
    """Write ``data`` to ``path`` under the rules of this module (stdout for ``-``).

    Raises:
        OutputError: the file appeared meanwhile (without ``-f``), or the write failed;
            nothing is left behind.
    """
    if path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        container.atomic_write(path, data, overwrite=force)
    except FileExistsError:
        raise OutputError(f"{path} already exists; use -f/--force to overwrite it") from None
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None


def remove_output(path):
    """Undo ``write_output`` after a later step failed: remove a regular file written there.

    stdout, devices and FIFOs are left alone; they hold no file to remove.
    """
    if path in (None, "-"):
        return
    try:
        if stat.S_ISREG(os.lstat(path).st_mode):
            os.remove(path)
    except OSError:
        pass
