"""The decoder's Python around its kernels: generate, encode, sampling's defaults and
load's RAM check, against the numpy int8 model of tools/tinylm (tinymodels.shipped()),
the unix port's heap and arithmetic written out here."""

import os
import re
import subprocess

import pytest
import tinymodels
from attention import decoder
from attention.decoder import Decoder
from conftest import MICROPYTHON, ROOT

needs_unix = pytest.mark.skipif(not MICROPYTHON, reason="micropython (unix port) not installed")


def test_generate_without_stop_fills_the_context():
    m = Decoder.load(decoder.shipped())
    numpy_model = tinymodels.shipped()
    prompt = "abc|"
    room = m.context - len(prompt) + 1  # 18 - 4 + 1: the last token fed fills the context
    assert room == 15
    ids = numpy_model.generate_ids([m.vocab.index(c) for c in prompt], room)
    text = m.generate(prompt)
    assert text == "".join(m.vocab[i] for i in ids)
    assert len(text) == room
    assert m.vocab[0] in text  # token 0 is no stop unless asked for
    assert m.position == m.context


def test_encode_every_character():
    m = Decoder.load(decoder.shipped())
    assert m.vocab == "abcdefghij|."
    assert m.encode(m.vocab) == bytes(range(len(m.vocab)))


def picks(model, count=5):
    model.reset()
    model.feed(3)
    out = []
    for _ in range(count):
        out.append(model.pick())
        model.feed(out[-1])
    return out


def test_sampling_seed_defaults_to_1():
    m = Decoder.load(decoder.shipped())
    numpy_model = tinymodels.shipped()
    m.sampling(50.0)
    default = picks(m)
    m.sampling(50.0, 0, 1)
    assert picks(m) == default
    numpy_model.sampling(50.0, 0, 1)
    assert picks(numpy_model) == default
    m.sampling(50.0, 0, 0)
    assert picks(m) != default


LOAD = """
import gc, sys
from attention import decoder
from attention.decoder import Decoder
gc.collect()
print(gc.mem_free())
with open(sys.argv[1], "rb") as f:
    print(decoder.ram_needed(decoder.modelfile.scan(f)))
try:
    Decoder.load(sys.argv[1])
    print("loaded")
except ValueError as e:
    print(e)
"""


@needs_unix
def test_load_refuses_a_model_that_does_not_fit_the_free_heap(tmp_path):
    # On the unix port with a heap of a given size: first a large one, to learn what the
    # package itself takes and what the model needs, then one that leaves 3/4 of that free.
    path = tmp_path / "model.bin"
    tinymodels.write(path, 4, dim=64, heads=4, layers=2, hidden=128, context=32, vocab=20)
    script = tmp_path / "load.py"
    script.write_text(LOAD)

    def load(heap):
        done = subprocess.run(
            [MICROPYTHON, "-X", "heapsize=%d" % heap, str(script), str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            env=dict(os.environ, MICROPYPATH=os.path.join(ROOT, "firmware")),
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.split("\n")[:3]

    heap = 4 * 1024 * 1024
    free, need, result = load(heap)
    assert result == "loaded"
    need = int(need)
    for _ in range(3):  # the heap's own tables grow with it: aim again from what was free
        heap -= int(free) - need * 3 // 4
        free, _, result = load(heap)
    assert need // 2 < int(free) < need
    said = re.fullmatch(r"model file: the model needs (\d+) bytes of RAM, (\d+) are free", result)
    assert said, result
    assert int(said.group(1)) == need and need // 2 < int(said.group(2)) < need
