"""Every viper kernel call of one generation of a model, written to a file: the input of
tools/machine_code/token_counts.py, which replays the calls under QEMU.

Settings, in a first line in front of the script (the host tool writes it):
  MODEL = path of the model file; OUT = path of the record to write;
  PROMPT = the prompt: token ids (bytes) or text (a str, encoded by the model);
  ROOM = tokens generate_into may write;
  SAMPLE = indices of the feeds whose buffers are kept (a tuple), or None for all.

Loads MODEL with attention.decoder.Decoder, wraps every public function of the modules
whose functions the decoder calls (attention._step, _layers, _kernels, _memory, and the
names the decoder imported from them one by one), then runs generate_into(PROMPT,
bytearray(ROOM)) once. Each call is logged with its arguments (an int, a buffer by its
number, or None for anything else: all of _memory's, whose frame holds object pointers)
and what it returned. A segment is a feed() and the
calls after it up to the next feed() (the pick); for the sampled segments, the bytes of
every buffer the kernels have seen are written at its start and at its end (a buffer
first seen inside the segment: as it was at that call). Writes to a file, so it runs on
the unix port. Prints one line: feeds, calls, generated tokens.

The record is a sequence of chunks, each a 4-byte tag, a 4-byte little-endian length
and the payload:
  META  JSON: the model's header and {function: module} of the wrapped functions
  FEED  JSON: [segment, token, logits (0 or 1), position]
  CALL  JSON: [function, [arguments: int, "#k" for buffer k, or None], returned]
  PRE   buffer k's bytes at the start of the current segment: 4 bytes k, then the bytes
  POST  the same at its end
  DONE  JSON: [feeds, calls, generated tokens as a list]
"""

import json
import struct
from array import array

import attention.decoder as decoder_module
from attention import _kernels, _layers, _memory, _step
from micropython import const
from attention.decoder import Decoder

SETTINGS = globals()
MODULES = (("_step", _step), ("_layers", _layers), ("_kernels", _kernels), ("_memory", _memory))
BUFFERS = (bytes, bytearray, array, memoryview)


class Recorder:
    def __init__(self, out, sample):
        self.out = out
        self.sample = sample
        self.buffers = []  # every buffer a kernel was given, numbered in order of first sight
        self.segment = -1
        self.kept = False  # the current segment is sampled
        self.calls = 0

    def chunk(self, tag, payload):
        self.out.write(struct.pack("<4sI", tag, len(payload)))
        self.out.write(payload)

    def keep(self, tag, k):
        data = bytes(self.buffers[k])
        self.out.write(struct.pack("<4sII", tag, 4 + len(data), k))
        self.out.write(data)

    def number(self, buf):
        for k, known in enumerate(self.buffers):
            if known is buf:
                return k
        self.buffers.append(buf)
        k = len(self.buffers) - 1
        if self.kept:
            self.keep(b"PRE ", k)  # first seen now: its bytes before this call
        return k

    def end_segment(self):
        if self.kept:
            for k in range(len(self.buffers)):
                self.keep(b"POST", k)

    def start_segment(self, token, logits, position):
        self.end_segment()
        self.segment += 1
        self.kept = self.sample is None or self.segment in self.sample
        self.chunk(b"FEED", json.dumps([self.segment, token, int(logits), position]).encode())
        if self.kept:
            for k in range(len(self.buffers)):
                self.keep(b"PRE ", k)

    def wrap(self, name, function, buffers):
        def logged(*args):
            described = []
            for a in args:
                if type(a) is int:
                    described.append(a)
                elif buffers and type(a) in BUFFERS:
                    described.append("#%d" % self.number(a))
                else:
                    described.append(None)
            returned = function(*args)
            self.calls += 1
            self.chunk(b"CALL", json.dumps([name, described, returned]).encode())
            return returned

        return logged


def main():
    out = open(SETTINGS["OUT"], "wb")
    rec = Recorder(out, SETTINGS.get("SAMPLE"))
    model = Decoder.load(SETTINGS["MODEL"])
    owner = {}
    for module_name, module in MODULES:
        for name in dir(module):
            function = getattr(module, name)
            if name.startswith("_") or not callable(function) or type(function) is type:
                continue
            if function is const:  # imported by the module, not one of its functions
                continue
            owner[name] = module_name
            wrapped = rec.wrap(name, function, module is not _memory)
            setattr(module, name, wrapped)
            if getattr(decoder_module, name, None) is function:  # imported by name
                setattr(decoder_module, name, wrapped)
    header = {k: getattr(model, k) for k in ("dim", "heads", "layers", "hidden", "context")}
    header["vocab"] = len(model.vocab)
    rec.chunk(b"META", json.dumps({"header": header, "functions": owner}).encode())
    feed = model.feed

    def feed_logged(token, logits=True):
        rec.start_segment(token, logits, model.position)
        feed(token, logits)

    model.feed = feed_logged
    generated = bytearray(SETTINGS["ROOM"])
    prompt = SETTINGS["PROMPT"]
    if type(prompt) is str:
        prompt = model.encode(prompt)
    count = model.generate_into(prompt, generated)
    rec.end_segment()
    rec.chunk(b"DONE", json.dumps([rec.segment + 1, rec.calls, list(generated[:count])]).encode())
    out.close()
    print("feeds %d, calls %d, generated %d" % (rec.segment + 1, rec.calls, count))


main()
