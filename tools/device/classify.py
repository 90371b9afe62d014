"""Classification demo of the shipped gesture model: `make run`.

Runs unchanged on the unix port and on a board (the package deployed with its
gesture.bin). WINDOWS holds one window of each gesture, the first 8 held-out windows
of tools/tinylm/gesture.py (dataset(8, HELD_SEED): 32 frames of x, y, z at 32 Hz, int8,
1/32 g per step; host_tests/board/test_device_scripts.py checks they are, and that the
numpy int8 model classifies each as its gesture). Prints the RAM the model takes, each
window's gesture and its Q8 score, the time per window, then the circle pushed a frame
at a time as a sensor stream and classified from the ring.
"""

# first: attention.classifier

# with: heap.py

import time

from attention.classifier import Classifier, shipped

NAMES = ("idle", "shake", "tap", "circle", "swipe_left", "swipe_right", "swipe_up", "swipe_down")
WINDOWS = (
    "10fa1b11f81b10f61a11f71c0df61810f21d0ff81b11f61d0ff5190ef81b0ff9"  # idle
    "1c0cf91b0dfc190efb190efd1910fd1911fd1a10f81a11fb1910fa1911f41b0e"
    "f51a10f7170ffa1a0ffa1a11f91d10fb180ffd1911fb1a11fe1911001a12ff19"
    "f9071ffc091ffa0720fb071efd091ffa0a1ffc0620fb0b20fd0a1ff90a1ef909"  # shake
    "20fa081efa0a1dfa0a1ffa071ff9091fff091efd0920e80721ea082006081f12"
    "0a1efd0820f40a1cfb091dfc091cfc0820fd061dfa0920fc061df9071ffc081c"
    "0f021c10011c10031b11031d1004190c0bf20c08000e07140d051d0e05190e05"  # tap
    "1b0d061a0e05190f031a0e031c0e041b0f021a0f021b0f021c10041d0f041c0f"
    "031a0f041a0f071b10051a0e041b11051910061b0f061a11061c11031a10021a"
    "fb0e1bfc0f18fe0d1afc0e18fc0e1bfe0f19fc1c1bf12419e62418e11c18db12"  # circle
    "1bdc071be2ff1ae5f71ceef419f9f01a04f3190df51d15001a1a071d15101c13"
    "191a05181afa151bf90f1bfb101cf80f1cfa111bfc101afa101afa1019fd101a"
    "ff051c02031e00051f04051ff6051ee0001ddd001ae8021df9021e0c03201e05"  # swipe_left
    "212605212306220e031d00021e00001f01021d01011b02021e01032003031e01"
    "051f02031e07031f06041e03062003051f02021e02021e03041d02021fff021d"
    "0afb1d0afb1f0bfb1d0bfc1d0bfe1e0afd1e0bfd1e0cfd1d0afe1f0bfe2109fd"  # swipe_right
    "200bff2011fd2031fc223efb1f43fc2141fb2131fc1e1efc1d0bfb1cf8fc1ce7"
    "fd1ad9fd19d3fe19d4fd19e2fe1afffd1b0cfc1c0cfb1d0bfb1c0afe1e0d001f"
    "01041ffd031eff0620fe181c012c1cfc391cfc3e1bfe3d1af9371afd2d1bfa23"  # swipe_up
    "1dfb111dfa0220fbef21fbe421fad921f9cb22fec81ffcca20fcd01dffdf1f00"
    "f71efc041cf9031dfe041efd051efc031efa041df9051cf7041ffa0320fc051f"
    "fe011eff001efe011e00f91e02e51e03da1f04d71e05db2004e41f03f01e02fe"  # swipe_down
    "1e010d1d01191dff241cfe2a1bfd2a1cfd241cfd151dfe031efe011eff011efe"
    "011eff011fff021f00ff2100012102002001ff2102ff2202fe2102fe2102fe21"
)


def window(text):
    """The int8 bytes of a window given in hex."""
    return bytes(int(text[i : i + 2], 16) for i in range(0, len(text), 2))


def main():
    model, used = loaded(Classifier.load, shipped())
    print(
        "classifier: %d frames of %d values, %d classes"
        % (model.window, model.features, model.classes)
    )
    print("  RAM of the loaded model: %d bytes (the file says %d)" % (used, model.ram))
    size = model.window * model.features
    spent = 0
    for i, name in enumerate(NAMES):
        frames = window(WINDOWS[2 * size * i : 2 * size * (i + 1)])
        start = time.ticks_us()
        k = model.classify(frames)
        spent += time.ticks_diff(time.ticks_us(), start)
        print(
            "  a %-12s window -> %-12s score %3d / 256" % (name, model.labels[k], model.scores[k])
        )
    print("  %.0f us per window" % (spent / len(NAMES)))
    model.reset()
    frames = window(WINDOWS[2 * size * 3 : 2 * size * 4])  # the circle, a frame at a time
    for t in range(model.window):
        model.push(frames[t * model.features : (t + 1) * model.features])
    print("  streamed, after %d frames pushed: %s" % (model.count, model.labels[model.classify()]))


main()
