"""Linux accepts the generated overlay: merged onto the real KV260 devicetree, it passes
Linux's own bindings and dtc, and the merged reserved-memory is what layout.json says.

../shared/linux-dts holds Linux v7.1's KV260 devicetree (zynqmp.dtsi, the K26 SOM, the KV
carrier overlay and their includes) and the xlnx,zynqmp-r5fss and xlnx,zynqmp-ipi-mailbox
binding schemas (its README gives the commands used here). Once per session the base is
built as Linux builds the board (cpp with its includes, dtc -@, the SOM dtb plus the revB
carrier dtbo through fdtoverlay) and the schemas are processed (dt-mk-schema). Then for
every system with a Linux domain on the KV260:
- its amp.dtso compiles (dtc -@) and fdtoverlay applies it to the base;
- dtc finds nothing in the merged tree that it does not find in the base already
  (compiling the overlay alone warns about cells, since dtc cannot know a fragment's
  target: the merged tree is where those are judged);
- dt-validate (dtschema) prints nothing against the two bindings plus reserved-memory and
  shared-dma-pool (`-l`: only those compatibles; dt-validate exits 0 even with errors, so
  its output is what counts);
- every /reserved-memory node of the merged tree is a region of layout.json with that name
  (dt_name) and that range, every such region is there, and no two overlap.
"""

import json
import re
import shutil
import subprocess

import pytest

from conftest import REPO, need, need_tool
from helpers import ALL_SYSTEMS, TEST_BOARDS, generated, system_id  # noqa: F401

LINUX_DTS = REPO.parent / "shared" / "linux-dts"
XILINX = "arch/arm64/boot/dts/xilinx"
BINDINGS = "xlnx,zynqmp-r5fss:xlnx,zynqmp-ipi-mailbox:reserved-memory:shared-dma-pool"
WARNING = re.compile(r"^(?:\S+: )?Warning \((\w+)\): (.*)$")


def _kv260_systems():
    from zephyr_amp import config
    out = []
    for system in ALL_SYSTEMS:
        res = config.configure(system, [TEST_BOARDS])
        layout = json.loads(res.files["layout.json"])
        if layout["system"]["board"] == "kv260" and linux_domains(layout):
            out.append(system)
    return out


def linux_domains(layout):
    """Every Linux domain: a remoteproc host, or the device side of HVL."""
    return sorted(n for n, d in layout["domains"].items() if d["os"] == "linux")


SYSTEMS = _kv260_systems()
IDS = [system_id(s) for s in SYSTEMS]

# What fails on today's generator, with the file that fixes it (issue 9). A strict xfail
# turns into a failure once the fix lands: then drop the entry. Fixed (h-lfix): reg-names
# order, the IPI mailbox compatible and the split cluster (templates/linux/amp.dtso.j2,
# render.py, boards/kv260.yaml base-labels/tcm-modes); the base's reservations
# (boards/kv260.yaml linux-reserved, layout.py allocates around them, layout.json lists
# them).
KNOWN = {"validate": {}, "dtc": {}, "reserved": {}}
FIX = {"validate": "templates/linux/amp.dtso.j2",
       "dtc": "boards/kv260.yaml + layout.py: allocate around the base reservations",
       "reserved": "boards/kv260.yaml + layout.py: the base's reserved regions"}


def _cases(kind):
    out = []
    for system in SYSTEMS:
        why = KNOWN[kind].get(system_id(system))
        marks = [pytest.mark.xfail(strict=True, reason=f"issue 9: {why}; fixed in {FIX[kind]}")
                 ] if why else []
        out.append(pytest.param(system, id=system_id(system), marks=marks))
    return out


def _run(cmd, cwd=None, stdin=None):
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, input=stdin, capture_output=True,
                       check=False)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))}\n{r.stderr.decode()}"
    return r.stdout, r.stderr.decode()


def _warnings(stderr):
    """dtc's warnings as (check, message), without file names and line numbers."""
    out = set()
    for line in stderr.splitlines():
        m = WARNING.match(line.strip())
        if m:
            out.add((m.group(1), m.group(2)))
    return out


def _dtc_warnings(dtb):
    return _warnings(_run(["dtc", "-I", "dtb", "-O", "dtb", "-o", "/dev/null", dtb])[1])


class Base:
    def __init__(self, work):
        self.work = work
        self.dtb = work / "kv260.dtb"
        self.schema = work / "processed-schema.json"

    def build(self):
        cpp = [need_tool("cpp"), "-nostdinc", "-I", "include", "-I", "arch/arm64/boot/dts",
               "-undef", "-x", "assembler-with-cpp"]
        som, carrier = self.work / "som.dtb", self.work / "carrier.dtbo"
        for src, out in ((f"{XILINX}/zynqmp-smk-k26-revA.dts", som),
                         (f"{XILINX}/zynqmp-sck-kv-g-revB.dtso", carrier)):
            text, _ = _run([*cpp, src], cwd=LINUX_DTS)
            _run(["dtc", "-@", "-I", "dts", "-O", "dtb", "-o", out, "-"], stdin=text)
        _run(["fdtoverlay", "-i", som, "-o", self.dtb, carrier])
        _run(["dt-mk-schema", "-j", "-o", self.schema,
              LINUX_DTS / "Documentation" / "devicetree" / "bindings"])
        self.warnings = _dtc_warnings(self.dtb)
        return self


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    need(LINUX_DTS.is_dir(), f"{LINUX_DTS} is missing (the shared Linux devicetree data)")
    for tool in ("cpp", "dtc", "fdtoverlay", "dt-validate", "dt-mk-schema"):
        need(shutil.which(tool), f"{tool} is not installed (dt-*: pip install dtschema)")
    return Base(tmp_path_factory.mktemp("linux-dts")).build()


@pytest.fixture(scope="module")
def merged(base, generated, tmp_path_factory):  # noqa: F811
    """merged(system) -> (merged dtb, layout.json as a dict, linux domain name)."""
    cache = {}

    def get(system):
        if system not in cache:
            gen = generated(system)
            layout = json.loads((gen / "layout.json").read_text())
            (linux,) = linux_domains(layout)
            work = tmp_path_factory.mktemp(system_id(system).replace(":", "_"))
            dtbo, out = work / "amp.dtbo", work / "merged.dtb"
            _run(["dtc", "-@", "-I", "dts", "-O", "dtb", "-o", dtbo, gen / linux / "amp.dtso"])
            _run(["fdtoverlay", "-i", base.dtb, "-o", out, dtbo])
            cache[system] = (out, layout, linux)
        return cache[system]

    return get


@pytest.mark.parametrize("system", SYSTEMS, ids=IDS)
def test_overlay_applies_to_the_real_base(merged, system):
    dtb, _, _ = merged(system)
    assert dtb.stat().st_size > 0


@pytest.mark.parametrize("system", _cases("dtc"))
def test_merged_tree_adds_no_dtc_warning(base, merged, system):
    dtb, _, _ = merged(system)
    assert sorted(_dtc_warnings(dtb) - base.warnings) == []


def test_base_alone_validates_clean(base):
    """The check is meaningful: upstream's own tree passes it, and a broken node fails it."""
    assert _validate(base, base.dtb) == []
    bad = base.dtb.parent / "bad.dtb"
    dts, _ = _run(["dtc", "-I", "dtb", "-O", "dts", base.dtb])
    lockstep = b'"atcm0\\0btcm0\\0atcm1\\0btcm1"'
    assert lockstep in dts
    dts = dts.replace(lockstep, b'"atcm0\\0atcm1\\0btcm0\\0btcm1"')
    _run(["dtc", "-I", "dts", "-O", "dtb", "-o", bad, "-"], stdin=dts)
    assert any("reg-names" in e for e in _validate(base, bad))


def _validate(base, dtb):
    out, err = _run(["dt-validate", "-s", base.schema, "-l", BINDINGS, dtb])
    text = (out.decode() + err).strip()
    return [line for line in text.splitlines() if not line.startswith("\t")]


@pytest.mark.parametrize("system", _cases("validate"))
def test_dt_validate_passes(base, merged, system):
    dtb, _, _ = merged(system)
    assert _validate(base, dtb) == []


def _reserved(dtb):
    """[(node name, base, size)] of /reserved-memory in a dtb (2 address and 2 size cells)."""
    from devicetree import dtlib
    dts = dtb.with_suffix(".dts")
    dts.write_bytes(_run(["dtc", "-I", "dtb", "-O", "dts", dtb])[0])
    node = dtlib.DT(str(dts)).get_node("/reserved-memory")
    out = []
    for child in node.nodes.values():
        cells = child.props["reg"].to_nums()
        for i in range(0, len(cells), 4):
            out.append((child.name.split("@")[0], cells[i] << 32 | cells[i + 1],
                        cells[i + 2] << 32 | cells[i + 3]))
    return sorted(out, key=lambda r: r[1])


@pytest.mark.parametrize("system", _cases("reserved"))
def test_merged_reserved_memory_is_the_layouts(merged, system):
    dtb, layout, _ = merged(system)
    got = _reserved(dtb)
    want = sorted(((r["dt_name"], r["base"], r["size"]) for r in layout["regions"]
                   if r.get("dt_name") and r["space"] == "phys"), key=lambda r: r[1])
    assert got == want
    for (n1, b1, s1), (n2, b2, _) in zip(got, got[1:]):
        assert b1 + s1 <= b2, f"{n1}@{b1:#x} overlaps {n2}@{b2:#x}"
