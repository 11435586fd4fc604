"""`west amp-build --run`: the run entries of a matrix are booted in QEMU after
their builds and ELF checks pass, and their console expectations become test
cases of their own in the JSON and JUnit output.

The stand-in Zephyr (tests/standin_zephyr) builds, for an entry whose
cmake-args give -DSTANDIN_PROBE=<tests/probes/hello.c>, the bare-metal AArch64
probe of tests/probes (its start.S and probe.ld) into the domain's generated
memory, so QEMU boots something that prints over the board's PL011 console
(its address from the board's Zephyr devicetree, as test_amp_run takes it).
"""

import json
import textwrap
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import pytest

import standin_workspace as sw
from conftest import REPO, ZEPHYR_DTS, need, need_tool
from helpers import board_edt

edtlib = pytest.importorskip("devicetree.edtlib")

HELLO = REPO / "tests" / "probes" / "hello.c"


@pytest.fixture(scope="module")
def uart(tmp_path_factory):
    need(ZEPHYR_DTS.is_dir(), f"devicetree fixtures not found at {ZEPHYR_DTS}")
    edt = board_edt(ZEPHYR_DTS, "qemu_cortex_a53", [], tmp_path_factory.mktemp("dts"))
    return edt.chosen_node("zephyr,console").regs[0].addr


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    for tool in ("aarch64-linux-gnu-gcc", "qemu-system-aarch64", "git"):
        need_tool(tool)
    base = tmp_path_factory.mktemp("amp-build-run")
    env = sw.west_env(base / "config")
    return SimpleNamespace(top=sw.make(base / "ws", env), env=env, base=base)


def write_matrix(tmp_path, entries):
    path = tmp_path / "m.yaml"
    path.write_text(f"version: 1\nsystem-dir: {REPO / 'systems'}\nentries:\n"
                    + textwrap.indent(entries, "  "))
    return path


def entry(name, uart, console, timeout=20):
    return f"""\
- name: {name}
  sample: zephyr/samples/virtio/entropy
  board: qemu_cortex_a53
  system: qemu-a53-virtio.yaml
  domain: app
  cmake-args: [-DSTANDIN_PROBE={HELLO}, -DSTANDIN_PROBE_DEFINES=UART_BASE={uart:#x}]
  expect:
    run: qemu
    console: {json.dumps(console)}
    timeout: {timeout}
"""


def amp_build_run(ws, tmp_path, entries, *extra):
    m = write_matrix(tmp_path, entries)
    out = tmp_path / "out"
    r = sw.west(ws.top, "amp-build", "--matrix", str(m), "--build-root", str(tmp_path / "b"),
                "--run", "--json", str(out / "r.json"), "--junit", str(out / "j.xml"), *extra,
                env=ws.env)
    assert "Traceback" not in r.stdout + r.stderr, r.stdout + r.stderr
    return r, json.loads((out / "r.json").read_text()), ET.parse(out / "j.xml").getroot()


def cases(junit):
    return {c.get("name"): c for c in junit.iter("testcase")}


def test_a_run_entry_whose_console_matches_passes(ws, tmp_path, uart):
    r, doc, junit = amp_build_run(
        ws, tmp_path, entry("hello", uart, ["PROBE hello from app", "of qemu-a53-virtio$"]))
    assert r.returncode == 0, r.stdout + r.stderr
    (run,) = doc["runs"]
    assert run["name"] == "hello run" and run["status"] == "ok", run
    assert run["matched"] == ["PROBE hello from app", "of qemu-a53-virtio$"]
    assert run["failed"] == [] and doc["ok"] is True
    assert "PROBE hello from app of qemu-a53-virtio" in open(run["console"]).read()
    case = cases(junit)["hello run"]
    assert case.find("failure") is None and case.find("skipped") is None
    assert junit.get("tests") == "2" and junit.get("failures") == "0"
    assert "[run] qemu_cortex_a53 zephyr/samples/virtio/entropy" in r.stdout
    assert "1 run(s): 1 passed" in r.stdout


def test_a_run_entry_whose_regex_never_prints_fails_with_the_tail(ws, tmp_path, uart):
    r, doc, junit = amp_build_run(
        ws, tmp_path, entry("silent", uart, ["PROBE hello", "PROBE NEVER$"], timeout=3))
    assert r.returncode == 1, r.stdout + r.stderr
    (res,) = doc["results"]
    assert res["status"] == "ok"                     # the build and its ELF check passed
    (run,) = doc["runs"]
    assert run["status"] == "failed" and run["reason"] == "timeout", run
    assert run["matched"] == ["PROBE hello"] and run["failed"] == ["PROBE NEVER$"]
    assert any("PROBE hello from app" in line for line in run["tail"])
    assert doc["ok"] is False
    failure = cases(junit)["silent run"].find("failure")
    assert failure is not None and failure.get("type") == "run"
    assert "'PROBE NEVER$'" in failure.get("message")
    assert "| PROBE hello from app of qemu-a53-virtio" in failure.text
    assert cases(junit)["silent"].find("failure") is None
    assert "--- silent run: timeout: 1 of 2 console expectation(s) did not match" in r.stdout


def test_a_bad_console_regex_is_an_error_at_its_line(ws, tmp_path, uart):
    m = write_matrix(tmp_path, entry("bad", uart, ["PROBE (hello"]))
    r = sw.west(ws.top, "amp-build", "--matrix", str(m), "--run", "-n", env=ws.env)
    assert r.returncode == 1
    assert "m.yaml:12:" in r.stderr and "entries[0].expect.console[0]: 'PROBE (hello' is " \
        "not a regular expression: missing )" in r.stderr, r.stderr


def test_a_run_entry_whose_build_fails_is_not_run(ws, tmp_path, uart):
    broken = entry("broken", uart, ["PROBE hello"]).replace(str(HELLO), str(HELLO) + ".none")
    r, doc, junit = amp_build_run(ws, tmp_path, broken)
    assert r.returncode == 1
    assert doc["results"][0]["stage"] == "build"
    (run,) = doc["runs"]
    assert run["status"] == "not-run" and run["reason"] is None
    assert run["message"] == "not run: broken did not build and validate"
    assert cases(junit)["broken run"].find("skipped") is not None
    assert junit.get("skipped") == "1" and junit.get("failures") == "1"
    assert "not run" in r.stdout and "running qemu-a53-virtio" not in r.stdout
