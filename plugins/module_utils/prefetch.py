# SPDX-License-Identifier: GPL-3.0-or-later
"""Read ahead of the caller while it counts: the kernel's work and Python's on two CPUs.

Reading a big kernel table is mostly kernel work done inside system calls (a sock_diag ``recv`` filling a datagram,
a ``read`` of /proc/net/nf_conntrack formatting entries as text). Done in the caller's thread, the kernel and the
counting wait for each other. Two ways to overlap them:

- prefetched(): a helper thread takes items from an iterator. System calls release the GIL, so this pays when each
  call does much work: a sock_diag ``recv`` returns about 32 KB. The counting runs long C calls (``Counter``) that
  hold the GIL, so while a table is read the switch interval is lowered (else the helper waits up to 5 ms for the
  GIL after every call) and restored afterwards.
- file_read_ahead(): a forked child reads a file into a pipe. A /proc seq file returns one page (about 4 KB) per
  ``read`` whatever was asked, so a thread would need the GIL back 4,000 times for 17 MB, each time waiting for the
  counting's C call to end: measured, no gain at all. A child process has no GIL to wait for; the caller reads the
  pipe in large pieces.

Both keep memory bounded (a queue of ``depth`` items; a pipe of at most 1 MB), raise an error of the reading in the
caller, and stop the helper when the caller stops early. Standard library only.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import queue
import sys
import threading

# How long a thread may hold the GIL before another one waiting for it gets it, while a table is read ahead.
SWITCH_INTERVAL = 0.0002
PIPE_BYTES = 1 << 20  # asked for the read-ahead pipe (F_SETPIPE_SZ; the kernel may grant less)
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


class _End:
    """What the helper queues last: the error that ended the reading, or None."""

    def __init__(self, error):
        self.error = error


def prefetched(items, depth, name="netdiag-prefetch"):
    """Yield the items of an iterator, taken from it in a helper thread ahead of the caller (at most ``depth``)."""
    waiting = queue.Queue(depth)
    stop = threading.Event()

    def offer(item):
        """Queue an item unless the caller stopped reading (then False)."""
        while not stop.is_set():
            try:
                waiting.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def read_ahead():
        failure = None
        try:
            for item in items:
                if not offer(item):
                    return
        except Exception as error:  # handed to the caller's thread
            failure = error
        offer(_End(failure))

    helper = threading.Thread(target=read_ahead, name=name, daemon=True)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, SWITCH_INTERVAL))
    helper.start()
    try:
        while True:
            item = waiting.get()
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item
    finally:
        stop.set()
        sys.setswitchinterval(interval)


def file_read_ahead(path, chunk_size):
    """Yield the bytes of a file in pieces of at most ``chunk_size``, read by a forked child into a pipe.

    The file is opened here first, so a missing file or a denied read raises before any child exists. Where a child
    cannot be made (no fork, a process limit) the file is read in this process. A read error in the child ends it
    with the error number, raised here as OSError once the pipe is drained."""
    source = os.open(path, os.O_RDONLY)
    try:
        reader, writer = os.pipe()
    except OSError:
        os.close(source)
        raise
    try:
        with contextlib.suppress(OSError):  # a smaller pipe (the default 64 KB) works too
            fcntl.fcntl(writer, F_SETPIPE_SZ, PIPE_BYTES)
        child = os.fork()
    except OSError:
        os.close(reader)
        os.close(writer)
        yield from _read_here(source, chunk_size)
        return
    if child == 0:  # pragma: no cover - the child's side is exercised by the tests through its output
        _copy_and_exit(source, writer, reader)
    os.close(writer)
    os.close(source)
    status = None
    try:
        # Buffered: read(n) waits for n bytes (or the end), so the caller gets few large pieces, not one per write.
        with os.fdopen(reader, "rb") as pipe:
            while True:
                data = pipe.read(chunk_size)
                if not data:
                    break
                yield data
        status = os.waitpid(child, 0)[1]
    finally:
        if status is None:  # the caller stopped early: the pipe is closed, the child ends on its next write
            os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status >> 8
    if code:
        number = code if code > 0 else errno.EIO
        raise OSError(number, "%s (while reading ahead)" % os.strerror(number), path)


def _read_here(source, chunk_size):
    try:
        while True:
            data = os.read(source, chunk_size)
            if not data:
                return
            yield data
    finally:
        os.close(source)


def _copy_and_exit(source, writer, reader):
    """The child: copy the file into the pipe, exit with 0 or the error number; never returns, never runs the
    parent's exit handlers or flushes its buffers (os._exit)."""
    code = 0
    try:
        os.close(reader)
        while True:
            data = os.read(source, 1 << 16)
            if not data:
                break
            view = memoryview(data)
            while view:
                view = view[os.write(writer, view) :]
    except OSError as error:
        code = (error.errno or errno.EIO) & 0x7F
    except BaseException:
        code = errno.EIO
    os._exit(code)
