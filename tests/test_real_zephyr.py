"""Real Zephyr, when ZEPHYR_BASE points at a tree in a west workspace (skipped otherwise).

For every entry of the bundled matrices (matrix/amp-matrix.yaml and
amp-matrix-staging.yaml) that the tree can build (the sample is in the workspace and
the tree has the architecture of the entry's core: arch/arm for the R5, arch/arm64 for
the A53), this runs the real `west build` with the generated files, exactly as
`west amp-build` does (the amp-build library: build.plan/preflight/run), then:
- amp-validate's checks on the real ELF (an error fails the entry);
- build/zephyr/zephyr.dts, the devicetree Zephyr really used: its chosen zephyr,sram is
  the domain's sram of layout.json, and zephyr,ipc_shm (where the layout gives the
  domain a shared region at a fixed address) is that region.

The generated files target the tree's Zephyr version (zephyr/VERSION). The toolchain is
the caller's environment, e.g. for the v3.7 tree of /work/notes/zephyr37.md:
ZEPHYR_TOOLCHAIN_VARIANT=cross-compile CROSS_COMPILE=/usr/bin/aarch64-linux-gnu-
EXTRA_CFLAGS=-mno-outline-atomics.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from helpers import matrix_jobs

BASE = os.environ.get("ZEPHYR_BASE")
pytestmark = pytest.mark.skipif(not BASE, reason="ZEPHYR_BASE is not set")

ARCH_DIR = {"arm": "arm", "aarch64": "arm64"}

# Entries that fail with a real tree for a reason named here, by sample path (strict xfails).
KNOWN = {}


def _topdir(base):
    r = subprocess.run([sys.executable, "-m", "west", "topdir"], cwd=base, check=False,
                       capture_output=True, text=True)
    return Path(r.stdout.strip()) if r.returncode == 0 else None


def _buildable_jobs():
    """pytest params for the matrix entries this tree can build ([] without a tree)."""
    if not BASE or not (Path(BASE) / "VERSION").is_file():
        return []
    from zephyr_amp import config, zephyr_version
    from zephyr_amp.errors import AmpError
    base = Path(BASE).resolve()
    top = _topdir(base)
    if top is None:
        return []
    version = zephyr_version.target(zephyr_base=str(base))
    out, arch = [], {}
    for job in matrix_jobs():
        if job.system not in arch:
            try:
                result = config.configure(job.system, zephyr_version=version)
            except AmpError:        # needs what this Zephyr lacks (virtio on 3.7)
                arch[job.system] = None
            else:
                layout = json.loads(result.files["layout.json"])
                arch[job.system] = {n: d.get("arch") for n, d in layout["domains"].items()}
        if arch[job.system] is None:
            continue
        core = ARCH_DIR.get(arch[job.system][job.domain])
        if not (top / job.sample).is_dir() or not (base / "arch" / str(core)).is_dir():
            continue
        why = KNOWN.get(job.sample)
        marks = [pytest.mark.xfail(strict=True, reason=why)] if why else []
        out.append(pytest.param(job, id=f"{job.sample}@{job.board}:{job.system.stem}:"
                                f"{job.domain}", marks=marks))
    return out


JOBS = _buildable_jobs()


@pytest.fixture
def targeted(monkeypatch):
    """Generate for the tree's Zephyr version (zephyr_version.target() reads its VERSION):
    amp-build's configure step is given it until build.py passes it itself."""
    from zephyr_amp import config, zephyr_version
    version = zephyr_version.target(zephyr_base=BASE)
    plain = config.configure

    def configure(*args, **kw):
        kw.setdefault("zephyr_version", version)
        return plain(*args, **kw)

    monkeypatch.setattr(config, "configure", configure)
    return version


def test_the_tree_builds_something():
    assert JOBS, (f"no entry of the bundled matrices can be built in the workspace of "
                  f"{BASE} (samples missing, or no arch/arm nor arch/arm64)")


@pytest.mark.parametrize("job", JOBS)
def test_real_west_build(job, tmp_path, targeted):
    from west.manifest import Manifest

    from zephyr_amp import build
    base = Path(BASE).resolve()
    top = _topdir(base)
    manifest = Manifest.from_topdir(topdir=str(top))
    in_ws = any(p.abspath and Path(p.abspath).resolve() == REPO.resolve()
                for p in manifest.projects)
    plan = build.plan([job], tmp_path / "out", top, extra_module=not in_ws, pristine=True)
    plan.zephyr = base
    build.preflight(plan)
    run = build.run(plan)
    (result,) = run.results
    assert result.passed, build.failure_details(result)
    errors = [f for f in result.findings if f["severity"] == "error"]
    warnings = [f for f in result.findings if f["severity"] == "warning"]
    print(f"{job.label}: west build {result.word} in {result.duration:.0f} s; amp-validate: "
          f"{len(errors)} error(s), {len(warnings)} warning(s)")
    step = plan.steps[0]
    layout = step.system.layout.to_json()    # the layout.json document amp-build checked
    _check_chosen(step.build_dir / "zephyr" / "zephyr.dts", layout, job.domain)
    _check_image_end(step.elf, layout, job.domain)


def _check_image_end(elf_path, layout, domain):
    """Zephyr's end-of-image symbols (where a heap may start) inside zephyr,sram, with
    the generated amp_sections.ld linked in."""
    from elftools.elf.elffile import ELFFile
    sram = layout["domains"][domain]["sram"]
    lo, hi = sram["address"], sram["address"] + sram["size"]
    with open(elf_path, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        for name in ("_end", "_image_ram_end"):
            (sym,) = symtab.get_symbol_by_name(name)
            value = sym["st_value"]
            print(f"{elf_path.name}: {name} = {value:#x}, zephyr,sram [{lo:#x}, {hi:#x})")
            assert lo <= value <= hi, f"{name} = {value:#x} is outside zephyr,sram"


def _reg(node):
    cells = node.props["reg"].to_nums()
    addr_cells = node.parent.props["#address-cells"].to_num()
    size_cells = node.parent.props["#size-cells"].to_num()

    def num(xs):
        v = 0
        for x in xs:
            v = v << 32 | x
        return v

    return num(cells[:addr_cells]), num(cells[addr_cells:addr_cells + size_cells])


def _check_chosen(dts_path, layout, domain):
    from devicetree import dtlib
    dt = dtlib.DT(str(dts_path))
    chosen = dt.get_node("/chosen")
    dom = layout["domains"][domain]

    def target(name):
        assert name in chosen.props, f"{dts_path}: no chosen {name}"
        return chosen.props[name].to_path()

    sram = target("zephyr,sram")
    assert _reg(sram) == (dom["sram"]["address"], dom["sram"]["size"]), sram.path
    shm = [r for r in layout["regions"] if r["kind"] == "shm" and domain in r["users"]
           and r["space"] == "phys"]
    if shm:
        node = target("zephyr,ipc_shm")
        assert _reg(node) == (shm[0]["base"], shm[0]["size"]), node.path


# -- the unchanged resource-table sample against the generated table ------------------

RSC_SAMPLE = "zephyr/samples/subsys/ipc/openamp_rsc_table"
RSC_SYSTEM = REPO / "tests" / "data" / "valid" / "qemu-a53-rpmsg.yaml"   # a vdev, zephyr,ipc_shm
IPM_OVERLAY = REPO / "tests" / "data" / "real_zephyr" / "ipi-mailbox.overlay"   # zephyr,ipc


def test_rsc_table_sample_builds_against_the_generated_table(tmp_path):
    """Zephyr's openamp_rsc_table, unchanged, for qemu_cortex_a53 (the A53 tree builds it),
    with the files of a system whose Zephyr domain has an rpmsg vdev, for the tree's
    version: it compiles against the generated resource_table.h (the generated directory
    first on the include path), links with the generated resource_table.c and not
    lib/open-amp's, and the ELF passes amp-validate with _end inside zephyr,sram."""
    from west.manifest import Manifest

    from helpers import TEST_BOARDS
    from zephyr_amp import config, elfcheck, zephyr_version
    base = Path(BASE).resolve()
    top = _topdir(base)
    if top is None or not (top / RSC_SAMPLE).is_dir() or not (base / "arch" / "arm64").is_dir():
        pytest.skip(f"{RSC_SAMPLE} for qemu_cortex_a53 cannot be built in this tree")
    result = config.generate(RSC_SYSTEM, tmp_path / "gen", board_roots=[TEST_BOARDS],
                             zephyr_version=zephyr_version.target(zephyr_base=str(base)))
    gen = result.out_dir / "zep"
    manifest = Manifest.from_topdir(topdir=str(top))
    in_ws = any(p.abspath and Path(p.abspath).resolve() == REPO.resolve()
                for p in manifest.projects)
    build_dir = tmp_path / "build"
    cmd = [sys.executable, "-m", "west", "build", "-p", "always", "-b", "qemu_cortex_a53",
           "-d", str(build_dir), str(top / RSC_SAMPLE), "--",
           f"-DEXTRA_DTC_OVERLAY_FILE={gen / 'amp.overlay'};{IPM_OVERLAY}",
           f"-DEXTRA_CONF_FILE={gen / 'amp.conf'}", f"-DAMP_CMAKE={gen / 'amp.cmake'}",
           "-DCONFIG_KERNEL_BIN_NAME=\"zephyr\""]
    if not in_ws:
        cmd.append(f"-DEXTRA_ZEPHYR_MODULES={REPO}")
    r = subprocess.run(cmd, cwd=top, capture_output=True, text=True)
    assert r.returncode == 0, "\n".join((r.stdout + r.stderr).splitlines()[-40:])
    ninja = (build_dir / "build.ninja").read_text()
    assert f"{gen}/resource_table.c" in ninja
    assert "lib/open-amp/resource_table.c" not in ninja
    includes = list(dict.fromkeys(re.findall(r"-I(\S+)", ninja)))
    openamp = next(i for i, d in enumerate(includes) if d.rstrip("/.").endswith("lib/open-amp"))
    assert includes.index(str(gen)) < openamp, includes[:openamp + 1]
    elf = build_dir / "zephyr" / "zephyr.elf"
    report = elfcheck.check_elf(str(elf), result.layout.to_json(), "zep")
    print(f"{RSC_SAMPLE} ({RSC_SYSTEM.name}:zep, Zephyr {result.system.zephyr_version}): "
          f"{report.verdict()}")
    assert not report.errors, report.verdict()
    _check_image_end(elf, result.layout.to_json(), "zep")
