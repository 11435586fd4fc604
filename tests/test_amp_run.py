"""west amp-run: generated systems booted in QEMU, proved by bare-metal probes.

The probes (tests/probes/) are tiny AArch64 programs built here with
aarch64-linux-gnu-gcc against the GENERATED files of a domain: amp_layout.h
for every address, offset, size, ID and device, amp_memory.ld and
amp_sections.ld for where they link. The only other facts they get come from
the board's Zephyr devicetree (the console UART, the PCIe ECAM and its 32-bit
window), as Zephyr itself would. amp-run boots them from the generated
qemu.args; each prints what it reads, one "PROBE ..." line per fact, and
"PROBE PASS" or "PROBE FAIL". The tests check those lines against layout.json
too, so a probe and a layout that agree on something wrong still fail.

- native virtio: every slot's MagicValue, Version 2, DeviceID, one virtio-rng
  request; the same probe with qemu.args stripped of bus= fails (teeth);
- ivshmem doorbell: two instances through the built-in server: IVPosition is
  each side's peer ID, the BAR is the layout's size, each direction's bytes at
  the layout's offsets, the pool untouched, a doorbell on every vector;
- ivshmem plain: the same exchange, and a new run does not see old bytes;
- two systems, and one system in two directories, at once; a second run in
  one directory is refused; the command line and its exit codes; run-qemu.sh;
- HVL: a driver probe knowing only the Zephyr side's files and a device probe
  knowing only the Linux side's agree on windows, vrings and pool buffers,
  with the HVL region as the BAR of a plain ivshmem.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import REPO, ZEPHYR_DTS, need, need_tool
from helpers import board_edt, preprocess, west_workspace  # noqa: F401 (a fixture)
from zephyr_amp import config, run
from zephyr_amp.errors import AmpError

edtlib = pytest.importorskip("devicetree.edtlib")

PROBES = REPO / "tests" / "probes"
VIRTIO = REPO / "systems" / "qemu-a53-virtio.yaml"
IVSHMEM = REPO / "systems" / "qemu-a53-ivshmem.yaml"
TIMEOUT = 25            # a probe that has not passed by then has failed
CC = "aarch64-linux-gnu-gcc"
CFLAGS = ["-ffreestanding", "-nostdlib", "-static", "-O2", "-Wall", "-Werror",
          "-mgeneral-regs-only", "-mstrict-align", "-Wl,--build-id=none",
          "-Wl,--no-warn-rwx-segments"]


def cname(name):
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    """Addresses of qemu_cortex_a53 from its Zephyr devicetree: console UART, ECAM, and
    the 32-bit PCI memory window (parent address, size)."""
    base = os.environ.get("ZEPHYR_BASE")
    zephyr_dts = Path(base) if base and (Path(base) / "dts" / "bindings").is_dir() \
        else ZEPHYR_DTS                          # as conftest's zephyr_dts fixture
    need(zephyr_dts.is_dir(), f"devicetree fixtures not found at {zephyr_dts}")
    edt = board_edt(zephyr_dts, "qemu_cortex_a53", [], tmp_path_factory.mktemp("dts"))
    uart = edt.chosen_node("zephyr,console").regs[0].addr
    pcie = edt.chosen_node("zephyr,pcie-controller")
    (mem32,) = [r for r in pcie.ranges if r.child_bus_addr >> 64 == 0x02000000]
    return {"UART_BASE": uart, "PCIE_ECAM": pcie.regs[0].addr,
            "PCI_MEM_BASE": mem32.parent_bus_addr, "PCI_MEM_SIZE": mem32.length}


def generate(system, out, edit=None):
    """amp-config's pipeline into out; edit(text) changes the YAML first."""
    src = system
    if edit:
        src = out.parent / f"{out.name}.yaml"
        src.write_text(edit(system.read_text()))
    config.generate(src, out)
    return out, json.loads((out / "layout.json").read_text())


def build_probe(out, domain, source, board, tmp, defines=(), includes=None, sections=()):
    """A probe ELF for one domain, from the domain's generated files (headers from
    includes instead, when given; sections: more link-script fragments to INCLUDE
    inside SECTIONS)."""
    cc = need_tool(CC)
    lay = json.loads((out / "layout.json").read_text())
    (region,) = lay["domains"][domain]["load_regions"][:1]
    script = tmp / f"{domain}-{source}.ld"
    script.write_text(f'INCLUDE amp_memory.ld\nREGION_ALIAS("FW", {region});\n'
                      "INCLUDE probe.ld\n" +
                      "".join(f"SECTIONS {{\nINCLUDE {f}\n}}\n" for f in sections))
    elf = tmp / f"{domain}-{source}.elf"
    includes = [out / domain] if includes is None else includes
    cmd = [cc, *CFLAGS, *(f"-D{k}={v}" for k, v in board.items()),
           *(f"-D{d}" for d in defines), *(f"-I{i}" for i in includes), f"-I{PROBES}",
           f"-L{out / domain}", f"-L{PROBES}", f"-Wl,-T,{script}", "-o", str(elf),
           str(PROBES / "start.S"), str(PROBES / source)]
    res = subprocess.run(cmd, check=False, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return elf


def probe_lines(result, domain):
    """{fact: [{key: value}]} from a domain's 'PROBE <fact> k=v ...' console lines."""
    return probe_facts(result.domains[domain].console)


def probe_facts(console):
    text = console.read_text(errors="replace")
    facts = {}
    for line in text.splitlines():
        f = line.strip().split()
        if len(f) > 2 and f[0] == "PROBE" and "=" in f[-1]:
            kv = dict(x.split("=", 1) for x in f[2:] if "=" in x)
            facts.setdefault(f[1], []).append({k: int(v, 0) for k, v in kv.items()})
    return facts


def run_probe(out, elfs, timeout=TIMEOUT, **kw):
    need_tool("qemu-system-aarch64")
    events = []
    result = run.run_system(out, elfs, {d: [r"PROBE (PASS|FAIL)"] for d in elfs},
                            timeout, report=events.append, **kw)
    result.events = events
    return result


def passed(result, domain):
    text = result.domains[domain].console.read_text(errors="replace")
    return "PROBE PASS" in text and "PROBE FAIL" not in text


def tails(result):
    return "\n".join(f"== {d}\n{r.tail}" for d, r in result.domains.items())


# -- native virtio --------------------------------------------------------------------

@pytest.fixture(scope="module")
def virtio(tmp_path_factory, board):
    tmp = tmp_path_factory.mktemp("virtio")
    out, lay = generate(VIRTIO, tmp / "out")
    (lk,) = [lk for lk in lay["links"] if lk["type"] == "virtio-mmio"]
    devs = [f"{cname(lk['name'])}_{cname(d['name'])}" for d in lk["devices"]]
    (rng,) = [f"{cname(lk['name'])}_{cname(d['name'])}" for d in lk["devices"]
              if d["type"] == "entropy"]
    defines = [f"DEVICES={' '.join(f'X({d})' for d in devs)}", f"RNG={rng}"]
    elf = build_probe(out, "app", "virtio.c", board, tmp, defines)
    return out, lay, lk, elf


def test_native_virtio_every_slot_answers_with_the_systems_device(virtio):
    out, _lay, lk, elf = virtio
    result = run_probe(out, {"app": elf})
    assert result.ok and passed(result, "app"), tails(result)
    facts = probe_lines(result, "app")
    slots = {f["base"]: f for f in facts["slot"]}
    assert sorted(slots) == sorted(d["window"]["base"] for d in lk["devices"])
    for dev in lk["devices"]:
        f = slots[dev["window"]["base"]]
        assert (f["magic"], f["version"], f["device"]) == (0x74726976, 2, dev["id"]), dev
    rng = {k: v for f in facts["rng"] for k, v in f.items()}
    assert rng["used_idx"] == 1 and rng["used_len"] == 16
    assert passed(result, "app")


def test_native_virtio_without_bus_arguments_fails(virtio, tmp_path):
    """The negative control: the same probe, QEMU's slot choice instead of the layout's."""
    out, _lay, lk, elf = virtio
    copy = tmp_path / "nobus"
    shutil.copytree(out, copy)
    args = (copy / "app" / "qemu.args").read_text()
    (copy / "app" / "qemu.args").write_text(re.sub(r",bus=virtio-mmio-bus\.\d+", "", args))
    result = run_probe(copy, {"app": elf})
    assert not passed(result, "app")
    assert "PROBE FAIL" in result.domains["app"].console.read_text()
    devices = [f["device"] for f in probe_lines(result, "app")["slot"]]
    assert devices != [d["id"] for d in lk["devices"]]


# -- ivshmem ----------------------------------------------------------------------------

def plain(text):
    return text.replace("name: qemu-a53-ivshmem", "name: qemu-a53-ivshmem-plain") \
        .replace("doorbell: true", "doorbell: false")


@pytest.fixture(scope="module")
def ivshmem(tmp_path_factory, board):
    """variant ('doorbell' or 'plain') -> (out, layout, link, {domain: probe ELF})."""
    cache = {}

    def make(variant="doorbell"):
        if variant not in cache:
            tmp = tmp_path_factory.mktemp(variant)
            out, lay = generate(IVSHMEM, tmp / "out", plain if variant == "plain" else None)
            (lk,) = [lk for lk in lay["links"] if lk["type"] == "ivshmem"]
            defines = [f"LINK={cname(lk['name'])}"] + (["DOORBELL"] if variant == "doorbell"
                                                      else [])
            elfs = {d: build_probe(out, d, "ivshmem.c", board, tmp, defines)
                    for d in ("host", "remote")}
            cache[variant] = out, lay, lk, elfs
        return cache[variant]
    return make


def check_exchange(result, lk):
    iv = lk["ivshmem"]
    offsets = {v["index"]: v["offset"] for v in iv["vrings"]}
    for domain, read_at in (("host", offsets[1]), ("remote", offsets[0])):
        facts = probe_lines(result, domain)
        (bar,) = facts["bar2"]
        assert bar["size"] == iv["size"], domain
        (data,) = facts["data"]
        assert data == {"read_at": read_at, "other": 1, "own_kept": 1, "pool_zero": 1}
        assert passed(result, domain), tails(result)
    return {d: probe_lines(result, d) for d in ("host", "remote")}


def test_ivshmem_doorbell_two_instances_through_the_built_in_server(ivshmem):
    out, _lay, lk, elfs = ivshmem("doorbell")
    result = run_probe(out, elfs)
    assert result.ok, tails(result)
    facts = check_exchange(result, lk)
    iv = lk["ivshmem"]
    for domain in ("host", "remote"):
        (bar,) = facts[domain]["bar2"]
        assert bar["ivposition"] == iv["peers"][domain]
        (msix,) = facts[domain]["msix"]
        assert msix["vectors"] == iv["vectors"]
        (bell,) = facts[domain]["doorbell"]
        assert bell["pending"] == (1 << iv["vectors"]) - 1
    joined = [e for e in result.events if " joined " in e]
    assert len(joined) == 2
    assert not list((out / "run").glob("*.sock")), "sockets left behind"



def test_ivshmem_plain_exchange_and_a_new_run_sees_no_old_bytes(ivshmem):
    out, _lay, lk, elfs = ivshmem("plain")
    assert lk["ivshmem"]["doorbell"] is False
    first = run_probe(out, elfs)
    assert first.ok, tails(first)
    check_exchange(first, lk)
    mem = out / lk["run"]["mem_path"]
    assert not mem.exists(), "the memory file outlived its run"
    # what a crashed run (or any other writer) might leave: the next run starts on zeros
    mem.write_bytes(b"\xff" * lk["ivshmem"]["size"])
    second = run_probe(out, elfs)
    assert second.ok, tails(second)
    check_exchange(second, lk)
    assert not mem.exists()


# -- several runs -------------------------------------------------------------------------

def test_two_systems_and_one_system_twice_run_at_the_same_time(virtio, ivshmem, board,
                                                                tmp_path):
    """The virtio system, the doorbell system, and the doorbell system generated into a
    second directory (probes with other patterns: a cross-paired run would fail)."""
    out_v, _, _, elf_v = virtio
    out_a, _, lk, elfs_a = ivshmem("doorbell")
    out_b, _ = generate(IVSHMEM, tmp_path / "copy")
    defines = [f"LINK={cname(lk['name'])}", "DOORBELL", "SEED=0x3c"]
    elfs_b = {d: build_probe(out_b, d, "ivshmem.c", board, tmp_path, defines)
              for d in ("host", "remote")}
    jobs = {"virtio": (out_v, {"app": elf_v}), "a": (out_a, elfs_a), "b": (out_b, elfs_b)}
    results = {}

    def one(name):
        results[name] = run_probe(*jobs[name])
    threads = [threading.Thread(target=one, args=(n,)) for n in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for name, result in results.items():
        assert result.ok, (name, tails(result))
    for name in ("a", "b"):
        check_exchange(results[name], lk)
        joined = [e for e in results[name].events if " joined " in e]
        assert len(joined) == 2, (name, results[name].events)   # its own two QEMUs only
    assert passed(results["virtio"], "app")


def test_a_second_run_in_one_directory_is_refused(virtio):
    out, _, _, elf = virtio
    need_tool("qemu-system-aarch64")
    started = threading.Event()
    stop = threading.Event()
    first = {}

    def report(text):
        if "console" in text:
            started.set()

    def hold():
        first["result"] = run.run_system(out, {"app": elf}, {"app": ["never printed"]},
                                         TIMEOUT, report=report, stop=stop)
    t = threading.Thread(target=hold)
    t.start()
    try:
        assert started.wait(TIMEOUT)
        with pytest.raises(run.RunError, match="in use by another run") as e:
            run.run_system(out, {"app": elf}, {"app": ["PROBE PASS"]}, TIMEOUT)
        assert e.value.exit_code == 2
    finally:
        stop.set()
        t.join()
    assert first["result"].reason == "interrupted" and not first["result"].ok
    assert not list((out / "run").glob("*.sock"))
    # the lock went with the first run: the next one runs
    assert run_probe(out, {"app": elf}).ok


# -- run-qemu.sh ----------------------------------------------------------------------------

SERVER_PY = REPO / "scripts" / "west_commands" / "zephyr_amp" / "ivshmem_server.py"


def wait_for_text(path, text, proc):
    """Until path holds text (or the process ended): True if it does."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists() and text in path.read_text(errors="replace"):
            return True
        time.sleep(0.05)
    return path.exists() and text in path.read_text(errors="replace")


def test_run_script_is_executable(ivshmem):
    out, *_ = ivshmem("doorbell")
    assert os.access(out / "run-qemu.sh", os.X_OK)


def test_run_script_runs_both_instances_with_an_external_server(ivshmem, tmp_path):
    """run-qemu.sh on its own: ELF paths relative to the caller, an ivshmem server that
    gives IDs in connection order (ivshmem_server.py as a program), one console log per
    instance; SIGTERM stops everything, removes the sockets and says so in its status."""
    need_tool("qemu-system-aarch64")
    out, _lay, lk, elfs = ivshmem("doorbell")
    fw = tmp_path / "fw"
    fw.mkdir()
    for d, elf in elfs.items():
        shutil.copy(elf, fw / f"{d}.elf")
    for log in (out / "run").glob("*.console.log"):
        log.unlink()                        # an earlier test's PASS must not count
    env = dict(os.environ, AMP_ELF_host="fw/host.elf", AMP_ELF_remote="fw/remote.elf",
               IVSHMEM_SERVER=f"{sys.executable} {SERVER_PY}")
    proc = subprocess.Popen(["bash", str(out / "run-qemu.sh")], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for d in ("host", "remote"):
            assert wait_for_text(out / "run" / f"{d}.console.log", "PROBE PASS", proc), \
                proc.stdout.read() if proc.poll() is not None else d
    finally:
        proc.terminate()
        text, _ = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 143, (proc.returncode, text)
    pids = [int(m) for m in re.findall(r"qemu-system-aarch64 pid (\d+)", text)]
    assert len(pids) == 2
    assert not any(Path(f"/proc/{p}").exists() for p in pids), "a QEMU outlived the script"
    assert not list((out / "run").glob("*.sock")), "sockets left behind"
    for d in ("host", "remote"):
        (bar,) = probe_facts(out / "run" / f"{d}.console.log")["bar2"]
        assert bar["ivposition"] == lk["ivshmem"]["peers"][d]


def test_run_script_exit_status_is_truthful(virtio, tmp_path):
    out, _, _, elf = virtio
    env = dict(os.environ, AMP_ELF_app=str(elf))
    script = out / "run-qemu.sh"
    res = subprocess.run(["bash", str(script)], env=dict(env, QEMU="false"), cwd=tmp_path,
                         check=False, capture_output=True, text=True, timeout=TIMEOUT)
    assert res.returncode == 1, res.stderr                 # QEMU failed: so does the script
    res = subprocess.run(["bash", str(script)], env=dict(env, QEMU="no-such-qemu"),
                         check=False, capture_output=True, text=True, timeout=TIMEOUT)
    assert res.returncode == 2 and "no-such-qemu not found" in res.stderr
    res = subprocess.run(["bash", str(script)], env={"PATH": os.environ["PATH"]},
                         check=False, capture_output=True, text=True, timeout=TIMEOUT)
    assert res.returncode == 2 and "set AMP_ELF_app" in res.stderr
    res = subprocess.run(["bash", str(script)], env=dict(env, AMP_ELF_app="nowhere.elf"),
                         cwd=tmp_path, check=False, capture_output=True, text=True,
                         timeout=TIMEOUT)
    assert res.returncode == 2 and f"no such file: {tmp_path}/nowhere.elf" in res.stderr


def test_run_script_and_amp_run_share_the_lock(virtio, tmp_path):
    out, _, _, elf = virtio
    need_tool("flock")
    stop = threading.Event()
    started = threading.Event()
    t = threading.Thread(target=run.run_system, args=(out, {"app": elf}, {"app": ["never"]},
                                                       TIMEOUT),
                         kwargs={"stop": stop, "report": lambda s: started.set()})
    t.start()
    try:
        assert started.wait(TIMEOUT)
        res = subprocess.run(["bash", str(out / "run-qemu.sh")], cwd=tmp_path,
                             env=dict(os.environ, AMP_ELF_app=str(elf)),
                             check=False, capture_output=True, text=True, timeout=TIMEOUT)
    finally:
        stop.set()
        t.join()
    assert res.returncode == 2 and "in use by another run" in res.stderr


# -- the command line -----------------------------------------------------------------------

@pytest.fixture
def west_run(west_workspace, tmp_path):  # noqa: F811
    """west_run(*args) -> CompletedProcess of `west amp-run ARGS` run from a directory
    inside the test workspace (so west finds the command), holding fw/ for ELFs."""
    manifest, env = west_workspace
    here = manifest / "amp-run-tests" / tmp_path.name
    (here / "fw").mkdir(parents=True)

    def west(*args, timeout=2 * TIMEOUT):
        return subprocess.run(["west", "amp-run", *map(str, args)], cwd=here, env=env,
                              check=False, capture_output=True, text=True, timeout=timeout)
    west.here = here
    west.env = env
    return west


def test_cli_generates_the_directory_and_passes(west_run, virtio):
    _, _, _, elf = virtio
    shutil.copy(elf, west_run.here / "fw" / "app.elf")
    out = west_run.here / "out"
    res = west_run(VIRTIO, "-o", "out", "--elf", "app=fw/app.elf", "--timeout", TIMEOUT,
                   "--expect", r"app=PROBE rng .*used_idx=0x1", "--expect", "app=PROBE PASS")
    assert res.returncode == 0, res.stdout + res.stderr
    assert (out / "layout.json").is_file()
    assert "app: matched 'PROBE PASS'" in res.stdout
    assert "app: ok (matched 2 of 2)" in res.stdout
    assert "every expectation matched" in res.stdout and "Traceback" not in res.stderr
    # the directory exists now: the same YAML runs it again as it is
    res = west_run(VIRTIO, "-o", "out", "--elf", "app=fw/app.elf", "--expect", "app=PROBE PASS")
    assert res.returncode == 0, res.stdout + res.stderr


def test_cli_mismatch_is_1_and_shows_the_console(west_run, virtio):
    out, _, _, elf = virtio
    res = west_run(out, "--elf", f"app={elf}", "--expect", "app=this is never printed",
                   "--timeout", "2")
    assert res.returncode == 1, res.stdout + res.stderr
    assert "app: not matched: 'this is never printed'" in res.stdout
    assert "PROBE PASS" in res.stdout                   # the tail of its console
    assert "timed out" in res.stdout and "Traceback" not in res.stderr


def test_cli_could_not_start_is_2(west_run, virtio):
    out, _, _, elf = virtio
    cases = [
        (["--elf", "app=fw/missing.elf"], "--elf app=fw/missing.elf: no such file"),
        ([], "no firmware for domain app: give --elf app=PATH"),
        (["--elf", f"app={elf}", "--qemu", "no-such-qemu"], "no-such-qemu not found"),
    ]
    for args, message in cases:
        res = west_run(out, *args)
        assert res.returncode == 2, (args, res.stderr)
        assert message in res.stderr and "Traceback" not in res.stderr, res.stderr


def test_cli_user_errors_are_1(west_run, virtio, tmp_path):
    out, _, _, elf = virtio
    res = west_run(out, "--elf", f"app={elf}", "--expect", "nosuch=x")
    assert res.returncode == 1 and "system qemu-a53-virtio has no QEMU domain 'nosuch'; " \
        "its domains: app" in res.stderr, res.stderr
    # an existing directory that is not what the YAML gives now
    stale = tmp_path / "stale"
    shutil.copytree(out, stale)
    (stale / "app" / "qemu.args").write_text("-nographic\n")
    res = west_run(VIRTIO, "-o", stale, "--elf", f"app={elf}")
    assert res.returncode == 1 and "app/qemu.args" in res.stderr and \
        "run west amp-config" in res.stderr, res.stderr
    res = west_run(REPO / "systems" / "kv260-rpmsg.yaml", "-o", tmp_path / "kv",
                   "--elf", f"app={elf}")
    assert res.returncode == 1 and "has no QEMU instance" in res.stderr, res.stderr


def test_cli_attach_gives_the_console_input_and_output(west_run, virtio, board, tmp_path):
    """--attach: the instance's console is the terminal (a pty here), both ways."""
    import pty
    out, _, _, _ = virtio
    elf = build_probe(out, "app", "echo.c", board, tmp_path)
    master, slave = pty.openpty()
    proc = subprocess.Popen(["west", "amp-run", str(out), "--elf", f"app={elf}", "--attach",
                             "app", "--expect", "app=PROBE echo: HELLO", "--timeout",
                             str(TIMEOUT)], cwd=west_run.here, env=west_run.env,
                            stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    seen = b""
    try:
        deadline = time.monotonic() + TIMEOUT
        while b"PROBE echo ready" not in seen and time.monotonic() < deadline:
            seen += read_pty(master)
        os.write(master, b"hello\r")
        proc.wait(TIMEOUT)
        seen += read_pty(master)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    text = seen.decode(errors="replace")
    assert proc.returncode == 0, text
    assert "PROBE echo: HELLO" in text                     # on the terminal
    assert "PROBE echo: HELLO" in (out / "run" / "app.console.log").read_text()   # and logged


def read_pty(fd):
    import select
    ready, _, _ = select.select([fd], [], [], 0.2)
    try:
        return os.read(fd, 4096) if ready else b""
    except OSError:
        return b""


def test_an_external_server_gets_the_instances_in_start_order(ivshmem, tmp_path):
    """--ivshmem-server: IDs in connection order, so amp-run starts the remote only when
    the host's monitor answers; the IDs are still the layout's."""
    out, _, lk, elfs = ivshmem("doorbell")
    server = tmp_path / "ivshmem-server"
    server.write_text(f'#!/bin/sh\nexec {sys.executable} {SERVER_PY} -v "$@"\n')
    server.chmod(0o755)
    result = run_probe(out, elfs, ivshmem_server=str(server))
    assert result.ok, tails(result)
    facts = check_exchange(result, lk)
    for d in ("host", "remote"):
        assert facts[d]["bar2"][0]["ivposition"] == lk["ivshmem"]["peers"][d]
    log = (out / "run" / "ivshmem0.server.log").read_text()
    assert "peer 0 joined" in log and "peer 1 joined" in log
    assert not list((out / "run").glob("*.sock"))


def test_a_socket_someone_listens_on_is_refused(virtio):
    import socket
    out, _, _, elf = virtio
    (out / "run").mkdir(exist_ok=True)
    path = out / "run" / "app.monitor.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.listen(1)
    try:
        with pytest.raises(run.RunError, match="app.monitor.sock is in use") as e:
            run.run_system(out, {"app": elf}, {"app": ["PROBE PASS"]}, TIMEOUT)
        assert e.value.exit_code == 2
        assert path.exists()                    # not ours: left alone
    finally:
        s.close()
        path.unlink()
    # a stale one (nobody listening) is simply replaced
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()
    assert run_probe(out, {"app": elf}).ok


# -- HVL ---------------------------------------------------------------------------------

def carrier(hvl_size):
    """qemu-a53-ivshmem turned into the test's carrier: plain ivshmem whose BAR holds
    the HVL region and one more page (the probes' hand-shake flags)."""
    size = 1 << (hvl_size + 0x1000 - 1).bit_length()
    return lambda text: plain(text).replace("size: 4M", f"size: {size}") \
        .replace("name: qemu-a53-ivshmem-plain", "name: hvl-carrier")


def device_header(doc):
    """hvl_device.h: the device side's reading of <link>.hvl.json, nothing more."""
    windows = " ".join(f"W({w['base']:#x}, {w['device_id']}, {w['queue_size']})"
                       for w in doc["windows"])
    queues = " ".join(f"DQ({w['base']:#x}, {q['index']}, {q['base']:#x})"
                      for w in doc["windows"] for q in w["queues"])
    return "\n".join([
        "/* from the device side's JSON, by the test */",
        f'#define HVL_SYSTEM "{doc["system"]}"',
        f"#define HVL_SHM_BASE {doc['shm']['base']:#x}",
        f"#define HVL_SHM_SIZE {doc['shm']['size']:#x}",
        f"#define HVL_POOL_BASE {doc['pool']['base']:#x}",
        f"#define HVL_POOL_SIZE {doc['pool']['size']:#x}",
        f"#define WINDOWS {windows}", f"#define DQUEUES {queues}", ""])


def driver_lists(header):
    """DEVICES and QUEUES X-macros from the names in the driver's amp_layout.h."""
    text = header.read_text()
    devices = re.findall(r"^#define AMP_(\w+)_DEVICE_ID ", text, re.MULTILINE)
    queues = re.findall(r"^#define AMP_(\w+)_VQ(\d+)_SECTION ", text, re.MULTILINE)
    return [f"DEVICES={' '.join(f'X({d})' for d in devices)}",
            f"QUEUES={' '.join(f'Q({d},{q})' for d, q in queues)}"], devices, queues


@pytest.mark.parametrize("name", ["qemu-r5-hvl", "kv260-hvl"])
def test_hvl_driver_and_device_agree_over_an_ivshmem_region(name, board, tmp_path):
    """A driver probe that knows only the Zephyr side's files and a device probe that
    knows only the Linux side's agree on every window, vring and pool buffer, with
    the HVL region as the BAR of a plain ivshmem between two QEMUs."""
    hvl_out, lay = generate(REPO / "systems" / f"{name}.yaml", tmp_path / "hvl")
    (lk,) = [lk for lk in lay["links"] if lk.get("transport") == "hvl"]
    doc = json.loads((hvl_out / lk["device"] / f"{lk['name']}.hvl.json").read_text())
    dtso = (hvl_out / lk["device"] / "amp.dtso").read_text()
    m = re.search(rf"{doc['shm']['dt_label']}: [^{{]*\{{[^}}]*?reg = <0x0 (0x\w+) 0x0 (0x\w+)>",
                  dtso)
    assert m and (int(m.group(1), 16), int(m.group(2), 16)) == \
        (doc["shm"]["base"], doc["shm"]["size"]), "amp.dtso and the JSON disagree"
    out, _ = generate(IVSHMEM, tmp_path / "carrier", carrier(doc["shm"]["size"]))
    drv_dir = hvl_out / lk["driver"]
    defines, devices, queues = driver_lists(drv_dir / "amp_layout.h")
    assert devices and queues
    drv = build_probe(out, "host", "hvl_driver.c", board, tmp_path, defines,
                      includes=[drv_dir], sections=[drv_dir / "amp_hvl.ld"])
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "hvl_device.h").write_text(device_header(doc))
    dev = build_probe(out, "remote", "hvl_device.c", board, tmp_path,
                      includes=[tmp_path / "inc"])
    result = run_probe(out, {"host": drv, "remote": dev})
    assert result.ok and passed(result, "host") and passed(result, "remote"), tails(result)
    seen = probe_lines(result, "remote")["queue"]
    want = [(w["base"], q["index"], q["base"], w["queue_size"])
            for w in doc["windows"] for q in w["queues"]]
    assert [(f["window"], f["q"], f["driver_at"], f["num"]) for f in seen] == want
    assert all(f["in_pool"] == 1 and f["data"] == 1 for f in seen)
    windows = probe_lines(result, "host")["window"]
    assert sorted(f["base"] for f in windows) == sorted(w["base"] for w in doc["windows"])


def test_an_instance_that_exits_ends_the_run_with_qemus_messages(virtio, tmp_path):
    out, _, _, elf = virtio
    copy = tmp_path / "broken"
    shutil.copytree(out, copy)
    with open(copy / "app" / "qemu.args", "a") as f:
        f.write("-no-such-option\n")
    result = run_probe(copy, {"app": elf})
    assert result.reason == "exited" and result.exit_code == 1
    app = result.domains["app"]
    assert app.exit_status == 1 and app.failed == [r"PROBE (PASS|FAIL)"]
    assert "-no-such-option" in app.qemu_messages
    assert not list((copy / "run").glob("*.sock"))


def processes_running(needle):
    """pids whose command line holds needle (and that are not zombies)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if needle in cmd and state != "Z":
            found.append(int(proc.name))
    return found


def test_no_qemu_outlives_its_runner(virtio, tmp_path):
    """A QEMU behind a wrapper script is stopped with its wrapper; a runner killed with
    SIGKILL (no clean-up possible) still takes its QEMU with it."""
    out, _, _, elf = virtio
    mine = tmp_path / "app.elf"
    shutil.copy(elf, mine)                        # a path only this test's QEMUs name
    wrapper = tmp_path / "qemu-wrapper"
    wrapper.write_text('#!/bin/sh\nqemu-system-aarch64 "$@"\necho wrapper done\n')
    wrapper.chmod(0o755)
    result = run_probe(out, {"app": mine}, qemu=str(wrapper))
    assert result.ok, tails(result)
    assert processes_running(str(mine)) == [], "the wrapper's QEMU survived"
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from zephyr_amp import run; "
            "run.run_system(sys.argv[2], {'app': sys.argv[3]}, {'app': ['never']}, 60, "
            "report=lambda t: print(t, flush=True))")
    runner = subprocess.Popen([sys.executable, "-c", code, str(REPO / "scripts" / "west_commands"),
                               str(out), str(mine)], stdout=subprocess.PIPE, text=True)
    line = ""
    while "console" not in line:
        line = runner.stdout.readline()
        assert line, "the runner ended early"
    assert processes_running(str(mine))
    runner.kill()
    runner.wait()
    deadline = time.monotonic() + TIMEOUT
    while processes_running(str(mine)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_running(str(mine)) == [], "the QEMU of a killed runner survived"
    for sock in (out / "run").glob("*.sock"):      # what the killed run could not remove
        sock.unlink()


V37 = "VERSION_MAJOR = 3\nVERSION_MINOR = 7\nPATCHLEVEL = 0\nVERSION_TWEAK = 0\nEXTRAVERSION =\n"


def test_prepare_out_dir_generates_for_the_workspaces_zephyr(tmp_path, monkeypatch):
    """amp-run's output directory follows the workspace's Zephyr (zephyr_version.target():
    here ZEPHYR_BASE's VERSION, 3.7), as amp-config's does; a directory made for another
    version does not hold what the YAML gives for this one."""
    tree = tmp_path / "zephyr"
    tree.mkdir()
    (tree / "VERSION").write_text(V37)
    monkeypatch.setenv("ZEPHYR_BASE", str(tree))
    system = REPO / "systems" / "kv260-rpmsg.yaml"
    out = run.prepare_out_dir(system, tmp_path / "out")
    header = (out / "rpu0" / "resource_table.h").read_text().splitlines()
    assert "void rsc_table_get(struct fw_resource_table **table_ptr, int *length);" in header
    assert run.prepare_out_dir(system, out) == out          # the same version: reused
    (tree / "VERSION").write_text(V37.replace("= 3", "= 4").replace("= 7", "= 4"))
    with pytest.raises(AmpError, match="does not hold what"):
        run.prepare_out_dir(system, out)


def test_default_output_is_where_amp_config_writes(tmp_path, monkeypatch):
    """Without -o, amp-run generates into amp/<system> at the workspace top, the place
    `west amp-config` writes by default (outside build/, which west build -p deletes)."""
    monkeypatch.delenv("ZEPHYR_BASE", raising=False)
    monkeypatch.chdir(tmp_path)
    out = run.prepare_out_dir(REPO / "systems" / "qemu-a53-virtio.yaml", topdir=str(tmp_path))
    assert out == tmp_path / "amp" / "qemu-a53-virtio"
    assert (out / "layout.json").is_file() and not (tmp_path / "build").exists()
