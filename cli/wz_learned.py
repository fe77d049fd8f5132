"""`reccodec wz train`, `wz show`, and `wz encode`/`wz decode` with a learned model.

Only parses and calls ``rec_codec.learned_wz``; errors become one ``Error: ...`` line.
"""

import json

import click
import numpy as np

from rec_codec import learned_wz
from rec_codec.io import npy_bytes
from reccodec_cli.conventions import SEED
from reccodec_cli.outputs import check_output, write_output

__all__ = ["register", "is_learned", "encode_learned", "decode_learned"]



def is_learned(model_path):
    """Whether MODEL names a learned model (an .npz), so that the learned scheme runs."""
    if model_path == "-":
        return False
    try:
        return learned_wz.is_model_file(model_path)
    except OSError:
        return False  # the JSON path reports the error


def encode_learned(x, model_path, output, force, as_json, quiet):
    """``wz encode`` with a learned model: x is the loaded array."""
    model = learned_wz.load_model(model_path)
    data, u, header_bits = learned_wz.encode(x, model)
    write_output(output, data, force)
    payload = 8 * len(data) - header_bits
    summary = {"scheme": "learned", "model_id": model.model_id, "samples": int(u.size), "bits": 8 * len(data),
               "header_bits": header_bits, "payload_bits": payload,
               "bits_per_sample": round(payload / u.size, 4)}
    if as_json:
        click.echo(json.dumps(summary))
    elif not quiet:
        click.echo(f"{summary['bits']} bits ({header_bits} header + {payload} payload), "
                   f"{summary['bits_per_sample']} payload bits per sample, learned {model.model_id}", err=True)


def decode_learned(data, y, model_path, output, force, max_dims):
    """``wz decode`` with a learned model: data is the file's bytes, y the loaded array."""
    model = learned_wz.load_model(model_path)
    write_output(output, npy_bytes(learned_wz.decode(data, y, model, max_dims)), force)


def register(wz, errors):
    """Add ``train`` and ``show`` to the ``wz`` group; ``errors`` wraps library errors."""

    def _echo_trial(trial):
        name = "modulo" if trial["architecture"] == "modulo" else f"lambda {trial['lmbda']:.4g}"
        click.echo(f"{name}: {trial['heldout_bits']:.3f} bits, MSE {trial['heldout_mse']:.4g}", err=True)

    @wz.command("train")
    @click.argument("pairs", metavar="PAIRS.npz")
    @click.option("-o", "--output", required=True, metavar="MODEL.npz", help="The trained model.")
    @click.option("--rate", type=click.FloatRange(0, 12, min_open=True),
                  help="Target bits per sample: the encoder is calibrated to it; best of several trainings.")
    @click.option("--lmbda", type=click.FloatRange(0, min_open=True), help="Fixed weight of the squared error.")
    @click.option("--codewords", type=click.IntRange(2, learned_wz.MAX_CODEWORDS),
                  help="Codewords K (default 2^(ceil(R)+1), at least 8; 32 with --lmbda).")
    @click.option("--epochs", type=click.IntRange(1, 10000), default=40, show_default=True,
                  help="Passes over the training split (batches of 1024).")
    @click.option("--hidden", type=click.IntRange(4, 1024), default=64, show_default=True,
                  help="Units per hidden layer of the encoder and the decoder.")
    @click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the split, the weights and the noise.")
    @click.option("--relaxation", type=click.Choice(learned_wz.RELAXATIONS), default="gumbel", show_default=True,
                  help="Distortion of a Gumbel-softmax draw, or its exact expectation over the codewords.")
    @click.option("--mlp-only", is_flag=True,
                  help="With --rate: only the MLP trainings, without the fitted modulo trial (1-D pairs).")
    @click.option("--json", "as_json", is_flag=True, help="Print the training figures as one JSON object.")
    @click.option("-f", "--force", is_flag=True, help="Overwrite an existing output file.")
    @errors
    def wz_train(pairs, output, rate, lmbda, codewords, epochs, hidden, seed, relaxation, mlp_only, as_json, force):
        """Train a learned Wyner-Ziv compressor on PAIRS.npz (arrays x and y, one row per pair).

        Deterministic given the seed and the pairs (with one BLAS thread).

        \b
        Examples:
          reccodec wz train pairs.npz -o learned.npz --rate 1
          reccodec wz train pairs.npz -o learned.npz --rate 2 --mlp-only
          reccodec wz train pairs.npz -o learned.npz --lmbda 30 --codewords 16 --seed 2
        """
        if (rate is None) == (lmbda is None):
            raise click.UsageError("give exactly one of --rate and --lmbda")
        check_output(output, force, (pairs,))
        x, y = learned_wz.load_pairs(pairs)
        if rate is not None:
            progress = None if as_json else _echo_trial
            model, report = learned_wz.train_for_rate(x, y, rate, codewords, hidden, epochs, seed, progress,
                                                          relaxation, modulo=False if mlp_only else None)
        else:
            model, report = learned_wz.train(x, y, lmbda, codewords or 32, hidden, epochs, seed, relaxation)
        write_output(output, learned_wz.model_bytes(model), force)
        figures = {"model_id": model.model_id, "codewords": model.codewords, **report.to_dict()}
        if as_json:
            click.echo(json.dumps(figures))
        else:
            click.echo(f"{model.model_id}: {report.bits:.3f} bits per sample, MSE {report.mse:.4g} "
                       f"({10 * np.log10(report.mse):.2f} dB) on held-out pairs; {report.seconds:.1f} s", err=True)

    @wz.command("show")
    @click.argument("model_path", metavar="MODEL.npz")
    @click.option("--plot", "plot_path", metavar="F.png", help="Draw the encoder and the decoder (needs matplotlib).")
    @click.option("-f", "--force", is_flag=True, help="Overwrite an existing plot.")
    @errors
    def wz_show(model_path, plot_path, force):
        """Print a learned model's description as JSON; --plot draws what it learned.

        \b
        Examples:
          reccodec wz show learned.npz
          reccodec wz show learned.npz --plot learned.png
        """
        model = learned_wz.load_model(model_path)
        if plot_path:
            check_output(plot_path, force, (model_path,))
            from rec_codec import learned_wz_plot

            write_output(plot_path, learned_wz_plot.figure_png(model), force)
        click.echo(json.dumps({"id": model.model_id, **model.info}, indent=1))

    return wz_train, wz_show
