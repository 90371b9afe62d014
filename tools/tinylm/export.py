"""Export a model of nets.py to a model file for the board, with a per-layer error report.

    python tools/tinylm/export.py CHECKPOINT OUT.bin --calibration CAL.npz
                                  [--held-out HELD.npz] [--method auto] [--version 2]

CHECKPOINT: nets.save()'s .pt (needs torch) or a .npz of float_model.save() (numpy
only). From Python: export(model, "out.bin", calibration=...) with a TinyTransformer,
a (state_dict, Config) pair, or a checkpoint path. docs/models.md describes the .npz of
the calibration and held-out data:
  frames   (N, T, F) int8   a frame classifier's windows
  tokens   (N, T) int       token ids (a decoder, a token classifier)
  lengths  (N,) int         optional: row i is tokens[i, :lengths[i]]
  labels   (N,) int         held-out: a classifier's right classes
  targets  (N, T) int       held-out: a decoder's expected next token after each
                            position, -1 where none
Prints, for every quantised tensor, the float and int8 models' values on the
calibration data compared (the largest error in int8 steps, SNR, cosine, share
saturated), then the task accuracy of both on the held-out data. method "auto" converts
with max, percentile and MSE ranges and keeps the one whose logits are closest to the
float model's on the calibration data (their SNR).
"""

import argparse
import os
import sys

import numpy as np

if __name__ == "__main__":  # run as a script: tools/ is the import root (tools/README.md)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tinylm import convert, float_model, model_file
from tinylm.arch import Config


def float_params(source, config=None):
    """(params, Config) of a TinyTransformer, a state_dict (with config), or a checkpoint."""
    if isinstance(source, (str, os.PathLike)):
        path = str(source)
        if path.endswith(".npz"):
            return float_model.load(path)
        import torch  # noqa: PLC0415  (a .pt checkpoint: torch.save's)

        got = torch.load(path, map_location="cpu", weights_only=True)
        config = Config.from_json(got["config"]) if "config" in got else config
        source = got["state_dict"] if "state_dict" in got else got
    elif hasattr(source, "state_dict") and hasattr(source, "config"):
        config = source.config
        source = source.state_dict()
    if config is None:
        raise ValueError("a state_dict needs its Config: export(state_dict, ..., config=...)")
    return float_model.from_state_dict(source), config


def inputs_of(data, config):
    """Calibration inputs of a .npz path or arrays (frames, or token sequences)."""
    if isinstance(data, (str, os.PathLike)):
        return convert.load_inputs(str(data), config)
    if isinstance(data, dict):
        if config.frames:
            return np.asarray(data["frames"])
        if "lengths" in data:
            return [r[:n] for r, n in zip(np.asarray(data["tokens"]), data["lengths"])]
        return list(np.asarray(data["tokens"]))
    return data


def held_of(data):
    if data is None or isinstance(data, dict):
        return data
    with np.load(str(data)) as z:
        return {k: z[k] for k in z.files}


def logit_snr(p, config, h, tensors, info, samples):
    rows = convert.compare(p, config, h, tensors, info, samples)
    return next(r for r in rows if r[0] == "logits")[3]


def export(
    source,
    out,
    calibration,
    held_out=None,
    config=None,
    method="auto",
    version=2,
    requant="auto",
    log=print,
):
    """Quantise, write the model file at out, report; returns a dict of what was done:
    header, info (scales, method, requant), report rows, accuracy (or None)."""
    p, config = float_params(source, config)
    if config.kind == "classifier" and not config.frames:
        raise ValueError(
            "a classifier of token ids (features 0): the board runs classifiers of frames "
            "(features 1..65535), and refuses this file"
        )
    samples = inputs_of(calibration, config)
    tried = {}
    for m in convert.METHODS if method == "auto" else (method,):
        h, tensors, info = convert.convert(p, config, samples, m, version, requant)
        tried[m] = (h, tensors, info)
    if method == "auto":
        snr = {m: logit_snr(p, config, *tried[m], samples) for m in tried}
        method = max(snr, key=lambda m: (snr[m], m == "max"))
        log("calibration: " + ", ".join("%s %.1f dB" % (m, snr[m]) for m in snr))
    h, tensors, info = tried[method]
    model_file.write(out, h, tensors)
    log(
        "wrote %s: %d bytes, version %d, %s ranges, requant %d%s"
        % (
            out,
            os.path.getsize(out),
            h["version"],
            method,
            info["requant"],
            " (%s)" % info["why"] if info["why"] else "",
        )
    )
    rows = convert.compare(p, config, h, tensors, info, samples)
    log("float against int8 on the calibration data, every quantised tensor:")
    log(convert.format_report(rows))
    acc = None
    held = held_of(held_out)
    if held is not None:
        fa, ia, n, what = convert.accuracy(p, config, h, tensors, held)
        acc = {"float": fa, "int8": ia, "count": n, "what": what}
        log(
            "task accuracy: float %.2f%%, int8 %.2f%% on %d held-out %s"
            % (100 * fa, 100 * ia, n, what)
        )
    return {"header": h, "info": info, "report": rows, "accuracy": acc}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="nets.save()'s .pt, or float_model.save()'s .npz")
    parser.add_argument("out", help="the model file to write")
    parser.add_argument("--calibration", required=True, help="calibration inputs (.npz)")
    parser.add_argument("--held-out", help="held-out inputs and answers (.npz)")
    parser.add_argument("--method", choices=("auto", *convert.METHODS), default="auto")
    parser.add_argument("--version", type=int, choices=(1, 2), default=2)
    args = parser.parse_args()
    export(
        args.checkpoint, args.out, args.calibration, args.held_out, None, args.method, args.version
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
