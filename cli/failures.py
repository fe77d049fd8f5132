"""How a command fails: one line ``Error: ...`` on stderr and an exit status, never a traceback.

Light on purpose (click and the library's exception classes only): the command group
imports it before any command's module is loaded.
"""

import functools
import os
import sys

import click

from rec_codec.errors import RecCodecError

__all__ = ["CliError", "fail", "friendly_errors"]


class CliError(Exception):
    """A user error found by the CLI itself (a file that exists, a terminal as output)."""


def fail(message, code=1):
    """Print ``Error: message`` on stderr and exit with ``code``."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def _closed_stdout():
    """The reader of stdout went away (``reccodec info F | head``): stop quietly, as cat does."""
    try:
        sys.stdout = open(os.devnull, "w")
    except OSError:
        pass
    os._exit(141)  # 128 + SIGPIPE, without flushing into the closed pipe


def friendly_errors(command):
    """Turn library and file errors into one line on stderr and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (RecCodecError, CliError) as e:
            fail(str(e))
        except BrokenPipeError:
            _closed_stdout()
        except OSError as e:
            where = f" {e.filename}" if e.filename else ""
            fail(f"cannot access{where}: {e.strerror or e}")
        except MemoryError:
            fail("out of memory")

    return wrapper
