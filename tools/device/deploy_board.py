"""The package's folders on a board, for tools/board/deploy.py: what is there, a staging
folder filled beside /lib/attention, then swapped in by two renames.

/lib/attention is only ever replaced whole: the new files gather in /lib/.attention-new,
and when every one is there with the hash it should have, /lib/attention becomes
/lib/.attention-old, /lib/.attention-new becomes /lib/attention and the old folder is
removed. Cut anywhere, the board holds the old package or the new one (between the two
renames, for an instant, neither under its name: the next deploy finds both folders).

The host puts ACTION and its arguments in front of this file:
- ACTION = "inventory": one line per file of the three folders, ("F", folder, name,
  size, sha256 hex), and ("I", folder, name, bytes) with the package's __init__ file;
- ACTION = "stage", COPY = [(name, from folder)], DELETE = [name]: makes the staging
  folder, removes DELETE from it and copies COPY into it (files the board has already);
- ACTION = "swap", WANT = {name: sha256 hex}: checks that the staging folder holds
  exactly WANT, then swaps it in; prints ("OK",) or ("BAD", name, why) and raises.
"""

import os

try:
    import hashlib
except ImportError:  # a firmware without hashlib: sizes only, every file is sent
    hashlib = None
from binascii import hexlify

LIB = "/lib"
FOLDERS = {
    "live": LIB + "/attention",
    "new": LIB + "/.attention-new",
    "old": LIB + "/.attention-old",
}
CHUNK = 512


def is_dir(path):
    try:
        return os.stat(path)[0] & 0x4000 != 0
    except OSError:
        return None  # nothing there


def files(folder, prefix=""):
    """(name relative to folder, size) of every file below folder."""
    for entry in os.ilistdir(folder):
        name, kind = entry[0], entry[1]
        path = folder + "/" + name
        if kind == 0x4000:
            yield from files(path, prefix + name + "/")
        else:
            yield prefix + name, os.stat(path)[6]


def sha256(path):
    if hashlib is None:
        return None
    h = hashlib.sha256()
    buf = bytearray(CHUNK)
    with open(path, "rb") as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            h.update(buf if n == CHUNK else buf[:n])
    return hexlify(h.digest()).decode()


def inventory():
    for key, folder in FOLDERS.items():
        if not is_dir(folder):
            continue
        for name, size in files(folder):
            path = folder + "/" + name
            print(repr(("F", key, name, size, sha256(path))))
            if name in ("__init__.py", "__init__.mpy"):
                with open(path, "rb") as f:
                    print(repr(("I", key, name, f.read(2048))))


def make_dirs(path):
    at = ""
    for part in path.strip("/").split("/"):
        at += "/" + part
        if not is_dir(at):
            os.mkdir(at)


def copy(src, dst):
    buf = bytearray(CHUNK)
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while True:
            n = fin.readinto(buf)
            if not n:
                break
            fout.write(buf if n == CHUNK else buf[:n])


def remove(path):
    kind = is_dir(path)
    if kind is None:
        return
    if kind:
        for entry in os.ilistdir(path):
            remove(path + "/" + entry[0])
        os.rmdir(path)
    else:
        os.remove(path)


def stage(copies, deletes):
    new = FOLDERS["new"]
    make_dirs(new)
    for name in deletes:
        remove(new + "/" + name)
    for name, source in copies:
        if "/" in name:
            make_dirs(new + "/" + name.rsplit("/", 1)[0])
        copy(FOLDERS[source] + "/" + name, new + "/" + name)
    print(repr(("OK",)))


def swap(want):
    new, live, old = FOLDERS["new"], FOLDERS["live"], FOLDERS["old"]
    found = dict(files(new)) if is_dir(new) else {}
    for name in want:
        if name not in found:
            print(repr(("BAD", name, "missing")))
            raise OSError("staging incomplete")
        if sha256(new + "/" + name) not in (want[name], None):
            print(repr(("BAD", name, "differs")))
            raise OSError("staging differs")
    for name in found:
        if name not in want:
            remove(new + "/" + name)
    if is_dir(live):
        remove(old)  # a folder an earlier cut swap left behind
        os.rename(live, old)
    os.rename(new, live)
    remove(old)
    print(repr(("OK",)))


ACTION = globals().get("ACTION", "inventory")
if ACTION == "inventory":
    inventory()
elif ACTION == "stage":
    stage(globals().get("COPY", []), globals().get("DELETE", []))
elif ACTION == "swap":
    swap(globals().get("WANT", {}))
