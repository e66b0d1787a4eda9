# SPDX-License-Identifier: GPL-3.0-or-later
"""Read a big kernel table ahead of the caller, in a forked child, while the caller counts.

Reading a big kernel table is mostly kernel work done inside system calls: a sock_diag ``recv`` fills the next
datagram of the dump, a ``read`` of /proc/net/nf_conntrack formats entries as text. Done in the counting process,
the kernel and the counting wait for each other. A child process made with ``fork`` does the reading on the other
CPU and passes what it reads through a pipe; the caller reads the pipe in large pieces and counts.

Why a process and not a thread: a thread needs the GIL back after every system call, and the counting runs long C
calls (``re.findall``, ``Counter``) that hold it, and a /proc seq file gives one page (about 4 KB) per ``read``:
a thread gained nothing for conntrack and little for sock_diag (measured: docs/conntrack_facts.md and
docs/netstat_facts.md, "Performance").

The child copies items into the pipe as frames (a 4-byte length, then the bytes), ends with an end frame, and sends
an error of the reading as a pickled exception frame, raised in the caller. Memory stays bounded by the pipe (1 MB
asked). A caller that stops early closes the pipe, which ends the child; the child is always waited for. Where no
child can be made (a process limit), the items are read in the caller. Standard library only.

Fork only from a process without other threads running (the callers make sure): the child runs nothing but
``os.read``/``os.write``, the producer it was given, and ``pickle`` (imported here, so the child never imports).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import pickle
import struct

PIPE_BYTES = 1 << 20  # asked for the pipe (F_SETPIPE_SZ; the kernel may grant less, 64 KB works too)
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
_LENGTH = struct.Struct("=I")
_END = 0xFFFFFFFF  # frame length values that are not lengths
_ERROR = 0xFFFFFFFE


def child_read_ahead(produce):
    """Yield the byte strings of ``produce()`` (an iterator made and run in the child), in order."""
    try:
        reader, writer = os.pipe()
    except OSError:
        yield from produce()
        return
    try:
        with contextlib.suppress(OSError):
            fcntl.fcntl(writer, F_SETPIPE_SZ, PIPE_BYTES)
        child = os.fork()
    except OSError:  # no child (EAGAIN, ENOMEM): read here
        os.close(reader)
        os.close(writer)
        yield from produce()
        return
    if child == 0:  # pragma: no cover - the child's side is exercised by the tests through what it sends
        _serve(produce, writer, reader)
    os.close(writer)
    try:
        with os.fdopen(reader, "rb", buffering=PIPE_BYTES) as pipe:
            yield from _frames(pipe)
    finally:
        os.waitpid(child, 0)  # the pipe is closed first: a child still writing gets EPIPE and ends


def file_read_ahead(path, chunk_size):
    """Yield the bytes of a file in pieces of about ``chunk_size``, read in a child (child_read_ahead).

    The file is opened here, so a missing file or a denied read raises before any child exists."""
    source = os.open(path, os.O_RDONLY)
    try:
        yield from child_read_ahead(lambda: _pieces(source, chunk_size))
    except OSError as error:
        if error.filename is not None:
            raise
        raise OSError(error.errno, error.strerror, path) from error  # a read error in the child: name the file
    finally:
        os.close(source)


def _frames(pipe):
    while True:
        (size,) = _LENGTH.unpack(_exactly(pipe, 4))
        if size == _END:
            return
        if size == _ERROR:
            (size,) = _LENGTH.unpack(_exactly(pipe, 4))
            raise pickle.loads(_exactly(pipe, size))  # sent by our own child: trusted
        yield _exactly(pipe, size)


def _exactly(pipe, size):
    data = pipe.read(size)  # buffered: waits for ``size`` bytes or the end
    if len(data) != size:
        raise OSError(errno.EIO, "the reading process ended before its end frame")
    return data


def _pieces(source, chunk_size):
    """Pieces of a file of about chunk_size bytes (a /proc seq file returns a page per read)."""
    pending = []
    pending_bytes = 0
    while True:
        data = os.read(source, 1 << 16)
        if not data:
            break
        pending.append(data)
        pending_bytes += len(data)
        if pending_bytes >= chunk_size:
            yield b"".join(pending)
            pending = []
            pending_bytes = 0
    if pending:
        yield b"".join(pending)


def _serve(produce, writer, reader):
    """The child: send every item, then the end frame or the error; exit without running the parent's exit
    handlers or flushing its buffers (os._exit). Never returns."""
    code = 0
    try:
        os.close(reader)
        for data in produce():
            _write_all(writer, _LENGTH.pack(len(data)) + data)
        _write_all(writer, _LENGTH.pack(_END))
    except BrokenPipeError:
        pass  # the caller stopped reading
    except Exception as error:  # the caller raises it
        try:
            payload = pickle.dumps(error)
        except Exception:  # an exception that does not pickle: its text
            payload = pickle.dumps(OSError(errno.EIO, "%s: %s" % (type(error).__name__, error)))
        try:
            _write_all(writer, _LENGTH.pack(_ERROR) + _LENGTH.pack(len(payload)) + payload)
        except OSError:
            code = 1
    except BaseException:
        code = 1
    os._exit(code)


def _write_all(descriptor, data):
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]
