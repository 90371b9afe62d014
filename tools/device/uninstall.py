"""Remove /lib/attention from a board, if present, before a new version is copied."""

import os


def remove(path):
    try:
        mode = os.stat(path)[0]
    except OSError:
        return
    if mode & 0x4000:  # a directory
        for name in os.listdir(path):
            remove(path + "/" + name)
        os.rmdir(path)
    else:
        os.remove(path)


try:
    os.mkdir("/lib")
except OSError:
    pass
remove("/lib/attention")
