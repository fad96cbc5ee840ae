#!/usr/bin/python3
"""A pass-through FUSE file system whose fsync waits a fixed time before it syncs.

bench/slow-disk/mount.sh puts a loop device on an image file in this file system and an ext4 on the
loop device. ext4 then writes through the page cache as usual, and only its flushes (every fsync and
fdatasync a program makes there) reach this process, which sleeps --delay-ms and then fdatasyncs the
backing file. The result is a disk whose writes are as cheap as this machine's and whose flushes cost
what a network or cloud block device's do, to see how the runtime's group commit behaves when the
disk, not the CPU, is the limit.

Debian's python3-fusepy (module `fusepy`, over libfuse2) runs it; it needs root (or /dev/fuse access).
"""

import argparse
import os
import sys
import time

try:
    import fusepy as fuse  # Debian's name
except ImportError:  # pip's fusepy installs the module as `fuse`
    import fuse


class SlowSync(fuse.Operations):
    """Every call but fsync goes straight to the backing directory."""

    def __init__(self, backing, delay_seconds):
        self.backing = backing
        self.delay = delay_seconds

    def _path(self, path):
        return os.path.join(self.backing, path.lstrip("/"))

    def getattr(self, path, fh=None):
        st = os.lstat(self._path(path))
        keys = ("st_mode", "st_nlink", "st_uid", "st_gid", "st_size", "st_atime", "st_mtime", "st_ctime")
        return {key: getattr(st, key) for key in keys}

    def readdir(self, path, fh):
        return [".", ".."] + os.listdir(self._path(path))

    def statfs(self, path):
        st = os.statvfs(self._path(path))
        keys = ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree", "f_files", "f_flag",
                "f_frsize", "f_namemax")
        return {key: getattr(st, key) for key in keys}

    def create(self, path, mode, fi=None):
        return os.open(self._path(path), os.O_RDWR | os.O_CREAT, mode)

    def open(self, path, flags):
        return os.open(self._path(path), flags)

    def read(self, path, size, offset, fh):
        return os.pread(fh, size, offset)

    def write(self, path, data, offset, fh):
        return os.pwrite(fh, data, offset)

    def truncate(self, path, length, fh=None):
        os.truncate(self._path(path), length)

    def unlink(self, path):
        os.unlink(self._path(path))

    def fsync(self, path, datasync, fh):
        time.sleep(self.delay)
        os.fdatasync(fh)
        return 0

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        os.close(fh)
        return 0

    def chmod(self, path, mode):
        os.chmod(self._path(path), mode)

    def chown(self, path, uid, gid):
        os.chown(self._path(path), uid, gid)

    def utimens(self, path, times=None):
        os.utime(self._path(path), times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("backing", help="directory holding the real files")
    parser.add_argument("mountpoint")
    parser.add_argument("--delay-ms", type=float, default=1.0, help="time each fsync waits (default 1 ms)")
    args = parser.parse_args()
    if not os.path.isdir(args.backing):
        sys.exit(f"slowsync: {args.backing} is not a directory")
    if args.delay_ms < 0 or args.delay_ms > 1000:
        sys.exit("slowsync: --delay-ms must be between 0 and 1000")
    # Large writes: the loop device hands over whole bios, and 4 KiB requests would make this
    # process, not the flushes, the slow part.
    fuse.FUSE(SlowSync(args.backing, args.delay_ms / 1000), args.mountpoint, foreground=True, nothreads=False,
              big_writes=True, max_write=1024 * 1024)
    return 0


if __name__ == "__main__":
    sys.exit(main())
