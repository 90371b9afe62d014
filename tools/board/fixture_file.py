"""Fixture files of recorded outputs: their names, their layout, and when to rewrite them.

A fixture is named after the chip that recorded it and the native code it runs:
esp32-xtensawin.json, esp32s3-xtensawin.json, esp32c3-rv32imc.json, linux-x64.json.
It is written indented, one case per line, so that a diff shows which cases changed,
and it is left alone when a new recording differs only in its date.
"""

import json
import re

_WITH_CHIP = re.compile(r" with (\S+)\s*$")


def chip(target):
    """The chip a target reported, e.g. 'esp32s3' from 'Generic ESP32S3 module with ESP32S3'
    (os.uname().machine on the esp32 port); the platform ('linux') when it names none."""
    found = _WITH_CHIP.search(target.get("machine") or "")
    if found:
        return re.sub(r"[^a-z0-9]", "", found.group(1).lower())
    return target["platform"]


def file_name(target, built=None):
    """The fixture file name for a target: <chip>-<mpy arch>.json; for one built from
    source (make ports), -<variant> (a build the chip alone does not tell apart) and
    -heap-<range> (low, mid, high: where its heap was) follow."""
    name = "%s-%s" % (chip(target), target.get("mpy_arch", "bytecode"))
    if built:
        if built.get("variant"):
            name += "-" + built["variant"]
        name += "-heap-" + built["heap"]
    return name + ".json"


def dumps(fixture):
    """Indented JSON text with one case per line."""
    provenance = json.dumps(fixture["provenance"], indent=2, sort_keys=True)
    cases = ",\n".join("    " + json.dumps(case, sort_keys=True) for case in fixture["cases"])
    return '{\n  "provenance": %s,\n  "cases": [\n%s\n  ]\n}\n' % (
        provenance.replace("\n", "\n  "),
        cases,
    )


def without_date(fixture):
    provenance = dict(fixture["provenance"])
    provenance.pop("recorded", None)
    return dict(fixture, provenance=provenance)


def write(path, fixture):
    """Write ``fixture`` to ``path`` unless the file there differs from it only in the date
    (old compact files included); returns True if written."""
    try:
        with open(path) as f:
            old = json.load(f)
    except (OSError, ValueError):
        old = None
    if old is not None and without_date(old) == without_date(fixture):
        return False
    with open(path, "w") as f:
        f.write(dumps(fixture))
    return True
