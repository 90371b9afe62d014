"""The package as a target gets it: a folder for the unix port, a ROMFS image for QEMU.

- folder(form, arch, mpy_cross, out): firmware/ itself for the .py form; for .mpy, every
  source compiled with mpy-cross -march=arch into out/attention/ (model files copied).
- romfs_image(root): a ROMFS image (mpremote's VfsRomWriter, as `mpremote romfs build`
  writes) holding lib/attention/ from root/attention; the qemu port mounts it at /rom,
  with /rom/lib on sys.path.
"""

import subprocess
from pathlib import Path

from ports import project

ROMFS_LIMIT = 0x400000  # the ROMFS partition of both qemu boards is 4 MB


class PackageError(Exception):
    pass


def compile_mpy(mpy_cross, arch, out, src=project.PACKAGE):
    """out/attention/*.mpy for every source of the package (and its model files)."""
    src, pkg = Path(src), Path(out) / Path(src).name
    pkg.mkdir(parents=True, exist_ok=True)
    for old in pkg.rglob("*"):
        if old.is_file():
            old.unlink()
    for rel in project.package_files(src):
        if rel.suffix == ".bin":
            (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
            (pkg / rel).write_bytes((src / rel).read_bytes())
            continue
        target = pkg / rel.with_suffix(".mpy")
        target.parent.mkdir(parents=True, exist_ok=True)
        name = (Path(src.name) / rel).as_posix()
        cmd = [str(mpy_cross), "-march=" + arch, "-s", name, "-o", str(target), str(src / rel)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode:
            raise PackageError("mpy-cross failed on %s: %s" % (src / rel, done.stderr.strip()))
    return Path(out)


def folder(form, arch=None, mpy_cross=None, out=None):
    """The folder that holds attention/ in the given form (".py" or ".mpy")."""
    if form == ".py":
        return project.FIRMWARE
    return compile_mpy(mpy_cross, arch, out)


def romfs_image(root, package="attention"):
    """Bytes of a ROMFS image with lib/<package>/ holding root/<package>'s files."""
    from mpremote.romfs import VfsRomWriter

    src = Path(root) / package
    files = sorted(p for p in src.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    writer = VfsRomWriter()
    writer.opendir("lib")
    _add(writer, src, package, files)
    writer.closedir()
    image = writer.finalise()
    if len(image) > ROMFS_LIMIT:
        raise PackageError("the ROMFS image is %d bytes, more than the partition" % len(image))
    return image


def _add(writer, folder, name, files):
    writer.opendir(name)
    for path in files:
        if path.parent == folder:
            writer.mkfile(path.name, path.read_bytes())
    for sub in sorted({p.relative_to(folder).parts[0] for p in files if p.parent != folder}):
        _add(writer, folder / sub, sub, [p for p in files if folder / sub in p.parents])
    writer.closedir()


def write_image(root, path):
    data = romfs_image(root)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(data)
    return Path(path)
