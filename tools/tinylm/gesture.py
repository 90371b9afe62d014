"""The motion task of the second shipped model: 3-axis accelerometer windows of 8 gestures.

A seeded simulator of a hand-held device's accelerometer, sampled at RATE Hz, in int8
with one step = 1/32 g (a +-4 g sensor): WINDOW frames of (x, y, z) per example.

What a window holds: gravity (1 g) seen through the device's orientation (tilted up to
TILT degrees from flat, any way), the gesture's own acceleration in the device's frame
(its axes turned by up to MISALIGN degrees about z, the way a hand never moves exactly
along the device's axes), slow hand wander (0.3..2 Hz), a per-axis offset and gain
error, white sensor noise, each sample the mean over its period (the sensor's filter), rounding to the 1/32 g step and clipping at +-4 g. A gesture
takes 0.25..1.0 s at a random speed and strength and starts anywhere that keeps it
inside the window:

  0 idle         no gesture (wander and noise only; sometimes a small bump)
  1 shake        2..5 back-and-forth cycles at 3.5..7 Hz along the device's x axis
  2 tap          a sharp knock on the screen: a short spike along -z, then ringing
  3 circle       one turn in the x-y plane, either way round, starting anywhere
  4 swipe_left   one minimum-jerk stroke along -x (accelerate, then brake)
  5 swipe_right  along +x
  6 swipe_up     along +y
  7 swipe_down   along -y

window(rng, label) makes one window; dataset(count, seed) a labelled set, one
numpy Generator per window seeded by (seed, index): the training windows come from
seeds TRAIN_SEED.., the held-out set from HELD_SEED, calibration from CAL_SEED, so no
held-out window is ever trained on.
"""

import math

import numpy as np

LABELS = (
    "idle", "shake", "tap", "circle", "swipe_left", "swipe_right", "swipe_up", "swipe_down",
)  # fmt: skip
RATE = 32  # frames per second
WINDOW = 32  # frames per window: one second
STEP = 32  # int8 steps per g
TILT = 35  # degrees
MISALIGN = 15  # degrees
TRAIN_SEED = 1
HELD_SEED = 2025
CAL_SEED = 7
NUDGED = 0.3  # the share of idle windows whose device is nudged
HALF = 0.5


def rotation(rng):
    """A device orientation: tilted up to TILT degrees from flat, turned any way."""
    tilt = math.radians(rng.uniform(0, TILT))
    toward = rng.uniform(0, 2 * math.pi)
    axis = np.array([math.cos(toward), math.sin(toward), 0.0])
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(tilt) * k + (1 - math.cos(tilt)) * (k @ k)


def envelope(n):
    return np.sin(np.linspace(0, math.pi, n)) ** 2 if n > 1 else np.ones(n)


def motion(rng, label):
    """(acceleration, duration): a function of times t (s) giving the gesture's
    acceleration (len(t), 3) in g in the device's frame (0 before t = 0), and how long the
    gesture lasts; its random parameters drawn here, once."""
    if label == 0:
        d = rng.uniform(0.2, 0.5)
        bump = rng.normal(0, 0.08, 3) * (rng.random() < NUDGED)  # sometimes a nudge

        def idle(t):
            inside = (t >= 0) & (t < d)
            return np.outer(np.sin(2 * math.pi * t / d) * inside, bump)

        return idle, 0.0
    if label == 1:
        f = rng.uniform(3.5, 7.0)
        d = int(rng.integers(2, 6)) / f
        amp = rng.uniform(0.8, 2.5)
        cross = rng.uniform(-0.2, 0.2)

        def shake(t):
            inside = (t >= 0) & (t < d)
            x = amp * np.sin(2 * math.pi * f * t) * np.sin(math.pi * np.clip(t / d, 0, 1)) ** 2
            x = x * inside
            return np.stack([x, cross * x, 0 * x], 1)

        return shake, d
    if label == 2:
        peak = rng.uniform(1.2, 3.5)
        ring = rng.uniform(12, 20)
        decay = rng.uniform(0.03, 0.08)
        width = rng.uniform(0.01, 0.03)
        side = rng.normal(0, 0.1, 2)

        def tap(t):
            z = -peak * np.exp(-((t / width) ** 2))
            after = t > width
            z = (
                z
                + 0.4
                * peak
                * np.exp(-np.maximum(t, 0) / decay)
                * np.sin(2 * math.pi * ring * t)
                * after
            )
            z = z * (t >= -3 * width)
            return np.stack([side[0] * z, side[1] * z, z], 1)

        return tap, 0.2
    if label == 3:
        d = rng.uniform(0.5, 1.0)
        w = 2 * math.pi / d * (1 if rng.random() < HALF else -1)
        amp = rng.uniform(0.5, 1.5)
        phase = rng.uniform(0, 2 * math.pi)

        def circle(t):
            inside = (t >= 0) & (t < d)
            env = np.clip(np.minimum(t, d - t) / 0.08, 0, 1) * inside
            x = -amp * np.cos(w * t + phase) * env
            y = -amp * np.sin(w * t + phase) * env
            return np.stack([x, y, 0 * x], 1)

        return circle, d
    d = rng.uniform(0.25, 0.6)
    amp = rng.uniform(0.6, 2.0)  # the peak acceleration
    axis, sign = {4: (0, -1), 5: (0, 1), 6: (1, 1), 7: (1, -1)}[label]
    cross = rng.uniform(-0.15, 0.15)  # not quite straight
    lift = rng.uniform(-0.1, 0.1)

    def swipe(t):
        tau = np.clip(t / d, 0, 1)
        shape = (60 * tau - 180 * tau**2 + 120 * tau**3) / 5.7735  # minimum jerk, peak 1
        shape = shape * ((t >= 0) & (t < d))
        a = np.zeros((len(t), 3))
        a[:, axis] = sign * amp * shape
        a[:, 1 - axis] = cross * a[:, axis]
        a[:, 2] = lift * a[:, axis]
        return a

    return swipe, d


def window(rng, label):
    """One window (WINDOW, 3) int8 of a gesture (label 0..7)."""
    t = np.arange(WINDOW) / RATE
    accel, d = motion(rng, label)
    start = rng.uniform(0, max(0.0, WINDOW / RATE - d - 0.05))
    # The sensor averages over each sample's period (its low-pass filter): 8 points.
    acc = np.mean([accel(t - start + k / (8 * RATE)) for k in range(8)], axis=0)
    turn = math.radians(rng.uniform(-MISALIGN, MISALIGN))
    c, s = math.cos(turn), math.sin(turn)
    acc = acc @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]).T
    r = rotation(rng)
    gravity = r.T @ np.array([0.0, 0.0, 1.0])
    wander = np.zeros((WINDOW, 3))
    for _ in range(3):
        f = rng.uniform(0.3, 2.0)
        wander += np.outer(
            np.sin(2 * math.pi * f * t + rng.uniform(0, 6.3)), rng.normal(0, 0.03, 3)
        )
    signal = gravity + acc + wander
    signal = signal * rng.uniform(0.95, 1.05, 3) + rng.normal(0, 0.04, 3)
    signal += rng.normal(0, rng.uniform(0.01, 0.05), signal.shape)
    return np.clip(np.round(signal * STEP), -128, 127).astype(np.int8)


def dataset(count, seed):
    """(windows (count, WINDOW, 3) int8, labels (count,)): labels cycle through the 8
    gestures; window i comes from numpy's Generator seeded by (seed, i)."""
    frames = np.zeros((count, WINDOW, 3), dtype=np.int8)
    labels = np.arange(count) % len(LABELS)
    for i in range(count):
        frames[i] = window(np.random.default_rng((seed, i)), int(labels[i]))
    return frames, labels
