"""Train the shipped models with torch (CPU, fixed seeds) and write their float checkpoints.

    python tools/tinylm/train.py reverse --out tools/tinylm/reverse.npz [--float-out F.npz] [--from F.npz]
    python tools/tinylm/train.py gesture --out tools/tinylm/gesture.npz [--steps 3000] [--seed 1]

Both are TinyTransformer modules of nets.py (the computation the board runs):
- reverse: a decoder of the character task of task.py (12 tokens, context 18, dim 32,
  2 heads, 2 layers, ReLU 64); held-out strings never appear; then 400 steps of
  quantisation-aware fine-tuning (nets.fine_tune_quantised, learning rate 1e-4) on the
  int8 grid the converter picks with MSE ranges (--float-out keeps the float stage,
  --from starts from a float checkpoint and fine-tunes only);
- gesture: a classifier of gesture.py's accelerometer windows (32 frames of 3 int8,
  dim 32, 2 heads, 2 layers, GELU 64 as a table, full attention, mean pooling); its
  training windows come from seeds other than the held-out and calibration sets'.
The .npz (float_model.save) holds float32 arrays and the Config: export.py reads it
without torch. torch runs on 2 threads with deterministic algorithms: the same torch
version on the same CPU writes the same bytes (docs/models.md).
"""

import argparse
import os
import random
import sys

import numpy as np

try:
    import torch
except ImportError:
    sys.exit("train.py needs torch: `make train` installs it (requirements-train.txt)")

if __name__ == "__main__":  # run as a script: tools/ is the import root (tools/README.md)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tinylm import convert, float_model, gesture, nets, task
from tinylm.arch import Config


def reverse_config():
    return Config(
        kind="decoder",
        vocab=len(task.VOCAB),
        dim=32,
        heads=2,
        layers=2,
        hidden=64,
        context=task.CONTEXT,
        texts=list(task.VOCAB),
    )


def gesture_config():
    return Config(
        kind="classifier",
        vocab=len(gesture.LABELS),
        features=3,
        dim=32,
        heads=2,
        layers=2,
        hidden=64,
        context=gesture.WINDOW,
        activation="gelu",
        attention="full",
        pooling="mean",
        input_scale=1 / gesture.STEP,
        texts=list(gesture.LABELS),
    )


def reverse_batches(seed, size):
    rng = random.Random(seed)

    def batch(step):
        """Token ids (size, CONTEXT) and targets (-100 where no loss: the prompt, padding)."""
        ids = np.full((size, task.CONTEXT), task.VOCAB.index(task.END), dtype=np.int64)
        targets = np.full((size, task.CONTEXT), -100, dtype=np.int64)
        for row in range(size):
            s = task.random_string(rng)
            while task.held_out(s):
                s = task.random_string(rng)
            prompt, answer = task.example(s)
            tokens = task.encode(prompt + answer)
            ids[row, : len(tokens)] = tokens
            start = len(prompt) - 1  # the position whose next token is the first answer token
            targets[row, start : len(tokens) - 1] = tokens[start + 1 :]
        return torch.from_numpy(ids), torch.from_numpy(targets)

    return batch


def gesture_batches(seed, size):
    def batch(step):
        frames = np.zeros((size, gesture.WINDOW, 3), dtype=np.int8)
        labels = np.zeros(size, dtype=np.int64)
        for row in range(size):
            rng = np.random.default_rng((gesture.TRAIN_SEED, seed, step, row))
            labels[row] = rng.integers(len(gesture.LABELS))
            frames[row] = gesture.window(rng, int(labels[row]))
        return torch.from_numpy(frames.astype(np.float32)), torch.from_numpy(labels)

    return batch


def reverse_calibration():
    return convert.calibration_samples()


def gesture_calibration():
    return gesture.dataset(512, gesture.CAL_SEED)[0]


# name: (Config, batches, float steps, learning rate, quantised steps and their rate,
# calibration)
MODELS = {
    "reverse": (reverse_config, reverse_batches, 1500, 3e-3, 400, 1e-4, reverse_calibration),
    "gesture": (gesture_config, gesture_batches, 3000, 3e-3, 0, 0, gesture_calibration),
}


def train(name, steps=None, seed=1, size=128, quantised_steps=None, start=None):
    """The trained TinyTransformer of a shipped model: float training (or the float
    checkpoint start, a .npz), then, where its entry says, quantisation-aware
    fine-tuning on the int8 grid of MSE ranges (the grid export then uses)."""
    config, batches, default_steps, lr, qat, qat_lr, calibration = MODELS[name]
    torch.manual_seed(seed)
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    model = nets.TinyTransformer(config())
    steps = steps or default_steps
    if start:
        p, _ = float_model.load(start)
        model.load_state_dict({k: torch.tensor(v, dtype=torch.float32) for k, v in p.items()})
    else:
        nets.fit(model, batches(seed, size), steps, lr=lr)
    qat = qat if quantised_steps is None else quantised_steps
    if qat:
        more = batches(seed + 1, size)
        nets.fine_tune_quantised(
            model, lambda step: more(steps + step), qat, calibration(), "mse", lr=qat_lr
        )
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=sorted(MODELS))
    parser.add_argument("--out", required=True)
    parser.add_argument("--steps", type=int)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quantised-steps", type=int, help="quantisation-aware fine-tuning steps")
    parser.add_argument("--from", dest="start", help="a float checkpoint (.npz): fine-tune only")
    parser.add_argument("--float-out", help="also write the float stage's checkpoint here")
    args = parser.parse_args()
    if args.float_out:
        float_only = train(args.model, args.steps, args.seed, args.batch, 0, args.start)
        nets.to_numpy_checkpoint(float_only, args.float_out)
        print("wrote", args.float_out)
        args.start = args.float_out
    model = train(args.model, args.steps, args.seed, args.batch, args.quantised_steps, args.start)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    nets.to_numpy_checkpoint(model, args.out)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
