"""tools/machine_code/token_counts.py: a generation's kernel calls, recorded on the unix port
and replayed under QEMU, are the decoder's own work: the replay must leave the recorded
bytes, a replayed call counts what the same call counts alone, and a record that does
not match its replay is refused."""

from collections import Counter

import pytest
import test_qemu as q  # skips this module too when micropython or every arch's QEMU is missing
from machine_code import qemu_run, token_counts
from tinylm import model_file


@pytest.fixture(scope="module")
def rec():
    return token_counts.record()


def first(seg):
    """The first call of a segment that runs bare-metal (the checks' measure() does not)."""
    return next(c for c in seg.calls if token_counts.replayable(c[1]))


def test_the_record_is_the_standard_example(rec):
    """17 feeds (8 prompt tokens without logits, then 9 with), the model's answer (the
    shipped model reverses its prompt: "hgfedcba" and the end mark), and every kernel call
    of a feed inside its segment."""
    assert len(rec.segments) == 17
    assert [s.logits for s in rec.segments] == [False] * 8 + [True] * 9
    assert [s.position for s in rec.segments] == list(range(17))
    _, tensors = model_file.read(token_counts.SHIPPED)
    vocab = bytes(int(v) for v in tensors["vocab"][0][0]).decode()
    assert "".join(vocab[t] for t in rec.generated) == "hgfedcba" + vocab[rec.generated[-1]]
    assert all(s.sampled and first(s)[0] == "embed" for s in rec.segments)
    picks = [n for s in rec.segments for n, _, _ in s.calls if n == "argmax32"]
    assert len(picks) == 9 == len(rec.generated)


@pytest.mark.parametrize("arch", q.ARCH_PARAMS)
def test_a_replayed_call_counts_what_it_counts_alone(rec, arch):
    """The first kernel call of every feed (embed, from the recorded buffers) run on its own
    copies counts the instructions the shared replay gave it; embed does the same work
    at every position, so all counts are equal."""
    code = token_counts.native_code(rec, arch)
    counts = token_counts.replay(rec, arch, code)
    alone = []
    for seg in rec.segments:
        name, args, _ = first(seg)
        real = [seg.pre[int(a[1:])] if isinstance(a, str) else a for a in args]
        alone.append(qemu_run.run(arch, code, [qemu_run.Call(name, real)])[0].instructions)
    assert [counts[s.index]["embed"] for s in rec.segments] == alone
    assert len(set(alone)) == 1


@pytest.mark.parametrize("what", ["state", "returned"])
@pytest.mark.skipif(
    bool(qemu_run.missing_tools("rv32imc")), reason=qemu_run.install_hint("rv32imc")
)
def test_a_replay_that_differs_from_the_record_is_refused(rec, what):
    """A changed byte of a feed's recorded state, or a changed returned token, fails the
    replay: the counts are only printed for the interpreter's own work."""
    seg = rec.segments[12]
    saved = dict(seg.post), list(seg.calls)
    try:
        if what == "state":
            state = bytearray(seg.post[1])
            state[7] ^= 1
            seg.post[1] = bytes(state)
            match = "buffer 1 after segment 12"
        else:
            i = next(i for i, c in enumerate(seg.calls) if c[0] == "argmax32")
            name, args, ret = seg.calls[i]
            seg.calls[i] = (name, args, ret + 1)
            match = "argmax32 returned"
        with pytest.raises(token_counts.ReplayError, match=match):
            token_counts.replay(rec, "rv32imc")
    finally:
        seg.post, seg.calls = saved[0], saved[1]


def test_per_token_means_add_up(rec):
    """The mean over all feeds is the feed-weighted mean of the prompt and full means."""
    counts = {s.index: Counter({"k": 10 + s.index}) for s in rec.segments}
    mean = token_counts.per_token(rec, counts)
    prompt = token_counts.per_token(rec, counts, lambda s: not s.logits)
    full = token_counts.per_token(rec, counts, lambda s: s.logits)
    assert mean.total == pytest.approx((8 * prompt.total + 9 * full.total) / 17)
    assert mean.total == pytest.approx(10 + 8)  # positions 0..16, mean 8
    assert mean.unreplayed["measure"] == pytest.approx(26 / 17)  # each feed and each pick


@pytest.mark.skipif(
    bool(qemu_run.missing_tools("xtensawin")), reason=qemu_run.install_hint("xtensawin")
)
def test_a_token_of_the_shipped_model_stays_within_its_budget(rec):
    """The standard example's mean per token on the ESP32's xtensawin code is at most
    200,000 kernel instructions (docs/performance.md): a change that costs more fails
    here. Counted by executing the code, so the figure is exact and the same every run."""
    counts = token_counts.replay(rec, "xtensawin")
    assert token_counts.per_token(rec, counts).total <= 200_000
