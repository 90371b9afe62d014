"""Hostile calls to the package's whole public API: no kernel may touch memory it was not given.

The mechanisms and the KV cache, attention.layers (Linear, RMSNorm, Embedding and the
functions) and attention.decoder's Decoder (the shipped model, loaded once; a tiny
zero model where the file is missing) with tokens, prompts, out buffers, sampling
settings and logits resized in place.

Random, seeded sequences of constructors, method calls and attribute assignments with
wrong and right buffer kinds, sizes, counts and aliasing, read-only outputs (bytes and
views of them), and assignments to private attributes (sizes, scratch buffers, another
object's frame): after one, calls on that object may refuse anything, but none may touch
memory it was not given. Buffers are memoryview slices
of pattern-filled arenas or standalone objects between guard bytearrays, so a write
outside a buffer is seen after the call. A call may return or raise TypeError or
ValueError (AttributeError for an attribute assignment); it must refuse what the API
promises to refuse (wrong buffer kinds, negative or too large counts, aliased outputs).
Anything else prints `FAIL seed=<seed> call=<i>: <the call>` and stops with an error.

The plans of each family of calls are in their own file, joined in front of this one by
tools/board/target.py (the `# with:` line below): fuzz_attention.py (the three mechanisms),
fuzz_cache.py (KVCache, and forward over its buffers), fuzz_layers.py, fuzz_decoder.py,
all on fuzz_arena.py (the arenas, guards, pool and the Call being built). This file makes
the objects, picks each step and runs and checks the call.

    python tools/quality/fuzz.py [--seed N] [--calls N] [--verbose] [--port PORT]

which prepends `SEED = N; CALLS = N; VERBOSE = True` (the joined file also reads
--seed, --calls and --verbose from the command line of the unix port).
"""

# with: fuzz_arena.py fuzz_attention.py fuzz_cache.py fuzz_layers.py fuzz_decoder.py

import gc
import sys
from array import array

from attention import KVCache, LinearAttention, MicroAttention, SlidingWindowAttention


def make_subject(rng):
    """A constructor and its arguments; the second result says why it must be refused, if so."""
    kind = rng.below(4)
    if kind == 0:
        embed = rng.pick(DIMS)
        heads = rng.pick([h for h in (1, 2, 3, 4, 8, 16) if embed % h == 0])
        args = [embed, heads, rng.pick(("linear", "exp2")), rng.pick((0, 4, 9, 12))]
        args.append(rng.pick((0, 0, 1, 8, 100)))
        bad = (BAD_DIMS, (0, -1, embed + 1, None, 2.0), ("exp3", None, 1))
        bad += ((-1, 13, 2**40, None, 1.0), (-1, 2**40, 4194305, 1.0, "1"))
        ctor = MicroAttention
    elif kind == 1:
        args, bad, ctor = [rng.pick(DIMS)], (BAD_DIMS,), LinearAttention
    elif kind == 2:
        args = [rng.pick((1, 2, 3, 4, 8, 16, 32)), rng.pick(DIMS)]
        bad, ctor = (BAD_DIMS, BAD_DIMS), SlidingWindowAttention
    else:
        args = [rng.pick((1, 2, 3, 4, 8, 33)), rng.pick(DIMS), rng.chance(50)]
        bad, ctor = ((0, -1, 4194305, 2**40, 1.0, None), BAD_DIMS), KVCache
    refuse = None
    if layers is not None and rng.chance(40):
        ctor, args, bad = make_layer(rng)
    if rng.chance(15):
        slot = rng.below(len(bad))
        args[slot] = rng.pick(bad[slot])
        refuse = "argument %d is %s" % (slot, describe(args[slot]))
    return ctor, args, refuse


def attributes(ctor, args):
    """The public attributes an object made by ctor(*args) must keep."""
    if ctor is MicroAttention:
        e, h = args[0], args[1]
        head = e // h
        shift = 3 if head >= 32 else 2 if head >= 16 else 1
        return [
            ("embed_dim", e),
            ("num_heads", h),
            ("head_dim", head),
            ("softmax_kind", args[2]),
            ("logit_shift", args[3]),
            ("scale_shift", shift),
        ]
    if ctor is LinearAttention:
        return [("feature_dim", args[0])]
    if layers is not None and ctor is layers.Linear:
        return [("rows", args[2]), ("cols", args[3])]
    if layers is not None and ctor is layers.RMSNorm:
        return [("dim", args[0]), ("frac", args[1])]
    if layers is not None and ctor is layers.Embedding:
        return [("rows", args[1]), ("dim", args[2])]
    if ctor is SlidingWindowAttention:
        return [("window_size", args[0]), ("head_dim", args[1])]
    return [("capacity", args[0]), ("width", args[1]), ("ring", bool(args[2]))]


def construct(rng, index, seed, verbose):
    """A new Subject, or None when the constructor (rightly) refused its arguments."""
    ctor, args, refuse = make_subject(rng)
    label = "%s(%s)" % (ctor.__name__, ", ".join(describe(a) for a in args))
    if verbose:
        print("call %d: %s" % (index, label))
    before = guard()
    try:
        obj = ctor(*args)
    except REFUSED:
        return None
    except MemoryError as e:  # the heap, for right arguments; wrong ones must be refused first
        if refuse:
            fail(seed, index, label, "raised %r, but %s" % (e, refuse))
        raise
    except Exception as e:  # noqa: BLE001  (any other exception is what is looked for)
        fail(seed, index, label, "raised %r" % e)
    after = guard()
    if refuse:
        fail(seed, index, label, "accepted, but " + refuse)
    subject = Subject(obj, label, attributes(ctor, args), before, after)
    if ctor is KVCache:
        keys, values = obj.keys, obj.values
        subject.cache = [keys, values, 0, array("b", keys), array("b", values)]
    held = {"Linear": ("weights", "scales"), "Embedding": ("table",)}.get(ctor.__name__, ())
    for name, buf in zip(held, args):
        subject.held.append([name, buf, bytes(buf), len(buf)])
    return subject


def decoder_step(rng, subjects, index, seed, verbose):
    if not MODEL:
        MODEL.append(Model())
        if verbose:
            print("call %d: %s = Decoder.load(shipped())" % (index, MODEL[0].subject.label))
    if rng.chance(8):
        change = MODEL[0].resize(rng)
        if verbose:
            print("call %d: %s" % (index, change))
        return
    invoke(rng, subjects, index, seed, verbose, decoder_call)
    problem = MODEL[0].check()
    if problem:
        fail(seed, index, "after the call above", problem)


ATTRIBUTE_VALUES = (4096, 2000, 10**6, 0, -1, 2**40, None, "x", 1.5)
EXTRA_ATTRIBUTES = {KVCache: ("keys", "values", "count"), LinearAttention: ("halvings",)}
if layers is not None:
    EXTRA_ATTRIBUTES[layers.Linear] = ("weights", "scales")
    EXTRA_ATTRIBUTES[layers.Embedding] = ("table",)
if decoder is not None:
    EXTRA_ATTRIBUTES[decoder.Decoder] = ("position", "logits", "ram")


def attack_attribute(rng, subject):
    """An assignment to a public attribute: (label, name, value)."""
    names = [a[0] for a in subject.attrs] + list(EXTRA_ATTRIBUTES.get(type(subject.obj), ()))
    name = rng.pick(names)
    if name in ("keys", "values", "weights", "scales", "table", "logits"):
        value = rng.pick((array("b", bytes(10)), array("b"), array("i", bytes(400)), None))
    else:
        value = rng.pick(ATTRIBUTE_VALUES)
    return "%s.%s = %s" % (subject.label, name, describe(value)), name, value


# The private attributes of each kind of object: assignable, but no assignment may let a
# kernel write outside a buffer.
PRIVATE = {
    MicroAttention: (
        "_embed_dim", "_num_heads", "_head_dim", "_scale_shift", "_logit_shift", "_exp2", "_frame",
    ),
    LinearAttention: ("_feature_dim", "_block", "_halvings", "_frame"),
    SlidingWindowAttention: ("_window_size", "_head_dim", "_frame"),
    KVCache: ("_capacity", "_width", "_ring", "_count", "_frame"),
}  # fmt: skip
if layers is not None:
    PRIVATE[layers.Linear] = ("_rows", "_cols", "_weights", "_scales", "_frame")
    PRIVATE[layers.RMSNorm] = ("_dim", "_frac", "_num", "_down", "_frame")
    PRIVATE[layers.Embedding] = ("_rows", "_dim", "_table", "_frame")
if decoder is not None:
    PRIVATE[decoder.Decoder] = ("_pos", "_top_k", "_temperature", "_h", "_frame", "_vocab")
PRIVATE_VALUES = (0, 1, -1, 3, 64, 4096, 10**6, 2**31, -(2**31), 2**40, None, 1.5, "x")


def tamper(rng, subjects, index, seed, verbose):
    """Assign a private attribute of a subject; from then on only memory is checked for it."""
    subject = rng.pick(subjects)
    name = rng.pick(PRIVATE[type(subject.obj)])
    roll = rng.below(100)
    intact = [s for s in subjects if not s.tampered] or [subject]
    if roll < 25:  # another object's frame (one that is still whole), or a buffer of it
        donor = rng.pick(intact)
        value = donor.obj._frame
        if name != "_frame" and rng.chance(50):
            value = value[rng.below(len(value))]
        # Writing the donor's buffers through this object is aliasing, not a write outside
        # a buffer: from here on only the guards are checked for the donor.
        donor.tampered = donor.given = True
    elif roll < 40:
        value = rng.pick((array("b", bytes(10)), array("i", bytes(40)), bytearray(3), b"abc"))
    elif roll < 50:
        value = {"vocab": 2**20, "context": 2**20, "dim": 4096, "logit_frac": 40}
    else:
        value = rng.pick(PRIVATE_VALUES)
    label = "%s.%s = %s" % (subject.label, name, describe(value))
    if verbose:
        print("call %d: %s" % (index, label))
    try:
        setattr(subject.obj, name, value)
    except Exception as e:  # noqa: BLE001
        fail(seed, index, label, "raised %r" % e)
    subject.tampered = True


def method_call(rng, subjects):
    """A random method call on a random subject: (Call, subject, label, bound method, name)."""
    s = rng.pick(subjects)
    call = Call(rng, POOL)
    obj = s.obj
    mechanism = isinstance(obj, (MicroAttention, LinearAttention, SlidingWindowAttention))
    caches = [c for c in subjects if c.cache and not c.tampered and c.attrs[1][1] == row_width(s)]
    if mechanism and caches and rng.chance(30):
        fn = plan_over_cache(call, s, rng.pick(caches))
        name = "forward"
    elif not mechanism and not isinstance(obj, KVCache):
        name = layer_method(rng, s)
        fn = plan_layer(call, s, name)
    elif isinstance(obj, MicroAttention):
        name = rng.pick(
            ("compute_scores", "apply_causal_mask", "softmax_fixed", "softmax")
            + ("weighted_sum", "weighted_sum", "forward", "forward")
        )
        fn = plan_micro(call, s, name)
    elif isinstance(obj, LinearAttention):
        name = rng.pick(("feature_map", "reset", "update", "update", "attend", "forward"))
        fn = plan_linear(call, s, name)
    elif isinstance(obj, SlidingWindowAttention):
        name = "forward"
        fn = plan_window(call, s)
    else:
        name = rng.pick(("append", "append", "append", "clear", "len"))
        fn = plan_cache(call, s, name)
    call.finish()
    label = "%s.%s(%s)" % (s.label, name, ", ".join(call.words))
    return call, s, label, fn, name


def assign(rng, subjects, index, seed, verbose):
    """Assign a read-only attribute: AttributeError, or no visible change."""
    subjects = [s for s in subjects if not s.tampered]  # their properties may not even read
    if not subjects:
        return
    subject = rng.pick(subjects)
    label, name, value = attack_attribute(rng, subject)
    if verbose:
        print("call %d: %s" % (index, label))
    before = getattr(subject.obj, name)
    try:
        setattr(subject.obj, name, value)
    except AttributeError:
        return
    except Exception as e:  # noqa: BLE001
        fail(seed, index, label, "raised %r" % e)
    now = getattr(subject.obj, name)
    if now is not before and (
        type(now) is not type(before) or type(now) is array or now != before
    ):
        fail(seed, index, label, "a read-only attribute was changed")


def invoke(rng, subjects, index, seed, verbose, plan=None):
    """One hostile call (a method of a subject unless plan says otherwise), then every check."""
    call, s, label, fn, name = (plan or method_call)(rng, subjects)
    if verbose:
        print(
            "call %d: %s%s" % (index, label, " [refuse: %s]" % call.refuse if call.refuse else "")
        )
    inputs = [bytes(a) if type(a) is memoryview else None for a in call.args[:2]]
    result = None
    try:
        result = fn(*call.args)
        returned = True
    except REFUSED:
        returned = False
    except MemoryError as e:  # the heap, for right arguments; wrong ones must be refused first
        if call.refuse and (s is None or not s.tampered):
            fail(seed, index, label, "raised %r, but %s" % (e, call.refuse))
        raise
    except Exception as e:  # noqa: BLE001
        if s is None or not s.tampered:  # else any exception: the object was broken by hand
            fail(seed, index, label, "raised %r" % e)
        returned = False
    expected = s is None or not s.tampered  # a tampered object may refuse anything
    if returned and call.refuse and expected:
        fail(seed, index, label, "accepted, but " + call.refuse)
    problem = call.expect(result) if returned and call.expect and expected else None
    problem = problem or (call.after(returned) if call.after and expected else None)
    if problem:
        fail(seed, index, label, problem)
    if s is None or not s.cache or s.tampered:
        pass
    elif returned and name == "append":
        key, value = (inputs[i] or before_call(call, i) for i in (0, 1))
        after_append(s, key, value)
    elif returned and name == "clear":
        after_clear(s)
    if (
        s is not None and s.cache and len(s.cache) > 5
    ):  # a row was copied from the cache into itself
        del s.cache[5:]
        s.cache[3][:] = array("b", s.cache[0])
        s.cache[4][:] = array("b", s.cache[1])
    problem = call.check() or POOL.check()
    for subject in subjects:
        problem = problem or subject.check()
    if s is not None and not any(s is t for t in subjects):
        problem = problem or s.check()
    if problem:
        fail(seed, index, label, problem)


def before_call(call, slot):
    """The bytes of argument slot as they were before the call."""
    value = call.args[slot]
    for entry in call.frozen:
        if entry[0] is value:
            return entry[1]
    return bytes(value)


def step(rng, subjects, index, seed, verbose):
    """One random action; raises Failure on a violation."""
    roll = rng.below(100)
    if roll < 6 or not subjects:
        subject = construct(rng, index, seed, verbose)
        if subject is not None:
            subjects.append(subject)
            if len(subjects) > 6:
                subjects.pop(0)
    elif roll < 10:
        change = resize_held(rng, subjects) if rng.chance(30) else POOL.reshape(rng)
        if verbose and change:
            print("call %d: %s" % (index, change))
    elif roll < 15:
        extra = [MODEL[0].subject] if MODEL and rng.chance(20) else []
        if rng.chance(20):
            tamper(rng, subjects + extra, index, seed, verbose)
        else:
            assign(rng, subjects + extra, index, seed, verbose)
    elif roll < 23 and layers is not None:
        invoke(rng, subjects, index, seed, verbose, plan_function)
    elif roll < 31 and decoder is not None:
        decoder_step(rng, subjects, index, seed, verbose)
    else:
        invoke(rng, subjects, index, seed, verbose)


def check_weights(seed, index):
    """No call may have written into the model's weights or scales."""
    if MODEL and not MODEL[0].subject.given and MODEL[0].fingerprint() != MODEL[0].weights:
        fail(seed, index, "the model's weights", "changed by one of the calls before")


def settings():
    """Seed, call count and verbosity: from prepended globals, then the command line."""
    seed = globals().get("SEED", 1)
    calls = globals().get("CALLS", 2000)
    verbose = globals().get("VERBOSE", False)
    args = list(getattr(sys, "argv", [])[1:])
    while args:
        flag = args.pop(0)
        if flag == "--seed":
            seed = int(args.pop(0))
        elif flag == "--calls":
            calls = int(args.pop(0))
        elif flag == "--verbose":
            verbose = True
    return seed, calls, verbose


def main():
    seed, calls, verbose = settings()
    rng = Rng(seed)
    subjects = []
    skipped = 0
    try:
        for index in range(calls):
            try:
                step(rng, subjects, index, seed, verbose)
            except MemoryError:  # the target's heap, building, making or checking a call
                skipped += 1
                if verbose:
                    print("call %d: skipped, the heap ran out" % index)
                gc.collect()
            if index % GC_EVERY == 0:
                gc.collect()
                check_weights(seed, index)
        check_weights(seed, calls)
    except Failure as failure:
        # An exception, not SystemExit: only an uncaught exception makes mpremote exit non-zero.
        raise RuntimeError("fuzz: seed %d failed: %s" % (seed, failure))
    gc.collect()
    if skipped:
        print(
            "fuzz: %d of %d steps skipped: the heap ran out building, making or checking them "
            "(the target's heap is %d KB; a call's buffers, with the copies that check them, "
            "take up to about 120 KB)" % (skipped, calls, (gc.mem_free() + gc.mem_alloc()) // 1024)
        )
    print("fuzz: %d calls, seed %d, ok" % (calls, seed))


main()
