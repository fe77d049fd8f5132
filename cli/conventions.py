"""The conventions every ``reccodec`` command shares, in one place.

- ``--threads N`` on the commands that search (``threads_option``): numba's thread count
  for that command; the output bytes never depend on it.
- Default output names when ``-o`` is omitted (``default_output``): ``x.npz`` -> ``x.rec``,
  ``x.rec`` -> ``x.npy``; stdin (``-``) goes to stdout.
- Errors that name the file they are about (``naming``).
- ``--plot`` checked before any work starts (``check_plot``).
- Option values checked by click, so that a bad one is a usage error, exit status 2
  (``finite_range``).
- Bench tables: ``--json`` prints one object to stdout, ``--json-out F`` and ``--csv F``
  write files under the output rules, refused without ``-f`` when they exist
  (``report_rows``).
"""

import contextlib
import functools
import json
import math
import os
import tempfile

import click

from rec_codec.errors import RecCodecError
from reccodec_cli.outputs import check_output, remove_output, write_output

__all__ = ["SEED", "NamedError", "finite_range", "threads_option", "default_output", "naming", "check_plot",
           "json_rows_option", "json_rows_targets", "check_report_outputs", "report_rows", "write_plot", "echo_json",
           "report_summary"]


SEED = click.IntRange(0, 2**64 - 1)  # a shared seed; never stored in a file


class NamedError(click.ClickException):
    """A library error about one file, its message prefixed with the file's name (exit 1)."""


class _FiniteRange(click.FloatRange):
    """click's FloatRange that also refuses NaN and infinities (a usage error)."""

    name = "finite float range"

    def convert(self, value, param, ctx):
        rv = super().convert(value, param, ctx)
        if not math.isfinite(rv):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return rv


def finite_range(min=None, max=None, min_open=False, max_open=False):
    """A click type for a finite float in a range; a value outside it exits with status 2.

    Args:
        min, max (float or None): the bounds; None for none.
        min_open, max_open (bool): whether a bound itself is excluded.
    Returns:
        click.ParamType.
    """
    return _FiniteRange(min=min, max=max, min_open=min_open, max_open=max_open)


class _FiniteRangeOrWord(_FiniteRange):
    """A finite float in a range, or one given word (returned as it is)."""

    def __init__(self, word, **bounds):
        super().__init__(**bounds)
        self.word = word
        self.name = f"finite float range or {word!r}"

    def convert(self, value, param, ctx):
        if value == self.word:
            return value
        return super().convert(value, param, ctx)


def finite_range_or(word, min=None, max=None):
    """A click type for a finite float in [min, max], or ``word`` (say "auto")."""
    return _FiniteRangeOrWord(word, min=min, max=max)


def echo_json(obj):
    """Print one JSON object on one line of stdout."""
    click.echo(json.dumps(obj, sort_keys=False))


def report_summary(output, summary, as_json, quiet, line):
    """After a command wrote ``output``: print ``summary`` as one JSON object with --json
    (removing ``output`` if that fails: all or nothing), else ``line(summary)`` on stderr
    unless quiet."""
    if as_json:
        try:
            echo_json(summary)
        except BaseException:
            remove_output(output)
            raise
    elif not quiet:
        click.echo(line(summary), err=True)


def _set_threads(threads):
    """Set numba's thread count for this command; return the previous one (None if untouched)."""
    if threads is None:
        return None
    import numba  # only when asked: decode and info never import numba

    if threads > numba.config.NUMBA_NUM_THREADS:
        raise click.BadParameter(f"{threads} is more than the {numba.config.NUMBA_NUM_THREADS} threads numba "
                                 f"has here (NUMBA_NUM_THREADS)", param_hint="'--threads'")
    previous = numba.get_num_threads()
    numba.set_num_threads(threads)
    return previous


def threads_option(command):
    """Add ``--threads N`` to a command that searches: numba runs its kernels on N threads.

    The command itself never sees the option; the count is set before it runs and restored
    after it. The result does not depend on it: blocks and items are searched each on
    their own, with their own shared randomness.
    """

    @functools.wraps(command)
    def wrapper(*args, threads=None, **kwargs):
        previous = _set_threads(threads)
        try:
            return command(*args, **kwargs)
        finally:
            if previous is not None:
                import numba

                numba.set_num_threads(previous)

    return click.option("--threads", type=click.IntRange(min=1), metavar="N",
                        help="Search on N threads (numba); the output is the same for any N. "
                             "[default: all cores]")(wrapper)


def default_output(output, source, suffix):
    """The output a command writes when ``-o`` is omitted.

    Args:
        output (str or None): what ``-o`` gave.
        source (str): the command's input file, ``-`` for stdin.
        suffix (str): the output's extension, with its dot (``.rec``, ``.npy``).
    Returns:
        str: ``output`` when given; ``-`` (stdout) for stdin; else ``source`` with its
        extension replaced by ``suffix`` (``x.npz`` -> ``x.rec``).
    """
    if output is not None:
        return output
    if source == "-":
        return "-"
    stem, extension = os.path.splitext(source)
    return (stem if extension else source) + suffix


@contextlib.contextmanager
def naming(path):
    """Prefix the library's errors raised inside with the file they are about.

    ``not a reccodec file`` becomes ``big.rec: not a reccodec file``; a message that
    already names the file is left as it is. stdin is named ``stdin``.

    Raises:
        NamedError: for every RecCodecError raised inside.
    """
    name = "stdin" if path == "-" else os.fspath(path)
    try:
        yield
    except RecCodecError as e:
        message = str(e)
        if name in message:
            raise NamedError(message) from None
        raise NamedError(f"{name}: {message}") from None


def check_plot(plot_path, force, inputs=()):
    """Refuse ``--plot F`` before any work: matplotlib must import and F must be writable.

    Raises:
        click.ClickException: matplotlib is missing (exit status 1, one line at once).
        OutputError: F exists without ``-f``, or cannot be written.
    """
    if plot_path is None:
        return
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise click.ClickException("--plot needs matplotlib, which is not installed: "
                                   "pip install 'reccodec[plot]', or drop --plot") from None
    if plot_path == "-":
        raise click.UsageError("--plot needs a file name, not -")
    check_output(plot_path, force, inputs)


def json_rows_option(command):
    """A bench's ``--json``: one JSON object on stdout; ``--json F`` (the form of before) writes F.

    ``--json`` alone, or followed by another option, prints; a file name after it is kept
    working as ``--json-out F``, so scripts written for the old form go on writing files.
    """
    return click.option("--json", "as_json", is_flag=False, flag_value="-", default=None, metavar="",
                        help="Print one JSON object {\"rows\": [...]} on stdout instead of the table "
                             "(--json F, the older form, is --json-out F).")(command)


def json_rows_targets(as_json, json_out):
    """Resolve ``--json [F]`` and ``--json-out F``: (print on stdout?, the JSON file or None).

    Raises:
        click.UsageError: ``--json F`` together with ``--json-out``.
    """
    if as_json in (None, "-"):
        return as_json == "-", json_out
    if json_out:
        raise click.UsageError("give the JSON file once: --json-out F (--json F is its older form)")
    return False, as_json


def check_report_outputs(json_out, csv_path, plot_path, force):
    """Refuse a bench's output files before it runs (exists without ``-f``, two the same).

    Raises:
        click.UsageError: two options name the same file, or ``-`` for a file option.
        OutputError: a file exists without ``-f`` or cannot be written.
    """
    named = [(option, path) for option, path in (("--json-out", json_out), ("--csv", csv_path)) if path]
    for option, path in named:
        if path == "-":
            raise click.UsageError(f"{option} needs a file name, not -; --json prints to stdout")
    paths = [os.path.abspath(p) for _, p in named] + ([os.path.abspath(plot_path)] if plot_path else [])
    if len(set(paths)) < len(paths):
        raise click.UsageError("--json-out, --csv and --plot must name different files")
    for _, path in named:
        check_output(path, force)
    check_plot(plot_path, force)


def report_rows(rows, table, csv_text, as_json, json_out, csv_path, force):
    """Show a bench's rows: the table on stdout, or one JSON object with ``--json``; files too.

    Args:
        rows (list of dict): the rows.
        table (str): the rows as a text table.
        csv_text (callable): () -> the rows as CSV text, called only when ``--csv`` is given.
        as_json (bool): print ``{"rows": rows}`` on stdout instead of the table.
        json_out, csv_path (str or None): files to write the rows to (JSON list, CSV).
        force (bool): whether ``-f`` was given.
    """
    if json_out:
        write_output(json_out, (json.dumps(rows, indent=1) + "\n").encode(), force)
    if csv_path:
        write_output(csv_path, csv_text().encode(), force)
    if as_json:
        echo_json({"rows": rows})
    else:
        click.echo(table)


def write_plot(plot_path, force, plot):
    """Draw a plot into a scratch file beside ``plot_path``, then write it under the output rules.

    Args:
        plot_path (str): the ``--plot`` file.
        force (bool): whether ``-f`` was given.
        plot (callable): plot(path) draws the figure into path.
    """
    folder = os.path.dirname(os.path.abspath(plot_path))
    with tempfile.TemporaryDirectory(dir=folder, prefix=".reccodec-plot-") as scratch:
        path = os.path.join(scratch, "plot" + (os.path.splitext(plot_path)[1] or ".png"))
        plot(path)
        with open(path, "rb") as f:
            write_output(plot_path, f.read(), force)
