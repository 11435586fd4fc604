"""A built-in ivshmem server: QEMU's ivshmem-doorbell protocol in pure Python.

Debian ships no ivshmem-server (it lives in QEMU's contrib/), so `west amp-run`
brings its own. The protocol is the one QEMU's docs/specs/ivshmem-spec.rst
describes. The connection is one way, server to client; every message is one
little-endian int64, some with one file descriptor (SCM_RIGHTS):

  on connect:  protocol version (0); the client's peer ID; -1 with the shared
               memory fd; for every other peer, its ID once per vector, each
               with that peer's eventfd for the vector (to interrupt it); the
               client's own ID once per vector with its own eventfds (to be
               interrupted on);
  later:       a peer ID with an fd (once per vector): that peer joined;
               a peer ID without an fd: that peer left.

Any byte from a client, or its hang-up, means it left.

Peer IDs: QEMU's server gives them in connection order, so whoever starts
first is peer 0. This one can be told which process gets which ID
(expect(pid, peer_id)): a connection is identified by the connecting process
(SO_PEERCRED, or one of its ancestors, for a QEMU run through a wrapper) and
held, unanswered, until its process is known. With no expectations at all it
behaves like QEMU's: the lowest free ID, in connection order.

The shared memory is new and zeroed for every server: a memfd by default, an
unlinked file in shm_dir (-m DIR), or the POSIX object /dev/shm/NAME (-M NAME).

This file imports nothing from zephyr_amp, so it also runs on its own with
ivshmem-server's options: python3 ivshmem_server.py -F -S SOCKET -m DIR -l SIZE -n N
"""

from __future__ import annotations

import argparse
import os
import selectors
import signal
import socket
import struct
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

PROTOCOL_VERSION = 0
MAX_PEER_ID = 0xffff
MAX_VECTORS = 64            # what QEMU's server allows (IVSHMEM_SERVER_MAX_VECTORS)
# QEMU's ivshmem-server defaults (contrib/ivshmem-server/main.c): -S, -l, -n
DEFAULT_SOCKET = "/tmp/ivshmem_socket"
DEFAULT_SIZE = 4 << 20
DEFAULT_VECTORS = 1
_CRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


def message(value: int) -> bytes:
    """One protocol message: a little-endian signed 64-bit number."""
    return struct.pack("<q", value)


@dataclass
class Peer:
    id: int
    pid: int
    conn: socket.socket
    eventfds: list = field(default_factory=list)


def parent_pid(pid: int) -> int | None:
    """The parent of pid from /proc/PID/stat, None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses
    return int(stat.rsplit(")", 1)[1].split()[1])


def open_shared_memory(size: int, shm_dir=None, shm_name=None, label="ivshmem") -> int:
    """A zeroed shared-memory fd of size bytes (see the module docstring)."""
    if shm_name:
        fd = os.open(f"/dev/shm/{shm_name.lstrip('/')}", os.O_RDWR | os.O_CREAT, 0o600)
    elif shm_dir:
        fd, path = tempfile.mkstemp(prefix=f"{label}.", dir=shm_dir)
        os.unlink(path)
    else:
        fd = os.memfd_create(label, os.MFD_CLOEXEC)
    try:
        os.ftruncate(fd, size)
    except OSError:
        os.close(fd)
        raise
    return fd


class IvshmemServer:
    """One listening socket, one shared memory, vectors eventfds per peer.

    start() binds and serves from a thread; stop() tells every client (by closing
    its connection), closes everything and removes the socket. on_event(text) is
    called from the server thread for every join and leave.
    """

    def __init__(self, socket_path, size: int, vectors: int, shm_dir=None, shm_name=None,
                 on_event: Callable[[str], None] | None = None):
        if not 0 <= vectors <= MAX_VECTORS:
            raise ValueError(f"vectors must be 0..{MAX_VECTORS}, not {vectors}")
        self.socket_path = str(socket_path)
        self.size = size
        self.vectors = vectors
        self.shm_dir = shm_dir
        self.shm_name = shm_name
        self.on_event = on_event or (lambda text: None)
        self.peers = {}             # id -> Peer
        self.expected = {}          # pid -> peer id
        self.pending = []           # (conn, pid) of processes not known yet
        self.joined = []            # every peer id that ever joined, in order
        self._lock = threading.Lock()
        self._sel = selectors.DefaultSelector()
        self._listener = None
        self._shm = None
        self._wake_r, self._wake_w = None, None
        self._thread = None
        self._stopping = False

    # -- life cycle ---------------------------------------------------------------

    def start(self) -> None:
        """Create the memory, bind the socket (OSError if it cannot) and serve."""
        self._shm = open_shared_memory(self.size, self.shm_dir, self.shm_name)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            bind_unix(listener, self.socket_path)
            listener.listen(16)
        except OSError:
            listener.close()
            os.close(self._shm)
            raise
        self._listener = listener
        self._wake_r, self._wake_w = os.pipe()
        self._sel.register(listener, selectors.EVENT_READ, "accept")
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._thread = threading.Thread(target=self._serve, name="ivshmem-server", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stopping = True
        os.write(self._wake_w, b"x")
        self._thread.join()
        self._thread = None
        with self._lock:
            for peer in list(self.peers.values()):
                self._drop(peer, notify=False)
            for conn, _ in self.pending:
                conn.close()
            self.pending.clear()
        self._sel.close()
        self._listener.close()
        for fd in (self._wake_r, self._wake_w, self._shm):
            os.close(fd)
        try:
            os.unlink(self.socket_path)
        except FileNotFoundError:
            pass

    def expect(self, pid: int, peer_id: int) -> None:
        """The process pid (or a descendant of it) gets peer_id when it connects."""
        if not 0 <= peer_id <= MAX_PEER_ID:
            raise ValueError(f"peer IDs are 0..{MAX_PEER_ID}, not {peer_id}")
        with self._lock:
            self.expected[pid] = peer_id
        if self._wake_w is not None:
            os.write(self._wake_w, b"e")

    # -- the server thread --------------------------------------------------------

    def _serve(self) -> None:
        while not self._stopping:
            for key, _ in self._sel.select():
                if key.data == "accept":
                    self._accept()
                elif key.data == "wake":
                    os.read(self._wake_r, 64)
                    with self._lock:
                        self._resolve_pending()
                else:
                    self._client_readable(key.data)

    def _accept(self) -> None:
        try:
            conn, _ = self._listener.accept()
        except OSError:
            return
        pid = _CRED.unpack(conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                           _CRED.size))[0]
        with self._lock:
            self.pending.append((conn, pid))
            self._resolve_pending()

    def _id_for(self, pid: int) -> int | None:
        """The peer ID for a connecting process, None to hold it for now."""
        if not self.expected:
            free = (i for i in range(MAX_PEER_ID + 1) if i not in self.peers)
            return next(free, None)
        # the process itself, then its ancestors up to (not including) the one
        # that runs this server, or init
        seen = set()
        while pid and pid > 1 and pid not in seen:
            if pid in self.expected:
                return self.expected[pid]
            seen.add(pid)
            pid = parent_pid(pid)
            if pid == os.getpid():
                break
        return None

    def _resolve_pending(self) -> None:
        still = []
        for conn, pid in self.pending:
            peer_id = self._id_for(pid)
            if peer_id is None:
                still.append((conn, pid))
            elif peer_id in self.peers:
                self.on_event(f"refused a second connection as peer {peer_id} (pid {pid})")
                conn.close()
            else:
                self._join(conn, pid, peer_id)
        self.pending = still

    def _join(self, conn: socket.socket, pid: int, peer_id: int) -> None:
        peer = Peer(peer_id, pid, conn,
                    [os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
                     for _ in range(self.vectors)])
        try:
            conn.sendall(message(PROTOCOL_VERSION) + message(peer_id))
            socket.send_fds(conn, [message(-1)], [self._shm])
            for other in self.peers.values():
                self._send_eventfds(other.conn, peer)
            for other in self.peers.values():
                self._send_eventfds(conn, other)
            self._send_eventfds(conn, peer)
        except OSError as e:
            self.on_event(f"peer {peer_id} (pid {pid}) failed during set-up: {e.strerror}")
            for fd in peer.eventfds:
                os.close(fd)
            conn.close()
            return
        self.peers[peer_id] = peer
        self.joined.append(peer_id)
        self._sel.register(conn, selectors.EVENT_READ, peer)
        self.on_event(f"peer {peer_id} joined (pid {pid})")

    def _send_eventfds(self, conn: socket.socket, peer: Peer) -> None:
        """peer's ID once per vector, each with the eventfd of that vector."""
        for fd in peer.eventfds:
            try:
                socket.send_fds(conn, [message(peer.id)], [fd])
            except OSError:
                pass            # that client is going away: its own event follows

    def _client_readable(self, peer: Peer) -> None:
        with self._lock:
            if self.peers.get(peer.id) is peer:
                self._drop(peer, notify=True)
                self.on_event(f"peer {peer.id} left (pid {peer.pid})")

    def _drop(self, peer: Peer, notify: bool) -> None:
        del self.peers[peer.id]
        try:
            self._sel.unregister(peer.conn)
        except (KeyError, ValueError):
            pass
        peer.conn.close()
        if notify:
            for other in self.peers.values():
                try:
                    other.conn.sendall(message(peer.id))
                except OSError:
                    pass
        for fd in peer.eventfds:
            os.close(fd)


def bind_unix(sock: socket.socket, path: str) -> None:
    """bind() a unix socket, also when the path is longer than sun_path allows."""
    _at_unix_path(sock.bind, path)


def connect_unix(sock: socket.socket, path: str) -> None:
    """connect() counterpart of bind_unix()."""
    _at_unix_path(sock.connect, path)


def _at_unix_path(call, path: str) -> None:
    """call(path), or for a path longer than sun_path allows, call() on it through the
    directory's /proc/self/fd entry."""
    if len(os.fsencode(path)) < 100:
        call(path)
        return
    parent, name = os.path.split(os.path.abspath(path))
    dfd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        call(f"/proc/self/fd/{dfd}/{name}")
    finally:
        os.close(dfd)


# -- command line (ivshmem-server's options) -----------------------------------------

def parse_size(text: str) -> int:
    """ivshmem-server's -l: bytes, or with a K, M or G suffix (powers of 1024)."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    t = text.strip().upper()
    scale = units.get(t[-1:], 1)
    digits = t[:-1] if t[-1:] in units else t
    if not digits.isdigit() or int(digits) == 0:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (bytes, or with K, M or G)")
    return int(digits) * scale


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="ivshmem_server.py",
        description="QEMU's ivshmem-server in Python (same options); always in the "
        "foreground. Peer IDs in connection order.")
    p.add_argument("-F", action="store_true", help="foreground (always; accepted for "
                   "compatibility)")
    p.add_argument("-v", action="store_true", help="print every join and leave")
    p.add_argument("-p", metavar="PIDFILE", help="write the server's pid here")
    p.add_argument("-S", metavar="SOCKET", default=DEFAULT_SOCKET,
                   help="unix socket to listen on")
    p.add_argument("-m", metavar="DIR", help="create the shared memory in DIR (unlinked)")
    p.add_argument("-M", metavar="NAME", help="POSIX shared memory object /dev/shm/NAME")
    p.add_argument("-l", metavar="SIZE", type=parse_size, default=DEFAULT_SIZE,
                   help="shared memory size (default 4M)")
    p.add_argument("-n", metavar="N", type=int, default=DEFAULT_VECTORS,
                   help=f"vectors per peer (default {DEFAULT_VECTORS})")
    args = p.parse_args(argv)

    def event(text):
        if args.v:
            print(text, flush=True)

    server = IvshmemServer(args.S, args.l, args.n, shm_dir=args.m, shm_name=args.M,
                           on_event=event)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: done.set())
    try:
        server.start()
    except OSError as e:
        print(f"ivshmem_server.py: cannot listen on {args.S}: {e.strerror}", file=sys.stderr)
        return 1
    if args.p:
        Path(args.p).write_text(f"{os.getpid()}\n")
    event(f"listening on {args.S}: {args.l} bytes, {args.n} vectors per peer")
    done.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
