"""Executed instructions of whole tokens, on a 32-bit RISC-V MicroPython (the qemu port's
VIRT_RV32 board under `qemu-system-riscv32 -icount shift=0`): everything the interpreter
runs per token, the kernels, the argument conversions and the Python around them.
Run by tools/machine_code/rv32_port.py.

Settings, in a first line in front of the script: MODEL = path of the model file;
PROMPT = its prompt, text or token ids (bytes); ROOM = tokens generate_into may write;
FULL = positions at which a full step is counted (a tuple); EXAMPLE = False skips the
two counts of the whole generate_into (long contexts); TOKENS = the tokens to feed token
by token (bytes; default: the prompt and what generate_into made of it).

The counter is the core's instret CSR (0xC02), read by an asm_rv32 function that keeps
its low 30 bits (a small int: a larger one would be allocated); the instructions of one
read and its call are measured (two reads in a row) and taken off every figure.

The heap's state matters: a Python function whose frame (locals and stack) is larger
than 11 words gets it from the heap on each call (py/objfun.c, VM_MAX_STATE_ON_STACK),
and that allocation searches the heap for free blocks, a search that is long when the
heap is fragmented. So the example is counted twice: right after loading the model
(the heap as the load left it) and after gc.collect(); the per-position figures follow
the collect. Prints JSON lines:
  {"what": "example", "heap": "loaded" or "collected", "feeds": F, "instructions": I}
      generate_into(PROMPT, bytearray(ROOM)), all of it
  {"what": "prompt", "position": p, "instructions": I}  feed(token, False) of a prompt token
  {"what": "full", "position": p, "instructions": I}    feed(token) then pick(): a full step
  {"what": "ram", "measured": B, "estimated": B}  gc.mem_alloc() taken by the load, and
      the model's own estimate (Decoder.ram, ram_needed())
  {"what": "frame", "heap": "loaded" or "collected", "small": I, "large": I}  a call of a
      function with a frame of 4 words and of one with 14 (13 locals), on the heap as
      the load left it and after gc.collect(): what a frame from the heap costs
or one line {"what": "none"} where there is no such counter (not an RV32 port).
"""

import gc
import json
import sys

import micropython
from attention.decoder import Decoder

SETTINGS = globals()
RV32 = 11  # the native arch of sys.implementation._mpy (bits 10..13): rv32imc


def counter():
    """The instret reader, or None on a port that is not RV32 (where asm_rv32 is not)."""
    if (getattr(sys.implementation, "_mpy", 0) >> 10) & 15 != RV32:
        return None
    scope = {"micropython": micropython}
    exec(
        "@micropython.asm_rv32\ndef instret():\n"
        "    csrrs(a0, zero, 0xC02)\n    slli(a0, a0, 2)\n    srli(a0, a0, 2)\n",
        scope,
    )
    return scope["instret"]


def small(a):
    b = a
    return b


def large(a):
    b = c = d = e = f = g = h = i = j = k = l = m = a  # noqa: F841  (a frame of 14 words)
    return b


def frames(instret, read, heap):
    a = instret()
    small(1)
    b = instret()
    large(1)
    c = instret()
    mask = 0x3FFFFFFF
    out = {"what": "frame", "heap": heap, "small": (b - a - read) & mask}
    out["large"] = (c - b - read) & mask
    return out


def main():
    instret = counter()
    if instret is None:
        print(json.dumps({"what": "none"}))
        return
    mask = 0x3FFFFFFF
    a = instret()
    b = instret()
    read = (b - a) & mask  # one read, as every figure below holds one too many
    gc.collect()
    before = gc.mem_alloc()
    model = Decoder.load(SETTINGS["MODEL"])
    loaded = frames(instret, read, "loaded")
    gc.collect()
    taken = gc.mem_alloc() - before
    print(json.dumps({"what": "ram", "measured": taken, "estimated": model.ram}))
    print(json.dumps(loaded))
    print(json.dumps(frames(instret, read, "collected")))
    prompt = SETTINGS["PROMPT"]
    if type(prompt) is str:
        prompt = model.encode(prompt)
    out = bytearray(SETTINGS["ROOM"])
    count = 0
    for heap in ("loaded", "collected") if SETTINGS.get("EXAMPLE", True) else ():
        if heap == "collected":
            gc.collect()
        a = instret()
        count = model.generate_into(prompt, out)
        b = instret()
        feeds = len(prompt) + count - 1  # the last token picked is not fed
        print(
            json.dumps(
                {
                    "what": "example",
                    "heap": heap,
                    "feeds": feeds,
                    "instructions": (b - a - read) & mask,
                }
            )
        )
    # Token by token: prompt tokens without logits, full steps at FULL.
    tokens = SETTINGS.get("TOKENS")
    if tokens is None:
        if not count:
            count = model.generate_into(prompt, out)
        tokens = bytes(prompt) + bytes(out[:count])
    full = SETTINGS["FULL"]
    last = max(full) if full else -1
    gc.collect()
    model.reset()
    position = 0
    while position <= last:
        token = tokens[position % len(tokens)]
        if position in full:
            a = instret()
            model.feed(token)
            model.pick()
            b = instret()
            what = "full"
        else:
            a = instret()
            model.feed(token, False)
            b = instret()
            what = "prompt"
        print(
            json.dumps({"what": what, "position": position, "instructions": (b - a - read) & mask})
        )
        position += 1


main()
