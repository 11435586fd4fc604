"""The built-in ivshmem server against a client written here (QEMU's ivshmem-spec.rst).

The client speaks the spec's side of the protocol with a socket and
recvmsg/SCM_RIGHTS: protocol version 0, its peer ID, -1 with the shared-memory
fd, the other peers' eventfds, its own eventfds, then join/leave notices.
What is checked is what QEMU relies on: the fds are the real objects (one
shared memory seen by both, an eventfd written by one peer is the one the
other waits on), IDs are the layout's whatever the connection order, memory
is fresh for every server, the socket goes away with the server.
The QEMU side (two instances ringing each other's doorbells through this
server) is in test_amp_run.py.
"""

import argparse
import mmap
import os
import select
import socket
import struct
import subprocess
import sys
import textwrap

import pytest

from conftest import REPO
from zephyr_amp import ivshmem_server
from zephyr_amp.ivshmem_server import IvshmemServer

SERVER_PY = REPO / "scripts" / "west_commands" / "zephyr_amp" / "ivshmem_server.py"
SIZE = 64 << 10
VECTORS = 2
TIMEOUT = 20


class Client:
    """One ivshmem client: reads the set-up messages the spec lists, in order."""

    def __init__(self, path, others=0, vectors=VECTORS):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(TIMEOUT)
        ivshmem_server.connect_unix(self.sock, str(path))
        self.vectors = vectors
        self.version = self.expect_plain()
        self.id = self.expect_plain()
        value, self.shm = self.read()
        assert value == -1 and self.shm is not None
        self.peers = {}                      # peer id -> [eventfd per vector]
        for _ in range(others):
            self.read_join()
        self.own = []
        for _ in range(vectors):
            value, fd = self.read()
            assert value == self.id and fd is not None
            self.own.append(fd)

    def read(self):
        data, fds, _, _ = socket.recv_fds(self.sock, 8, 1)
        assert len(data) == 8, f"short message {data!r}"
        return struct.unpack("<q", data)[0], (fds[0] if fds else None)

    def expect_plain(self):
        value, fd = self.read()
        assert fd is None
        return value

    def read_join(self):
        """A connect notice: one peer ID per vector, each with an fd."""
        got = [self.read() for _ in range(self.vectors)]
        (peer,) = {v for v, _ in got}
        assert all(fd is not None for _, fd in got)
        self.peers[peer] = [fd for _, fd in got]
        return peer

    def memory(self):
        return mmap.mmap(self.shm, SIZE)

    def ring(self, peer, vector):
        os.eventfd_write(self.peers[peer][vector], 1)

    def pending_vectors(self):
        """Own vectors whose eventfd has been written (read and cleared)."""
        ready, _, _ = select.select(self.own, [], [], 0)
        return sorted(self.own.index(fd) for fd in ready if os.eventfd_read(fd))

    def close(self):
        self.sock.close()
        for fd in [self.shm, *self.own, *(f for fds in self.peers.values() for f in fds)]:
            os.close(fd)


@pytest.fixture
def server(tmp_path):
    servers = []

    def make(**kw):
        s = IvshmemServer(tmp_path / f"s{len(servers)}.sock", SIZE, VECTORS, **kw)
        s.start()
        servers.append(s)
        return s
    yield make
    for s in servers:
        s.stop()


def test_connection_order_ids_shared_memory_and_doorbells(server):
    s = server()
    a = Client(s.socket_path)
    b = Client(s.socket_path, others=1)
    try:
        assert (a.version, b.version) == (0, 0)
        assert (a.id, b.id) == (0, 1)
        assert list(b.peers) == [0]
        assert a.read_join() == 1            # a hears that b joined, with b's fds
        assert os.fstat(a.shm).st_size == os.fstat(b.shm).st_size == SIZE
        ma, mb = a.memory(), b.memory()
        ma[100:105] = b"hello"
        assert mb[100:105] == b"hello"       # one object, not two copies
        ma.close()
        mb.close()
        assert a.pending_vectors() == [] and b.pending_vectors() == []
        b.ring(0, 1)
        assert a.pending_vectors() == [1]    # vector 1 of peer 0, and only that
        assert b.pending_vectors() == []
        a.ring(1, 0)
        assert b.pending_vectors() == [0]
    finally:
        b.close()
    assert a.expect_plain() == 1             # leave notice: b's ID without an fd
    a.close()


def test_a_peer_that_leaves_frees_its_id(server):
    s = server()
    a = Client(s.socket_path)
    b = Client(s.socket_path, others=1)
    b.close()
    assert a.read_join() == 1 and a.expect_plain() == 1
    c = Client(s.socket_path, others=1)
    assert c.id == 1 and list(c.peers) == [0]
    c.close()
    a.close()


CHILD = textwrap.dedent("""
    import socket, struct, sys
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    version = struct.unpack("<q", s.recv(8))[0]
    peer = struct.unpack("<q", s.recv(8))[0]
    print(version, peer, flush=True)
    sys.stdin.read()
""")


def child(path, via_shell=False):
    cmd = [sys.executable, "-c", CHILD, str(path)]
    if via_shell:                            # a wrapper: the client is a child of the pid
        cmd = ["sh", "-c", '"$@"; :', "sh", *cmd]
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def test_ids_follow_the_processes_not_the_connection_order(server):
    s = server()
    first = child(s.socket_path)             # connects first, is the layout's peer 1
    second = child(s.socket_path, via_shell=True)
    try:
        s.expect(first.pid, 1)
        assert first.stdout.readline().split() == ["0", "1"]
        s.expect(second.pid, 0)
        assert second.stdout.readline().split() == ["0", "0"]
    finally:
        for p in (first, second):
            p.stdin.close()
            p.wait(TIMEOUT)
    assert s.joined == [1, 0]


def test_an_unknown_process_waits_until_it_is_expected(server):
    s = server()
    s.expect(1, 7)                           # some expectation: no more connection order
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(TIMEOUT)
    sock.connect(s.socket_path)
    s.expect(os.getpid(), 3)                 # only now does this client get an answer
    version, peer = struct.unpack("<2q", sock.recv(16, socket.MSG_WAITALL))
    assert (version, peer) == (0, 3)
    sock.close()


def test_memory_is_fresh_for_every_server_and_leaves_no_file(server, tmp_path):
    shm_dir = tmp_path / "shm"
    shm_dir.mkdir()
    s1 = server(shm_dir=shm_dir)
    a = Client(s1.socket_path)
    m = a.memory()
    m[0:4] = b"old!"
    m.close()
    a.close()
    s1.stop()
    s2 = server(shm_dir=shm_dir)
    b = Client(s2.socket_path)
    m = b.memory()
    assert m[0:4] == b"\0\0\0\0"
    m.close()
    b.close()
    assert list(shm_dir.iterdir()) == []     # created unlinked


def test_stop_removes_the_socket_and_a_busy_path_is_an_error(server, tmp_path):
    s = server()
    path = s.socket_path
    other = IvshmemServer(path, SIZE, VECTORS)
    with pytest.raises(OSError):
        other.start()                        # bound by s
    s.stop()
    assert not os.path.exists(path)


def test_a_socket_path_longer_than_sun_path(tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    s = IvshmemServer(deep / "x.sock", SIZE, 1)
    s.start()
    try:
        c = Client(s.socket_path, vectors=1)
        assert c.id == 0
        c.close()
    finally:
        s.stop()
    assert not (deep / "x.sock").exists()


def test_the_file_runs_on_its_own_with_ivshmem_servers_options(tmp_path):
    sock = tmp_path / "cli.sock"
    proc = subprocess.Popen([sys.executable, str(SERVER_PY), "-F", "-v", "-S", str(sock),
                             "-m", str(tmp_path), "-l", "64K", "-n", "2",
                             "-p", str(tmp_path / "pid")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()        # "listening on ...": the socket exists
        assert line.startswith("listening on"), (line, proc.stderr.read())
        c = Client(sock)
        assert (c.version, c.id) == (0, 0) and os.fstat(c.shm).st_size == SIZE
        assert proc.stdout.readline().startswith("peer 0 joined")
        c.close()
        assert proc.stdout.readline().startswith("peer 0 left")
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, err
    assert not sock.exists()
    assert (tmp_path / "pid").read_text().strip() == str(proc.pid)


def test_bad_sizes_are_refused():
    for bad in ("0", "4X", "", "-1"):
        with pytest.raises(argparse.ArgumentTypeError):
            ivshmem_server.parse_size(bad)
    assert ivshmem_server.parse_size("4M") == 4 << 20
    assert ivshmem_server.parse_size("4194304") == 4 << 20
