"""The model file's header at its lower limits and its reserved word (docs/model-format.md):
every field that counts something is at least 1, and the reserved word is 0. A file that
breaks one is refused with a ValueError naming it, before any buffer is allocated."""

import io
import struct

import pytest
import tinymodels
from attention import modelfile
from attention.decoder import Decoder
from test_decoder import patched, refused

# The header (docs/model-format.md): magic, version, then these u16 fields at these
# offsets, the tensor count at 26 and a u32 reserved word at 28.
COUNTS = {"vocab": 6, "dim": 8, "heads": 10, "layers": 12, "hidden": 14, "context": 16}


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "good.bin"
    tinymodels.write(path, 6, dim=8, layers=1, hidden=12, context=6, vocab=5)
    return path.read_bytes()


@pytest.mark.parametrize("value", [1, 2**16, 2**31, 2**32 - 1])
def test_reserved_header_word_must_be_0(tmp_path, good, value):
    assert struct.unpack_from("<I", good, 28) == (0,)
    refused(tmp_path, patched(good, 28, "<I", value), "reserved header word is %d" % value)


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_every_count_in_the_header_is_at_least_1(tmp_path, good, name):
    at = COUNTS[name]
    assert struct.unpack_from("<H", good, at)[0] >= 1
    most = 256 if name == "vocab" else 16384  # a version 1 file: one byte per token id
    refused(tmp_path, patched(good, at, "<H", 0), "%s = 0, expected 1..%d" % (name, most))
    one = patched(patched(good, at, "<H", 1), COUNTS["heads"], "<H", 1)  # 1 divides dim
    assert modelfile.read_header(io.BytesIO(one))[name] == 1  # and 1 itself is accepted


def without_layers(data):
    """data (a file with one layer) rewritten as a well-formed file of 0 layers: the
    header says layers 0 and 4 tensors, and the 6 layer tensors are cut out. Each tensor
    is a 16-byte record, 8 bytes of scales per row if scaled, then its data padded to 4."""
    h = modelfile.read_header(io.BytesIO(data))
    assert h["layers"] == 1
    at = modelfile.HEADER_BYTES[0]  # version 1
    parts = []
    for name, rows, cols, scaled in modelfile.tensors(h):
        size = 16 + 8 * rows * scaled + (rows * cols + 3) // 4 * 4
        if "." not in name:  # vocab, tok_emb, pos_emb, lm_head; layer tensors are "0.wq", ...
            parts.append(data[at : at + size])
        at += size
    assert at == len(data)
    header = patched(patched(data[: modelfile.HEADER_BYTES[0]], 12, "<H", 0), 26, "<H", 4)
    return header + b"".join(parts)


def test_a_well_formed_file_of_no_layers_is_refused(tmp_path, good):
    # Every other check passes on it: only the lower bound of layers refuses it.
    data = without_layers(good)
    assert len(data) == modelfile.file_bytes(
        dict(modelfile.read_header(io.BytesIO(good)), layers=0)
    )
    refused(tmp_path, data, "layers = 0, expected 1..16384")
    path = tmp_path / "one.bin"
    path.write_bytes(good)
    assert Decoder.load(str(path)).layers == 1


def scales_at(data, row, m, s):
    """data with row's scale of the first scaled tensor (0.wq) set to (m, s). After the
    header: vocab (16 + 8 bytes), tok_emb (16 + 40), pos_emb (16 + 48), 0.wq's record."""
    at = 32 + 24 + 56 + 64 + 16
    assert data[at - 16 : at - 11] == b"0.wq\0"
    return patched(patched(data, at + 8 * row, "<i", m), at + 8 * row + 4, "<i", s)


def test_scales_at_their_limits_are_accepted(tmp_path, good):
    # m 0..32767, s 17..40 (docs/model-format.md)
    path = tmp_path / "limits.bin"
    path.write_bytes(scales_at(scales_at(good, 0, 0, 17), 1, 32767, 40))
    with open(path, "rb") as f:
        assert modelfile.scan(f)["dim"] == 8


def test_scales_one_past_their_limits_are_refused(tmp_path, good):
    for m, s in ((-1, 17), (32768, 17), (0, 16), (0, 41)):
        refused(
            tmp_path, scales_at(good, 1, m, s), "tensor 0.wq row 1 has scale m=%d s=%d" % (m, s)
        )
