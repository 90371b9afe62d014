"""Remove /lib/attention from a board, with what a cut deploy left beside it, saying what went.

`make uninstall PORT=...` (tools/board/deploy.py --uninstall, which names the version first).
"""

import os

FOLDERS = ("/lib/attention", "/lib/.attention-new", "/lib/.attention-old")


def remove(path):
    """Remove a file or a folder with all it holds; the number of files removed."""
    try:
        mode = os.stat(path)[0]
    except OSError:
        return 0
    if not mode & 0x4000:  # a file
        os.remove(path)
        return 1
    count = 0
    for name in os.listdir(path):
        count += remove(path + "/" + name)
    os.rmdir(path)
    return count


for folder in FOLDERS:
    count = remove(folder)
    if count:
        print("removed %s (%d files)" % (folder, count))
