"""The decoder's Python around its kernels: generate, encode, sampling's defaults and
load's RAM check, against the numpy int8 model of tools/tinylm (tinymodels.shipped())
and arithmetic written out here."""

import pytest
import tinymodels
from attention import decoder, modelfile
from attention.decoder import Decoder


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


def test_load_refuses_a_model_that_does_not_fit_the_free_heap(tmp_path, monkeypatch):
    # load() compares gc.mem_free() (a MicroPython function, given here) with
    # ram_needed() before it allocates anything: with 3/4 of the RAM needed free, it
    # refuses, naming both; with all of it, the model loads.
    import gc

    path = tmp_path / "model.bin"
    tinymodels.write(path, 4, dim=64, heads=4, layers=2, hidden=128, context=32, vocab=20)
    with open(path, "rb") as f:
        need = decoder.ram_needed(modelfile.scan(f))
    assert need > 90000  # the 64-wide weights alone: 2 * (4 * 64 * 64 + 2 * 64 * 128)
    monkeypatch.setattr(gc, "mem_free", lambda: need * 3 // 4, raising=False)
    with pytest.raises(ValueError) as refused:
        Decoder.load(str(path))
    assert str(refused.value) == "model file: the model needs %d bytes of RAM, %d are free" % (
        need,
        need * 3 // 4,
    )
    monkeypatch.setattr(gc, "mem_free", lambda: need, raising=False)
    assert Decoder.load(str(path)).dim == 64
