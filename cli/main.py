"""`reccodec` on the shell: the command group and the console entry point.

Each command lives in a module of its own (``codec_commands``, ``model_commands``,
``partition_commands``, ``shard_commands``, ``wz``, ``bench_commands``), imported only when
that command runs: ``reccodec --help``, ``--version`` and the shell's completion of
command names import neither numpy nor the library's algorithms.

Errors print one line, ``Error: ...``, on stderr and exit 1 (2 for a usage error, 130 when
interrupted); results for scripts go to stdout as JSON with ``--json``; a progress line
goes to stderr only when stderr is a terminal.
"""

import importlib
import sys

import click

from rec_codec.errors import Interrupted
from reccodec_cli import blas_probe
from reccodec_cli.failures import fail

__all__ = ["COMMANDS", "cli", "main"]

# name: (module, the click command in it, the line `reccodec --help` shows)
COMMANDS = {
    "bench": ("reccodec_cli.bench_commands", "bench", "Measure steps, bits and time against KL."),
    "decode": ("reccodec_cli.codec_commands", "decode", "Decode IN.rec into the encoder's sample."),
    "decode-shards": ("reccodec_cli.shard_commands", "decode_shards_command",
                      "Decode each container of encode-shards into the samples."),
    "encode": ("reccodec_cli.codec_commands", "encode", "Encode one sample of the Gaussian target in TARGET.npz."),
    "encode-shards": ("reccodec_cli.shard_commands", "encode_shards_command",
                      "Code each .npz shard with one codec model and seed."),
    "fit-index-model": ("reccodec_cli.codec_commands", "fit_index_model_command",
                        "Fit an index model on TRAIN.npz."),
    "info": ("reccodec_cli.codec_commands", "info", "Print the header of a file, with header and payload bits."),
    "mi-profile": ("reccodec_cli.partition_commands", "mi_profile_command",
                   "Per-dimension MI in bits of the training posteriors."),
    "train": ("reccodec_cli.model_commands", "train_command", "Make a codec model from training posteriors."),
    "wz": ("reccodec_cli.wz", "wz", "Wyner-Ziv coding: the decoder holds side information y."),
}


class LazyGroup(click.Group):
    """A click group whose commands are imported on first use, from ``COMMANDS``."""

    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attribute, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attribute)

    def format_commands(self, ctx, formatter):
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name][2]) for name in self.list_commands(ctx)])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="reccodec")
def cli():
    """Relative entropy coding: send a sample of a Gaussian target with about KL bits.

    \b
    Examples:
      reccodec encode target.npz --seed 7            # writes target.rec
      reccodec decode target.rec --seed 7            # writes target.npy
      reccodec info target.rec
      reccodec COMMAND --help
    """


def main(argv=None):
    """Console entry point: one line on stderr for every error, never a traceback."""
    blas_probe.install()
    try:
        cli.main(args=argv, prog_name="reccodec", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as e:
        click.echo(e.ctx.get_help())
        sys.exit(0)
    except click.exceptions.Abort:
        fail("aborted")
    except click.ClickException as e:
        fail(e.format_message(), e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except (KeyboardInterrupt, Interrupted):
        fail("interrupted", 130)
    sys.exit(0)


if __name__ == "__main__":
    main()
