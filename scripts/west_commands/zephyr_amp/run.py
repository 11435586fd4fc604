"""Boot a generated system in QEMU and watch its consoles (what `west amp-run` calls).

Everything comes from an output directory amp-config wrote: layout.json says
which domains run in QEMU instances (and in which start order) and which
ivshmem links they share; <domain>/qemu.args and <link>/ivshmem-server.args are
the command lines. A run adds, per instance, only what is the runner's:

  -kernel ELF
  -monitor unix:run/<domain>.monitor.sock,server=on,wait=off
  -chardev socket,id=amp_console,path=run/<domain>.console.sock,server=on,wait=off,
           logfile=run/<domain>.console.log   (or stdio for the attached instance)
  -serial chardev:amp_console

Each QEMU's own output goes to run/<domain>.qemu.log. Doorbell links get the
built-in ivshmem server (ivshmem_server.py; peer IDs are the layout's whatever
the connection order), or an external ivshmem-server, which gives IDs in
connection order, so then each instance is started only when the one before
has answered on its monitor (its devices, the ivshmem client among them, are
set up). Plain links get a new zeroed memory file.

A run holds an exclusive lock (flock) on run/amp-run.lock: a second run in the
same directory is refused. Whatever ends the run (every expectation matched,
timeout, an instance's exit, a signal, an error), every process it started is
stopped and every socket and memory file it made is removed; logs stay.

Library use (amp-build --run): run_system(out_dir, elfs, expects, timeout) ->
RunResult. Nothing here prints; progress goes to the report callback.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .errors import AmpError, UsageError
from .ivshmem_server import IvshmemServer, connect_unix

RUN_DIR = "run"
LOCK = f"{RUN_DIR}/amp-run.lock"
POLL = 0.02                 # seconds between looks at the consoles and processes
STOP_GRACE = 3.0            # seconds QEMU gets to exit on SIGTERM before SIGKILL
START_TIMEOUT = 20.0        # seconds for a server socket or monitor to come up
DEFAULT_TIMEOUT = 60.0      # seconds, when there is something to expect


class RunError(UsageError):
    """The run could not start (missing tool or ELF, lock held, socket in use): exit 2."""


@dataclass
class DomainResult:
    domain: str
    matched: list = field(default_factory=list)     # regexes that matched
    failed: list = field(default_factory=list)      # regexes that did not
    exit_status: int | None = None                  # None: still running when stopped
    console: Path = None                            # the console log
    tail: str = ""                                  # its last lines
    qemu_messages: str = ""                         # the last lines QEMU itself wrote

    @property
    def ok(self) -> bool:
        return not self.failed and self.exit_status in (None, 0)


@dataclass
class RunResult:
    reason: str                     # matched, timeout, exited, interrupted, ran
    domains: dict                   # domain -> DomainResult
    seconds: float
    ok: bool

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


# -- what the output directory says ------------------------------------------------

@dataclass
class Instance:
    domain: str
    start: int
    args: list
    doorbell_links: list            # names of the doorbell links it is a peer of
    elf: Path = None
    expects: list = field(default_factory=list)
    matched: list = field(default_factory=list)
    proc: subprocess.Popen = None
    exited: bool = False            # its exit has been seen and reported
    text: str = ""
    _log: object = None

    def path(self, suffix: str) -> str:
        return f"{RUN_DIR}/{self.domain}.{suffix}"


@dataclass
class Doorbell:
    name: str
    args: list                      # ivshmem-server arguments
    socket: str                     # relative to the output directory
    size: int
    vectors: int
    peers: dict                     # domain -> peer id


@dataclass
class Plan:
    out_dir: Path
    system: str
    binary: str
    instances: list                 # in start order
    doorbells: list
    memory_files: dict              # relative path -> size (plain ivshmem)
    device_sockets: list            # sockets QEMU creates for devices (virtio console)


def read_args(path: Path) -> list:
    return path.read_text().splitlines()


def load_plan(out_dir) -> Plan:
    """The instances, servers and runtime files of an output directory."""
    out = Path(out_dir)
    try:
        lay = json.loads((out / "layout.json").read_text())
    except OSError as e:
        raise AmpError(f"{out}: no layout.json ({e.strerror}): give a directory written "
                       "by west amp-config, or the system YAML") from None
    qemu_domains = sorted((d for d in lay["domains"].items() if d[1].get("qemu")),
                          key=lambda d: d[1]["qemu"]["start"])
    if not qemu_domains:
        raise AmpError(f"{out}: system {lay['system']['name']} has no QEMU instance "
                       f"(board {lay['system']['board']} is not run in QEMU)")
    doorbells, memory, sockets = [], {}, []
    for lk in lay["links"]:
        run = lk.get("run") or {}
        if lk["type"] == "ivshmem" and lk["ivshmem"]["doorbell"]:
            doorbells.append(Doorbell(lk["name"], read_args(out / run["server_args"]),
                                      run["socket"], lk["ivshmem"]["size"],
                                      lk["ivshmem"]["vectors"], lk["ivshmem"]["peers"]))
        elif lk["type"] == "ivshmem":
            memory[run["mem_path"]] = lk["ivshmem"]["size"]
        for dev in lk.get("devices") or []:
            if (dev.get("qemu") or {}).get("socket"):
                sockets.append(dev["qemu"]["socket"])
    instances = []
    for name, d in qemu_domains:
        bells = [b.name for b in doorbells if name in b.peers]
        instances.append(Instance(name, d["qemu"]["start"], read_args(out / d["qemu"]["args"]),
                                  bells))
    return Plan(out, lay["system"]["name"], qemu_domains[0][1]["qemu"]["binary"], instances,
                doorbells, memory, sockets)


# -- checks before anything starts ----------------------------------------------------

def _check_inputs(plan: Plan, elfs: dict, expects: dict, attach: str | None, cwd: Path):
    names = [i.domain for i in plan.instances]
    attached = [attach] if attach else []
    for what, keys in (("--elf", elfs), ("--expect", expects), ("--attach", attached)):
        for k in keys:
            if k not in names:
                raise AmpError(f"{what} {k}: system {plan.system} has no QEMU domain {k!r}; "
                               f"its domains: {', '.join(names)}")
    for inst in plan.instances:
        if inst.domain not in elfs:
            raise RunError(f"no firmware for domain {inst.domain}: give --elf "
                           f"{inst.domain}=PATH (every QEMU instance needs one)")
        elf = Path(elfs[inst.domain])
        elf = elf if elf.is_absolute() else cwd / elf
        if not elf.is_file():
            raise RunError(f"--elf {inst.domain}={elfs[inst.domain]}: no such file ({elf})")
        inst.elf = elf.resolve()
        inst.expects = [(rx, re.compile(rx, re.MULTILINE)) for rx in expects.get(inst.domain, [])]


def _tool(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RunError(f"{name} not found; {hint}")
    return path


def _socket_free(out: Path, rel: str) -> None:
    """Refuse a socket someone is listening on; remove a stale one."""
    path = out / rel
    if not path.exists() and not path.is_symlink():
        return
    s = socket.socket(socket.AF_UNIX)
    try:
        connect_unix(s, str(path))
    except OSError as e:
        if e.errno in (errno.ECONNREFUSED, errno.ENOTSOCK, errno.ENOENT):
            path.unlink(missing_ok=True)
            return
        raise RunError(f"{path}: cannot check this socket: {e.strerror}") from None
    finally:
        s.close()
    raise RunError(f"{path} is in use by another process (a run started without "
                   "amp-run?); stop it first")


class DirLock:
    """flock on run/amp-run.lock; the holder's pid is written into it for the message."""

    def __init__(self, out: Path):
        self.path = out / LOCK
        self.fd = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise RunError(f"{self.path.parent.parent} is in use by another run (pid "
                           f"{holder}, lock {self.path}); wait for it or use another "
                           "-o DIR") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            os.close(self.fd)           # closing drops the lock; the file stays
            self.fd = None


# -- the run --------------------------------------------------------------------------

class Runner:
    def __init__(self, plan: Plan, report: Callable[[str], None], qemu: str,
                 ivshmem_server: str | None, attach: str | None):
        self.plan = plan
        self.out = plan.out_dir
        self.report = report
        self.qemu = qemu
        self.external = ivshmem_server
        self.attach = attach
        self.servers = []               # IvshmemServer or Popen
        self.made = []                  # runtime files to remove at the end
        self.stop_reason = None

    # start-up ----------------------------------------------------------------------

    def prepare(self) -> None:
        p = self.plan
        rel_sockets = [b.socket for b in p.doorbells] + p.device_sockets
        for inst in p.instances:
            rel_sockets += [inst.path("monitor.sock"), inst.path("console.sock")]
        for rel in rel_sockets:
            _socket_free(self.out, rel)
        self.made += rel_sockets
        for inst in p.instances:
            for suffix in ("console.log", "qemu.log"):
                (self.out / inst.path(suffix)).unlink(missing_ok=True)
        for rel, size in p.memory_files.items():
            path = self.out / rel
            path.unlink(missing_ok=True)        # the last run's bytes go with it
            self.made.append(rel)
            with open(path, "xb") as f:
                f.truncate(size)

    def start_servers(self) -> None:
        for b in self.plan.doorbells:
            if self.external:
                self.servers.append(self._external_server(b))
                continue
            server = IvshmemServer(self.out / b.socket, b.size, b.vectors,
                                   shm_dir=self.out / RUN_DIR,
                                   on_event=lambda t, n=b.name: self.report(f"{n}: {t}"))
            try:
                server.start()
            except OSError as e:
                raise RunError(f"{self.out / b.socket}: cannot listen: {e.strerror}") from None
            self.servers.append(server)
            self.report(f"{b.name}: built-in ivshmem server on {b.socket} ({b.size} bytes, "
                        f"{b.vectors} vectors; peers {_peers(b)})")

    def _external_server(self, b: Doorbell):
        with open(self.out / RUN_DIR / f"{b.name}.server.log", "wb") as log:
            proc = _popen([self.external, *b.args], True, cwd=self.out,
                          stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while not _listening(self.out, b.socket):
            if proc.poll() is not None or time.monotonic() > deadline:
                _stop(proc)
                text = (self.out / RUN_DIR / f"{b.name}.server.log").read_text(errors="replace")
                raise RunError(f"{self.external} did not listen on {b.socket}: "
                               f"{text.strip()[-300:] or 'no output'}")
            time.sleep(POLL)
        self.report(f"{b.name}: {self.external} on {b.socket} (peer IDs in start order: "
                    f"{_peers(b)})")
        return proc

    def start_instances(self) -> None:
        for n, inst in enumerate(self.plan.instances):
            self._start(inst)
            later = self.plan.instances[n + 1:]
            if self.external and inst.doorbell_links and any(i.doorbell_links for i in later):
                self._wait_monitor(inst)     # connected to the server: next one may start

    def _start(self, inst: Instance) -> None:
        console = inst.path("console.log")
        if inst.domain == self.attach:
            chardev = f"stdio,id=amp_console,signal=on,logfile={console}"
        else:
            chardev = (f"socket,id=amp_console,path={inst.path('console.sock')},server=on,"
                       f"wait=off,logfile={console}")
        cmd = [self.qemu, *inst.args, "-kernel", str(inst.elf),
               "-monitor", f"unix:{inst.path('monitor.sock')},server=on,wait=off",
               "-chardev", chardev, "-serial", "chardev:amp_console"]
        attached = inst.domain == self.attach
        with open(self.out / inst.path("qemu.log"), "wb") as qlog:
            try:
                inst.proc = _popen(
                    cmd, not attached, cwd=self.out,
                    stdin=None if attached else subprocess.DEVNULL,
                    stdout=None if attached else qlog, stderr=qlog)
            except OSError as e:
                raise RunError(f"cannot start {self.qemu}: {e.strerror}") from None
        for b, server in zip(self.plan.doorbells, self.servers):
            if isinstance(server, IvshmemServer) and inst.domain in b.peers:
                server.expect(inst.proc.pid, b.peers[inst.domain])
        self.report(f"{inst.domain}: {Path(self.qemu).name} pid {inst.proc.pid}, console "
                    f"{console}{' (attached)' if attached else ''}, monitor "
                    f"{inst.path('monitor.sock')}")

    def _wait_monitor(self, inst: Instance) -> None:
        """Until the instance's monitor prompts: QEMU has created every device."""
        deadline = time.monotonic() + START_TIMEOUT
        path = str(self.out / inst.path("monitor.sock"))
        while True:
            if inst.proc.poll() is not None:
                return                       # the watch loop reports it
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                connect_unix(s, path)
                data = b""
                while b"(qemu)" not in data:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                if b"(qemu)" in data:
                    return
            except OSError:
                pass
            finally:
                s.close()
            if time.monotonic() > deadline:
                raise RunError(f"{inst.domain}: QEMU's monitor did not answer in "
                               f"{START_TIMEOUT:.0f} s")
            time.sleep(POLL)

    # watching ------------------------------------------------------------------------

    def watch(self, timeout: float | None, interrupted: threading.Event) -> str:
        """Until every expectation matched, the timeout, an exit or a signal: the reason."""
        insts = self.plan.instances
        expecting = any(i.expects for i in insts)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            for inst in insts:
                self._read_console(inst)
            if expecting and all(len(i.matched) == len(i.expects) for i in insts):
                return "matched"
            for inst in insts:
                status = inst.proc.poll()
                if status is None or inst.exited:
                    continue
                inst.exited = True
                self._read_console(inst)
                self.report(f"{inst.domain}: QEMU exited with status {status}")
                if status != 0 or len(inst.matched) < len(inst.expects):
                    return "exited"
            if all(i.proc.poll() is not None for i in insts):
                return "exited"
            if interrupted.is_set():
                return "interrupted"
            if deadline is not None and time.monotonic() > deadline:
                return "timeout" if expecting else "ran"
            time.sleep(POLL)

    def _read_console(self, inst: Instance) -> None:
        if inst._log is None:
            try:
                inst._log = open(self.out / inst.path("console.log"), "rb")  # noqa: SIM115
            except FileNotFoundError:
                return
        chunk = inst._log.read()
        if not chunk:
            return
        inst.text += chunk.decode("utf-8", errors="replace").replace("\r\n", "\n")
        pos = 0
        for _, rx in inst.expects[:len(inst.matched)]:
            pos = rx.search(inst.text, pos).end()
        for source, rx in inst.expects[len(inst.matched):]:
            m = rx.search(inst.text, pos)
            if not m:
                break
            inst.matched.append(source)
            pos = m.end()
            self.report(f"{inst.domain}: matched {source!r}")

    # stopping --------------------------------------------------------------------------

    def stop(self) -> None:
        for inst in self.plan.instances:
            if inst.proc is not None:
                _stop(inst.proc)
                self._read_console(inst)
            if inst._log is not None:
                inst._log.close()
                inst._log = None
        for server in self.servers:
            if isinstance(server, IvshmemServer):
                server.stop()
            else:
                _stop(server)
        for rel in self.made:
            (self.out / rel).unlink(missing_ok=True)

    def result(self, reason: str, seconds: float, tail_lines: int) -> RunResult:
        domains = {}
        for inst in self.plan.instances:
            lines = inst.text.rstrip("\n").split("\n") if inst.text else []
            try:
                qemu = (self.out / inst.path("qemu.log")).read_text(errors="replace")
            except OSError:
                qemu = ""
            domains[inst.domain] = DomainResult(
                inst.domain, list(inst.matched),
                [s for s, _ in inst.expects[len(inst.matched):]],
                inst.proc.returncode if inst.exited else None,
                self.out / inst.path("console.log"), "\n".join(lines[-tail_lines:]),
                "\n".join(qemu.rstrip("\n").split("\n")[-tail_lines:]) if qemu else "")
        ok = reason in ("matched", "ran", "interrupted", "exited") and \
            all(d.ok for d in domains.values())
        return RunResult(reason, domains, seconds, ok)


def _peers(b: Doorbell) -> str:
    return ", ".join(f"{d} {i}" for d, i in sorted(b.peers.items(), key=lambda p: p[1]))


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL: to the process group a started process leads (a wrapper
    such as strace or a shell script must not leave its QEMU behind), else to it."""
    group = getattr(proc, "amp_group", False)

    def send(sig):
        try:
            if group:
                os.killpg(proc.pid, sig)
            elif proc.poll() is None:
                proc.send_signal(sig)
        except ProcessLookupError:
            pass
    if proc.poll() is None:
        send(signal.SIGTERM)
        try:
            proc.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            send(signal.SIGKILL)
            proc.wait()
    if group:
        send(signal.SIGKILL)     # what the leader left behind, until it is gone
        deadline = time.monotonic() + STOP_GRACE
        while _group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(POLL)


def _group_alive(pgid: int) -> bool:
    """Whether a process of group pgid still runs (zombies do not count: init reaps
    them, not us)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl     # resolved before any fork
except (OSError, AttributeError):
    _prctl = None


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the runner dies (even by SIGKILL), so a
    killed amp-run leaves no QEMU. Only a pre-resolved libc call: nothing that could
    wait for a lock another thread held at fork()."""
    if _prctl is not None:
        _prctl(1, int(signal.SIGKILL))                      # PR_SET_PDEATHSIG


def _popen(cmd, own_group: bool, **kw) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, start_new_session=own_group,
                            preexec_fn=_die_with_parent, **kw)  # noqa: PLW1509 (see above)
    proc.amp_group = own_group
    return proc


def _listening(out: Path, rel: str) -> bool:
    """Whether a unix socket at rel (as bound, relative or absolute) is listening,
    from /proc/net/unix, without connecting (a connection would be a peer)."""
    names = {rel, str(out / rel), os.path.abspath(out / rel)}
    try:
        lines = Path("/proc/net/unix").read_text().splitlines()[1:]
    except OSError:
        return (out / rel).exists()
    for line in lines:
        f = line.split()
        if len(f) >= 8 and f[7] in names and int(f[3], 16) & 0x10000:   # __SO_ACCEPTCON
            return True
    return False


def prepare_out_dir(system_path, out_dir=None, board_roots=(), config=None,
                    topdir=None) -> Path:
    """The output directory of a system YAML for a run: generated when it does not
    exist; an existing one must hold exactly what the YAML gives now (a run never
    replaces a directory that another run, or a firmware build, may be using).
    Generated for the Zephyr of the workspace at topdir (zephyr_version.target())."""
    if config is None:
        from . import config
    from . import zephyr_version
    version = zephyr_version.target(topdir=topdir)
    result = config.configure(system_path, board_roots, zephyr_version=version)
    # without -o: amp/<system> at the workspace top (or here), where amp-config writes
    out = Path(out_dir) if out_dir else config.default_out_dir(result.system.name,
                                                                topdir or ".")
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        from .output import write_outputs
        write_outputs(result.files, out)
        return out
    stale = []
    for rel, text in sorted(result.files.items()):
        try:
            same = (out / rel).read_text(encoding="utf-8") == text
        except (OSError, UnicodeDecodeError):
            same = False
        if not same:
            stale.append(rel)
    if stale:
        raise AmpError(f"{out} does not hold what {system_path} gives now ({len(stale)} "
                       f"file(s) differ, first {stale[0]}): run west amp-config "
                       f"{system_path} -o {out} and rebuild the firmware, or choose "
                       "another -o DIR")
    return out


def run_system(out_dir, elfs: dict, expects: dict | None = None, timeout: float | None = None,
               *, qemu: str | None = None, ivshmem_server: str | None = None,
               attach: str | None = None, cwd=None, tail_lines: int = 20,
               report: Callable[[str], None] | None = None,
               stop: threading.Event | None = None) -> RunResult:
    """Run the QEMU instances of an output directory until every expects regex has
    matched its domain's console (in the order given), the timeout (seconds; None
    means DEFAULT_TIMEOUT with expectations, forever without), an instance's exit
    or SIGINT/SIGTERM (in the main thread) or stop being set. elfs: domain -> ELF path
    (relative to cwd, default the process's). Raises AmpError (1) for wrong arguments,
    RunError (2) when the run cannot start; otherwise returns the RunResult of a run
    that has been cleaned up.
    """
    report = report or (lambda text: None)
    expects = expects or {}
    plan = load_plan(out_dir)
    _check_inputs(plan, elfs, expects, attach, Path(cwd) if cwd else Path.cwd())
    qemu_path = _tool(qemu or plan.binary, "install it (Debian: qemu-system-arm) or name "
                      "another with --qemu")
    server_path = _tool(ivshmem_server, "leave out --ivshmem-server for the built-in "
                        "one") if ivshmem_server else None
    if timeout is None and expects:
        timeout = DEFAULT_TIMEOUT
    lock = DirLock(plan.out_dir)
    lock.acquire()
    runner = Runner(plan, report, qemu_path, server_path, attach)
    interrupted = stop or threading.Event()
    restore = _catch_signals(interrupted)
    t0 = time.monotonic()
    try:
        runner.prepare()
        runner.start_servers()
        runner.start_instances()
        reason = runner.watch(timeout, interrupted)
    finally:
        runner.stop()
        restore()
        lock.release()
    return runner.result(reason, time.monotonic() - t0, tail_lines)


def _catch_signals(flag: threading.Event) -> Callable[[], None]:
    """SIGINT/SIGTERM/SIGHUP end the run (cleanly) instead of the process; only
    possible from the main thread, else a no-op."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    old = {}
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        old[sig] = signal.signal(sig, lambda *_: flag.set())

    def restore():
        for sig, handler in old.items():
            signal.signal(sig, handler)
    return restore
