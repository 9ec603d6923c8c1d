#!/usr/bin/python3
"""A FUSE file system that loses what was not synced, for crash tests.

    lossyfs.py BACKING MOUNTPOINT

Passes everything through to the BACKING directory, except file contents: writes to a file are
kept in this process's memory (the "page cache") until the file is fsynced or fdatasynced, and only
then written to BACKING. Kill this process with SIGKILL and unmount: everything acknowledged by a
sync is in BACKING, everything else is gone, as after a power cut. Mount it again on the same
BACKING to "reboot". Directory entries (create, rename, unlink) go through at once: only data loss
is modelled (the order of renames and directory syncs is checked under strace instead).

Runs in the foreground; needs Debian's python3-fusepy and fuse. Test tooling, not product code.
"""
import errno
import os
import sys
import threading

from fusepy import FUSE, FuseOSError, Operations  # Debian: python3-fusepy


class Dirty:
    """The unsynced image of one file: its durable content plus the writes since."""

    def __init__(self, path):
        with open(path, 'rb') as f:
            self.data = bytearray(f.read())
        self.opens = 0


class LossyFS(Operations):
    def __init__(self, backing):
        self.backing = os.path.realpath(backing)
        self.dirty = {}  # backing path -> Dirty
        self._mutex = threading.RLock()

    def _p(self, path):
        return os.path.join(self.backing, path.lstrip('/'))

    def _image(self, p):
        d = self.dirty.get(p)
        if d is None:
            d = self.dirty[p] = Dirty(p)
        return d

    # -- metadata, passed through
    def getattr(self, path, fh=None):
        p = self._p(path)
        try:
            st = os.lstat(p)
        except OSError as e:
            raise FuseOSError(e.errno)
        attrs = {k: getattr(st, k) for k in ('st_atime', 'st_ctime', 'st_gid', 'st_mode', 'st_mtime', 'st_nlink', 'st_uid')}
        with self._mutex:
            d = self.dirty.get(p)
            attrs['st_size'] = len(d.data) if d is not None else st.st_size
        return attrs

    def access(self, path, mode):
        if not os.access(self._p(path), mode):
            raise FuseOSError(errno.EACCES)

    def readdir(self, path, fh):
        return ['.', '..'] + os.listdir(self._p(path))

    def mkdir(self, path, mode):
        os.mkdir(self._p(path), mode)

    def rmdir(self, path):
        os.rmdir(self._p(path))

    def chmod(self, path, mode):
        os.chmod(self._p(path), mode)

    def chown(self, path, uid, gid):
        os.chown(self._p(path), uid, gid)

    def utimens(self, path, times=None):
        os.utime(self._p(path), times)

    def statfs(self, path):
        st = os.statvfs(self._p(path))
        return {k: getattr(st, k) for k in ('f_bavail', 'f_bfree', 'f_blocks', 'f_bsize', 'f_favail', 'f_ffree', 'f_files', 'f_flag', 'f_frsize', 'f_namemax')}

    def unlink(self, path):
        p = self._p(path)
        with self._mutex:
            os.unlink(p)
            self.dirty.pop(p, None)

    def rename(self, old, new):
        po, pn = self._p(old), self._p(new)
        with self._mutex:
            os.rename(po, pn)
            d = self.dirty.pop(po, None)
            self.dirty.pop(pn, None)
            if d is not None:
                self.dirty[pn] = d

    def link(self, target, name):
        os.link(self._p(name), self._p(target))

    def symlink(self, name, target):
        os.symlink(target, self._p(name))

    def readlink(self, path):
        return os.readlink(self._p(path))

    # -- files: contents live in memory until synced
    def create(self, path, mode, fi=None):
        p = self._p(path)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        os.close(fd)
        with self._mutex:
            self.dirty.pop(p, None)
            self._image(p).opens += 1
        return 0

    def open(self, path, flags):
        p = self._p(path)
        if not os.path.exists(p):
            raise FuseOSError(errno.ENOENT)
        with self._mutex:
            d = self._image(p)
            d.opens += 1
            if flags & os.O_TRUNC:
                d.data = bytearray()
        return 0

    def read(self, path, size, offset, fh):
        with self._mutex:
            d = self._image(self._p(path))
            return bytes(d.data[offset:offset + size])

    def write(self, path, data, offset, fh):
        with self._mutex:
            d = self._image(self._p(path))
            end = offset + len(data)
            if end > len(d.data):
                d.data.extend(b'\0' * (end - len(d.data)))
            d.data[offset:end] = data
            return len(data)

    def truncate(self, path, length, fh=None):
        with self._mutex:
            d = self._image(self._p(path))
            if length < len(d.data):
                del d.data[length:]
            else:
                d.data.extend(b'\0' * (length - len(d.data)))

    def fsync(self, path, datasync, fh):
        p = self._p(path)
        with self._mutex:
            d = self.dirty.get(p)
            if d is None or not os.path.isfile(p):
                return 0  # a directory, or nothing written
            with open(p, 'r+b') as f:
                f.write(d.data)
                f.truncate(len(d.data))
                f.flush()
                os.fsync(f.fileno())
        return 0

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        with self._mutex:
            d = self.dirty.get(self._p(path))
            if d is not None:
                d.opens -= 1
        return 0

    def fsyncdir(self, path, datasync, fh):
        return 0


if __name__ == '__main__':
    backing, mountpoint = sys.argv[1], sys.argv[2]
    # Without FUSE's writeback cache every write() reaches this process as it is made; shared
    # mmaps (SQLite's -shm file) are written back through write() too, and need no durability.
    FUSE(LossyFS(backing), mountpoint, foreground=True, nothreads=False)
