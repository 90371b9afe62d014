"""Record the outputs of the case suite on a MicroPython target, with provenance.

    python tools/board/record.py                      # the local unix port (micropython)
    python tools/board/record.py --port /dev/ttyUSB0  # a board (the package must be deployed)

Runs tools/device/cases.py on the target, and writes
host_tests/fixtures/<chip>-<mpy arch>.json (tools/board/fixture_file.py: esp32s3-xtensawin.json,
esp32c3-rv32imc.json, linux-x64.json on the unix port), one case per line, holding, for every case, its
inputs and the outputs the target printed, plus what the target said about
itself (sys.implementation, sys.platform, os.uname().machine, mpy arch), a hash of
the firmware sources and the date. The host tests replay every fixture through
the CPython shim and demand identical outputs. A fixture whose only change would be
its date is left as it is.
"""

import argparse
import datetime
import hashlib
import json
import os
import sys

if __name__ == "__main__":  # run as a script: tools/ is the import root (tools/README.md)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from board import fixture_file, target

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIRMWARE = os.path.join(ROOT, "firmware")
FIXTURES = os.path.join(ROOT, "host_tests", "fixtures")


def source_hash():
    digest = hashlib.sha256()
    package = os.path.join(FIRMWARE, "attention")
    for name in sorted(os.listdir(package)):
        if name.endswith(".py"):
            digest.update(name.encode() + b"\0")
            with open(os.path.join(package, name), "rb") as f:
                digest.update(f.read())
    return digest.hexdigest()


def run_target(port=None, timeout=600):
    """The suite's JSON lines, as printed by the target."""
    done = target.run(["cases.py"], port, capture=True, timeout=timeout)
    if done.returncode:
        raise SystemExit("record: the target failed:\n%s%s" % (done.stdout, done.stderr))
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def build_fixture(lines, command):
    sys.path.insert(0, os.path.join(ROOT, "host_tests", "shim"))
    sys.path.insert(0, FIRMWARE)
    import micropython  # noqa: F401, PLC0415  (the shim, before the firmware imports array)
    from device import cases  # noqa: PLC0415  (needs the paths above)

    target = lines[0]["target"]
    outputs = {line["case"]: line["outputs"] for line in lines[1:]}
    if sorted(outputs) != list(range(len(cases.SUITE))):
        raise SystemExit(
            "record: the target printed %d of %d cases" % (len(outputs), len(cases.SUITE))
        )
    records = []
    for number, case in enumerate(cases.SUITE):
        query, keys, values = cases.inputs(case)
        records.append(
            {
                "case": list(case),
                "inputs": {"query": list(query), "keys": list(keys), "values": list(values)},
                "outputs": outputs[number],
            }
        )
    provenance = {
        "target": target,
        "firmware_sha256": source_hash(),
        "recorded": datetime.datetime.now(datetime.timezone.utc).date().isoformat(),
        "command": command,
    }
    return {"provenance": provenance, "cases": records}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", help="serial port of a board (default: the local unix port)")
    parser.add_argument("--out", help="fixture file (default: fixtures/<platform>-<arch>.json)")
    args = parser.parse_args()
    lines = run_target(args.port)
    command = "tools/board/record.py" + (" --port " + args.port if args.port else "")
    fixture = build_fixture(lines, command)
    target = fixture["provenance"]["target"]
    path = args.out or os.path.join(FIXTURES, fixture_file.file_name(target))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    written = fixture_file.write(path, fixture)
    print(
        "record: %d cases from %s %s (%s) -> %s%s"
        % (
            len(fixture["cases"]),
            target["implementation"],
            target["version"],
            target.get("machine"),
            os.path.relpath(path, ROOT),
            "" if written else " (unchanged: only the date would differ)",
        )
    )


if __name__ == "__main__":
    main()
