"""What each sample of the bundled matrices reads, and whether the generated files give it.

NEEDS is a table written from the samples' sources (where they were read is in `source`):
the chosen nodes and node labels the sample's C reads from the devicetree, the Kconfig
options it needs from amp.conf (those its own prj.conf and board files do not set), and
what amp.conf or amp.overlay must not do to it. For every entry of
matrix/amp-matrix.yaml and amp-matrix-staging.yaml the test generates the entry's system,
parses the board DTS plus the domain's amp.overlay with Zephyr's edtlib (as Zephyr's build
merges them), and checks each need. Every sample of both matrices must have a row.

Besides the samples, what any build with the generated files needs from the drivers that
amp.conf enables (SYSTEM_NEEDS): the ivshmem doorbell path calls k_poll_signal_raise()
(drivers/virtualization/virt_ivshmem.c; IVSHMEM_DOORBELL does not select POLL), the GIC
ITS allocates its tables from the system heap, and Zephyr v4.4's
drivers/virtio/virtio_mmio.c uses DT_INST_IRQN()/DT_INST_IRQ(inst, priority) on every
enabled virtio,mmio node.
"""

import re

import pytest

from helpers import BOARD_DTS, board_edt, generated, matrix_jobs, preprocess, zephyr_domains  # noqa: F401

edtlib = pytest.importorskip("devicetree.edtlib")

# sample path -> what it reads; `sample_sets` are Kconfig options its own files set.
NEEDS = {
    "zephyr/samples/subsys/ipc/openamp_rsc_table": {
        "source": "zephyrproject-rtos/zephyr samples/subsys/ipc/openamp_rsc_table/"
                  "src/main_remote.c (DT_CHOSEN(zephyr_ipc_shm) lines 30-37, "
                  "DT_CHOSEN(zephyr_ipc) line 53; same in v3.7), prj.conf",
        "chosen": ["zephyr,ipc_shm", "zephyr,ipc"],
        "kconfig": {},
        "sample_sets": {"IPM": "y", "OPENAMP": "y", "OPENAMP_RSC_TABLE": "y",
                        "OPENAMP_MASTER": "n"},
    },
    "openamp-system-reference/examples/zephyr/rpmsg_multi_services": {
        "source": "OpenAMP/openamp-system-reference@843ec10 examples/zephyr/"
                  "rpmsg_multi_services/src/main_remote.c (DT_CHOSEN(zephyr_ipc_shm) line 30, "
                  "DT_CHOSEN(zephyr_ipc) line 53), prj.conf, boards/kv260_r5.overlay",
        "chosen": ["zephyr,ipc_shm", "zephyr,ipc"],
        "kconfig": {},
        "sample_sets": {"IPM": "y", "OPENAMP": "y", "OPENAMP_RSC_TABLE": "y",
                        "OPENAMP_MASTER": "n"},
    },
    "openamp-system-reference/examples/zephyr/dual_qemu_ivshmem/host": {
        "source": "OpenAMP/openamp-system-reference@843ec10 examples/zephyr/dual_qemu_ivshmem/"
                  "rpmsg_ivshmem_backend/rpmsg_ivshmem_backend.c (DEVICE_DT_GET("
                  "DT_NODELABEL(ivshmem0)) line 42, its own ivshmem_ev_loop_stack line 38, "
                  "#if CONFIG_OPENAMP_MASTER), host/app.overlay, host/prj.conf, "
                  "host/boards/qemu_cortex_a53.conf",
        # its app.overlay declares /ivhsmem/ivshmem (label ivshmem0); a qemu,ivshmem node of
        # ours must be that node, or there are two instances of the one PCI device
        "ivshmem_path": "/ivhsmem/ivshmem",
        "kconfig": {},
        # an okay linaro,ivshmem-ipm node turns on IPM_IVSHMEM (drivers/ipm/Kconfig: default y,
        # depends on DT_HAS_LINARO_IVSHMEM_IPM_ENABLED), whose ipm_ivshmem.c defines
        # ivshmem_ev_loop_stack too: multiple definition at link time
        "forbid_compat": ["linaro,ivshmem-ipm"],
        "sample_sets": {"POLL": "y", "IVSHMEM_DOORBELL": "y", "OPENAMP": "y",
                        "HEAP_MEM_POOL_SIZE": "1048576"},
    },
    "openamp-system-reference/examples/zephyr/dual_qemu_ivshmem/remote": {
        "source": "as host; remote/prj.conf sets CONFIG_OPENAMP_MASTER=n",
        "ivshmem_path": "/ivhsmem/ivshmem",
        "kconfig": {},
        "forbid_compat": ["linaro,ivshmem-ipm"],
        "forbid": {"OPENAMP_MASTER": "y"},
        "sample_sets": {"POLL": "y", "IVSHMEM_DOORBELL": "y", "OPENAMP": "y",
                        "OPENAMP_MASTER": "n", "HEAP_MEM_POOL_SIZE": "1048576"},
    },
    "zephyr/samples/virtio/entropy": {
        "source": "OpenAMP/openamp-zephyr-staging (virtio-exp) samples/virtio/entropy/boards/"
                  "xenvm_gicv3.overlay: chosen zephyr,entropy = the virtio rng (the sample's C "
                  "is not in the stored index)",
        "chosen": ["zephyr,entropy"],
        "kconfig": {"ENTROPY_GENERATOR": "y"},
    },
    # Not readable here (only the entropy overlay of the staging fork is in the stored
    # index): rows without needs, so a new sample still needs a row.
    "zephyr/samples/virtio/net/DHCP": {"source": None},
    "zephyr/samples/virtio/serial/shell_poll": {"source": None},
    "zephyr/samples/virtio/hvl_net_rng_reloc": {"source": None},
}

# (system stem or sample, check) -> reason, for what fails on today's generator (strict
# xfails: a fix makes them pass and the entry goes)
KNOWN = {}


JOBS = matrix_jobs()


def _param(job, check):
    why = KNOWN.get((job.sample, check)) or KNOWN.get((job.system.stem, check))
    marks = [pytest.mark.xfail(strict=True, reason=why)] if why else []
    return pytest.param(job, id=job.id, marks=marks)


def _conf(path):
    """{OPTION: value} of a Kconfig fragment (without CONFIG_)."""
    out = {}
    for line in path.read_text().splitlines():
        m = re.match(r"CONFIG_(\w+)=(.*)$", line.strip())
        if m:
            out[m.group(1)] = m.group(2).strip('"')
    return out


def _edt(zephyr_dts, target, overlay, tmp):
    return board_edt(zephyr_dts, target, [overlay], tmp)


def _files(generated, job):  # noqa: F811
    out = generated(job.system)
    return out / job.domain / "amp.overlay", _conf(out / job.domain / "amp.conf")


def test_every_matrix_sample_has_a_row():
    missing = sorted({j.sample for j in JOBS} - set(NEEDS))
    assert not missing, f"add what these samples read to NEEDS: {missing}"
    assert not sorted(set(NEEDS) - {j.sample for j in JOBS}), "rows for samples no matrix has"


@pytest.mark.parametrize("job", [_param(j, "sample") for j in JOBS])
def test_generated_files_give_the_sample_what_it_reads(job, generated, zephyr_dts,  # noqa: F811
                                                       tmp_path):
    need = NEEDS[job.sample]
    if need["source"] is None:
        pytest.skip(f"{job.sample}: its sources are not readable here")
    overlay, conf = _files(generated, job)
    target = job.board.split("/")[0]
    edt = _edt(zephyr_dts, target, overlay, tmp_path)
    problems = []
    for prop in need.get("chosen", []):
        node = edt.chosen_node(prop)
        if node is None:
            problems.append(f"no chosen {prop}")
        elif node.status != "okay":
            problems.append(f"chosen {prop} is {node.path}, which is {node.status}")
    for opt, value in need.get("kconfig", {}).items():
        if conf.get(opt) != value and need.get("sample_sets", {}).get(opt) != value:
            problems.append(f"CONFIG_{opt}={value} is set by neither amp.conf nor the sample")
    for opt, value in need.get("forbid", {}).items():
        if conf.get(opt) == value:
            problems.append(f"amp.conf sets CONFIG_{opt}={value}, which breaks this sample")
    for compat in need.get("forbid_compat", []):
        problems += [f"{n.path}: an enabled {compat} node breaks this sample"
                     for n in edt.compat2okay.get(compat, [])]
    if "ivshmem_path" in need:
        for node in edt.compat2okay.get("qemu,ivshmem", []):
            if node.path != need["ivshmem_path"]:
                problems.append(f"{node.path}: a qemu,ivshmem node besides the sample's "
                                f"{need['ivshmem_path']}")
    assert not problems, f"{job.sample} ({job.where}): " + "; ".join(problems)


def _domain_params(check):
    seen, out = set(), []
    for job in JOBS:
        if (job.system, job.domain) not in seen:
            seen.add((job.system, job.domain))
            out.append(_param(job, check))
    return out


@pytest.mark.parametrize("job", _domain_params("poll"))
def test_ivshmem_doorbell_has_poll(job, generated):  # noqa: F811
    _, conf = _files(generated, job)
    if conf.get("IVSHMEM_DOORBELL") == "y":
        assert conf.get("POLL") == "y", "virt_ivshmem.c calls k_poll_signal_raise()"


@pytest.mark.parametrize("job", _domain_params("heap"))
def test_gic_its_has_a_heap(job, generated):  # noqa: F811
    _, conf = _files(generated, job)
    if conf.get("GIC_V3_ITS") == "y":
        assert int(conf.get("HEAP_MEM_POOL_SIZE", "0"), 0) >= 1048576, \
            "the ITS allocates its tables from the heap (OpenAMP's example sets 1 MiB)"


@pytest.mark.parametrize("job", _domain_params("irq"))
def test_enabled_virtio_mmio_nodes_have_interrupts(job, generated, zephyr_dts,  # noqa: F811
                                                   tmp_path):
    overlay, _ = _files(generated, job)
    edt = _edt(zephyr_dts, job.board.split("/")[0], overlay, tmp_path)
    bare = [n.path for n in edt.compat2okay.get("virtio,mmio", []) if not n.interrupts]
    assert not bare, f"virtio_mmio.c needs DT_INST_IRQN() of {bare}"


def test_checks_catch_a_missing_chosen(generated, zephyr_dts, tmp_path):  # noqa: F811
    """The chosen check can fail: without zephyr,ipc_shm the rsc-table sample's need is unmet."""
    job = next(j for j in JOBS if j.sample.endswith("openamp_rsc_table"))
    overlay, _ = _files(generated, job)
    stripped = tmp_path / "amp.overlay"
    stripped.write_text(re.sub(r"\s*zephyr,ipc_shm = [^;]*;", "", overlay.read_text()))
    edt = _edt(zephyr_dts, job.board.split("/")[0], stripped, tmp_path)
    assert edt.chosen_node("zephyr,ipc_shm") is None
    assert edt.chosen_node("zephyr,ipc") is not None
