"""The target's heap, for scripts that must run on a board with 110 KB (an ESP32 without PSRAM).

A helper joined in front of the scripts that name it. A script collects garbage between
its cases, sizes its buffers to what is free, and where a case needs more heap than the
target has it prints one line saying so (the heap it needs, the heap there is) and goes
on: running out of heap is a fact about the target, never a wrong result.
"""

import gc


def heap_free():
    """Bytes free after a collection (a large number where gc cannot tell)."""
    gc.collect()
    return gc.mem_free() if hasattr(gc, "mem_free") else 1 << 30


def heap_total():
    """Bytes of the whole heap, or 0 where gc cannot tell."""
    if not hasattr(gc, "mem_free"):
        return 0
    return gc.mem_free() + gc.mem_alloc()


def kb(count):
    return "%.1f KB" % (count / 1024)


def heap_words():
    """e.g. '61.2 KB free of 108.6 KB'."""
    free = heap_free()
    return "%s free of %s" % (kb(free), kb(heap_total()))


def skip_line(what, need, detail=""):
    """The line for a case left out because it needs `need` bytes (None: not known)."""
    needs = "needs about %s of heap" % kb(need) if need else "ran out of heap (MemoryError)"
    if detail:
        needs += " (%s)" % detail
    return "skipped %s: %s; the target has %s" % (what, needs, heap_words())


def loaded(load, path):
    """load(path) (a model), and the bytes of heap it keeps: measured where gc can tell,
    else what the model says it takes (its ram)."""
    free = heap_free() if hasattr(gc, "mem_free") else 0
    model = load(path)
    return model, free - heap_free() if free else model.ram


def room_for(need, reserve=2048):
    """Whether need bytes (and a little more for the case's small objects) are free."""
    return need + reserve <= heap_free()


def ran_out_line(what, free_before):
    """The line for a case that ran out of heap (MemoryError) part way."""
    return (
        "skipped %s: ran out of heap part way, needs more than the %s free when it began; %s"
        % (
            what,
            kb(free_before),
            "the target has %s" % heap_words(),
        )
    )
