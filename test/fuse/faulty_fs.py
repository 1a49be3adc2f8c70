#!/usr/bin/python3
# Read-only FUSE filesystem for tests: serves one backing file, fails reads of chosen pages with EIO and counts reads per page.
#
# Usage: faulty_fs.py CONFIG_JSON MOUNTPOINT   (foreground; ends when unmounted, on SIGTERM, or at EOF on stdin,
#        so by hand keep stdin open: `sleep infinity | faulty_fs.py cfg.json mnt`)
# Config: {"backing", "name", "pageSize", "badPages": [file offsets], "slowReads": {"everyNth", "sleepMs"}, "countsFile",
#          "directIo" (default true; false serves through the page cache, so a failing page makes an mmap fault fail: SIGBUS)}
# SIGUSR1 writes the counts to countsFile; they are written again after unmount.

import errno
import json
import os
import signal
import stat
import sys
import threading
import time

# The Debian package python3-fusepy installs the module as "fusepy" (upstream's pip package calls it "fuse").
from fusepy import FUSE, FuseOSError, Operations

# Counts saturate here: one byte per page keeps a multi-GiB backing file cheap, and any count past 2 already fails the tests.
MAX_COUNT = 255
# Enough for the requests of every read(2) in flight at once.
RECENT_ENDS_KEPT = 256
# Blocked in helper threads so that process-directed signals reach the thread libfuse waits in.
LIBFUSE_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}


def load_config(path):
    with open(path, encoding='utf-8') as f:
        cfg = json.load(f)
    page_size = int(cfg.get('pageSize', 4096))
    if page_size <= 0 or page_size & (page_size - 1):
        raise ValueError(f'{path}: pageSize {page_size} is not a power of two')
    for offset in cfg.get('badPages', []):
        if not isinstance(offset, int) or offset < 0 or offset % page_size:
            raise ValueError(f'{path}: bad page {offset!r} is not a page-aligned file offset (pageSize {page_size})')
    slow = cfg.get('slowReads') or {}
    return {
        'backing': cfg['backing'],
        'name': cfg.get('name', 'vmcore'),
        'page_size': page_size,
        'bad_pages': {offset // page_size for offset in cfg.get('badPages', [])},
        'every_nth': int(slow.get('everyNth', 0)),
        'sleep_s': float(slow.get('sleepMs', 0)) / 1000,
        'counts_file': cfg['countsFile'],
        'direct_io': bool(cfg.get('directIo', True)),
    }


class FaultyFs(Operations):
    use_ns = True  # silences fusepy's deprecation warning; utimens is never called on a read-only fs

    def __init__(self, cfg):
        self.cfg = cfg
        self.page_size = cfg['page_size']
        self.fd = os.open(cfg['backing'], os.O_RDONLY)
        st = os.fstat(self.fd)
        self.size = st.st_size
        self.mtime = st.st_mtime_ns
        self.path = '/' + cfg['name']
        pages = -(-self.size // self.page_size)
        self.counts = bytearray(pages)
        self.request_sizes = {}
        self.requests = 0
        # End offsets of recent requests, oldest first: see read().
        self.recent_ends = {}
        self.generation = 0
        self.count_lock = threading.Lock()
        self.dump_mutex = threading.Lock()

    def getattr(self, path, fh=None):
        if path == '/':
            return {'st_mode': stat.S_IFDIR | 0o555, 'st_nlink': 2, 'st_size': 0,
                    'st_mtime': self.mtime, 'st_ctime': self.mtime, 'st_atime': self.mtime}
        if path == self.path:
            return {'st_mode': stat.S_IFREG | 0o444, 'st_nlink': 1, 'st_size': self.size,
                    'st_mtime': self.mtime, 'st_ctime': self.mtime, 'st_atime': self.mtime}
        raise FuseOSError(errno.ENOENT)

    def readdir(self, path, fh):
        if path != '/':
            raise FuseOSError(errno.ENOTDIR)
        return ['.', '..', self.cfg['name']]

    def open(self, path, flags):
        if path != self.path:
            raise FuseOSError(errno.ENOENT)
        if flags & os.O_ACCMODE != os.O_RDONLY:
            raise FuseOSError(errno.EROFS)
        return 0

    def read(self, path, size, offset, fh):
        if path != self.path:
            raise FuseOSError(errno.ENOENT)
        end = min(offset + size, self.size)
        first = offset // self.page_size
        last = (end - 1) // self.page_size  # inclusive; below first when the request is at or past EOF
        with self.count_lock:
            self.requests += 1
            nth = self.requests
            self.request_sizes[size] = self.request_sizes.get(size, 0) + 1
            # The kernel splits a direct read(2) at the reader's buffer page boundaries, so when the buffer is not page-aligned
            # one read(2) sends requests that meet inside a file page; that page was read once, not twice.
            counted_from = first + 1 if offset % self.page_size and self.recent_ends.pop(offset, False) else first
            self.recent_ends[offset + size] = True
            if len(self.recent_ends) > RECENT_ENDS_KEPT:
                del self.recent_ends[next(iter(self.recent_ends))]
            counts = self.counts
            for page in range(counted_from, last + 1):
                if counts[page] < MAX_COUNT:
                    counts[page] += 1
        if self.cfg['every_nth'] > 0 and nth % self.cfg['every_nth'] == 0:
            time.sleep(self.cfg['sleep_s'])
        if any(page in self.cfg['bad_pages'] for page in range(first, last + 1)):
            raise FuseOSError(errno.EIO)
        if end <= offset:
            return b''
        return os.pread(self.fd, end - offset, offset)

    def write_counts(self):
        with self.dump_mutex:
            with self.count_lock:
                counts = bytes(self.counts)
                sizes = dict(self.request_sizes)
                requests = self.requests
            self.generation += 1
            ps = self.page_size
            report = {
                'generation': self.generation,
                'pageSize': ps,
                'pages': len(counts),
                'maxReads': max(counts, default=0),
                'pagesRead': len(counts) - counts.count(0),
                'requests': requests,
                'requestSizes': {str(k): v for k, v in sorted(sizes.items())},
                'counts': {str(i * ps): c for i, c in enumerate(counts) if c > 1 or i in self.cfg['bad_pages']},
            }
            target = self.cfg['counts_file']
            tmp = f'{target}.tmp-{os.getpid()}'
            with open(tmp, 'w', encoding='utf-8') as f:
                json.dump(report, f)
            os.replace(tmp, target)


def helper_thread(target):
    def run():
        signal.pthread_sigmask(signal.SIG_BLOCK, LIBFUSE_SIGNALS)
        target()
    threading.Thread(target=run, daemon=True).start()


def main():
    if len(sys.argv) != 3:
        print('usage: faulty_fs.py CONFIG_JSON MOUNTPOINT', file=sys.stderr)
        return 2
    cfg = load_config(sys.argv[1])
    fs = FaultyFs(cfg)

    # A Python signal handler would never run while the main thread sits inside fuse_main, so a thread waits for SIGUSR1 instead;
    # blocking it first makes every libfuse thread inherit the block.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})

    def dump_on_sigusr1():
        while True:
            signal.sigwait({signal.SIGUSR1})
            fs.write_counts()

    # The parent holds our stdin open; EOF means it died, and SIGTERM makes libfuse unmount and return.
    def exit_when_parent_dies():
        # os.read, not sys.stdin: a thread blocked in the buffered reader holds its lock and stalls interpreter shutdown.
        while os.read(0, 4096):
            pass
        os.kill(os.getpid(), signal.SIGTERM)

    helper_thread(dump_on_sigusr1)
    helper_thread(exit_when_parent_dies)
    fs.write_counts()  # an empty report before mounting, so a reader never waits for a file that is not there
    try:
        FUSE(fs, sys.argv[2], foreground=True, ro=True, direct_io=cfg['direct_io'],
             fsname='slimcore-faulty', subtype='faulty', default_permissions=True)
    finally:
        fs.write_counts()
    return 0


if __name__ == '__main__':
    sys.exit(main())
