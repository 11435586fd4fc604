"""Bad virtio-mmio, HVL and ivshmem system files: one clear message, exit code 1, nothing written.

The table is the specification: for every file in tests/data/invalid_virtio
(each opens with "# Invalid: <why>"), the exact message after
"FILE:LINE:COLUMN: ". Every case runs the real pipeline (config.generate, what
`west amp-config` calls) into a fresh directory; a few run the command itself
in a west workspace for the exit code and a stderr without a traceback.
hvl_no_ipi.yaml uses the test board in invalid_virtio/boards (no mailboxes).
"""


import pytest

from helpers import DATA, assert_west_rejects, west_workspace  # noqa: F401
from zephyr_amp import config
from zephyr_amp.errors import AmpError, LayoutError

INVALID = DATA / "invalid_virtio"
BOARDS = INVALID / "boards"

# (file, line, column, message after "file:line:column: ")
CASES = [
    ('board_slot_held_by_other.yaml', 11, 39,
     "links[0].devices[0].slot: slot 0 of domain app holds device net0, but Zephyr's qemu_cortex_a53 board.cmake attaches its own QEMU entropy device to virtio-mmio-bus.0 (west build -t run); give rng0 slot 0 and net0 another"),
    ('buffer_size_zero.yaml', 14, 46,
     'links[0].devices[0].buffer-size: buffer-size is 0; give the bytes one descriptor carries, e.g. 2048'),
    ('devices_empty.yaml', 10, 14,
     'links[0].devices: a virtio-mmio link needs at least one device; add devices: [{name: rng0, type: entropy}]'),
    ('driver_is_linux.yaml', 9, 13,
     "links[0].driver: driver 'lnx' runs linux; this tool generates virtio driver files for Zephyr only; make a Zephyr domain the driver"),
    ('duplicate_device_name.yaml', 12, 16,
     "links[0].devices[1].name: device 'rng0' is already in this link (devices[0]); give each device its own name"),
    ('entropy_not_in_board_slot.yaml', 11, 43,
     "links[0].devices[0].slot: entropy device rng0 is in slot 3, but Zephyr's qemu_cortex_a53 board.cmake attaches its own QEMU entropy device to virtio-mmio-bus.0 (west build -t run); give it slot 0, or leave slot out"),
    ('hvl_between_qemu_instances.yaml', 11, 16,
     'links[0].transport: on board qemu_cortex_a53 every domain is its own QEMU instance, so driver and device share no memory; use an ivshmem link, or transport: native'),
    ('hvl_device_is_zephyr.yaml', 13, 13,
     "links[0].device: device 'rpu1' runs zephyr; this tool writes the HVL device side (overlay and device file) for Linux only; make a Linux domain the device"),
    ('hvl_ipi_wrong_core.yaml', 13, 10,
     'links[0].ipi: mailbox rpu1_apu does not reach r5_0, the core of driver rpu0; name a mailbox between the driver and the device'),
    ('hvl_link_type.yaml', 10, 11,
     "links[0].type: 'hvl' is not allowed; use one of: rpmsg, virtio-mmio, ivshmem"),
    ('hvl_no_ipi.yaml', 9, 5,
     'links[0]: HVL kicks go through an IPI, and board zynqmp_noipi has no mailbox between r5_0 (driver rpu0) and linux; use a board with inter-processor interrupts'),
    ('hvl_pool_too_small.yaml', 14, 11,
     'links[0].pool: a pool of 0x1000 bytes is too small for the queues of hvl0 (net0 2 x 64 x 2048 bytes: 0x40000); use at least 0x40000, or leave pool out'),
    ('hvl_region_too_small.yaml', 10, 11,
     'shared-memory[0].size: shared memory hvl_shm is 0x10000 bytes; hvl0 needs 0x45000 (windows 0x1000, vrings 0x4000, pool 0x40000); use at least 0x45000, or leave size out'),
    ('hvl_shm_shared_with_rpmsg.yaml', 22, 10,
     'links[1].shm: shared memory shm is the pre-shared region of hvl link links[0] and also used by links[1]; HVL takes the whole region; give each link its own shared memory'),
    ('hvl_windows_past_region.yaml', 9, 11,
     'shared-memory[0].size: the 3 virtio-mmio windows of hvl0 (0x600 bytes) run past the end of shared memory hvl_shm (0x400 bytes); use at least 0x5c000, or leave size out'),
    ('hvl_without_device.yaml', 8, 5,
     'links[0]: an hvl link needs a device domain; add device: <domain>'),
    ('ivshmem_linux_peer.yaml', 11, 11,
     "links[0].host: host 'lnx' runs linux; this tool generates ivshmem files for Zephyr only; make it a Zephyr domain"),
    ('ivshmem_not_qemu.yaml', 10, 11,
     'links[0].type: ivshmem joins two QEMU instances, and on board kv260 the domains are not QEMU instances of their own; use an rpmsg link, or a board with one QEMU per domain (qemu_cortex_a53)'),
    ('ivshmem_same_domain.yaml', 10, 13,
     'links[0].remote: host and remote are the same domain; an ivshmem link joins two QEMU instances'),
    ('ivshmem_size_not_pow2.yaml', 12, 11,
     'links[0].size: 3M is not a power of two; QEMU maps the shared memory as a PCI BAR; use 0x400000'),
    ('ivshmem_size_too_small.yaml', 13, 11,
     'links[0].size: 0x4000 bytes of shared memory cannot hold ivshmem0: status 0x1000, vrings 2 x 0x1000, buffers 16 x 512 (0x5000 in all); use 0x8000, or leave size out'),
    ('ivshmem_too_few_buffers.yaml', 14, 22,
     'links[0].buffers.count: the OpenAMP host hands the remote 16 receive buffers up front; 8 buffers are not enough; use 32'),
    ('native_without_transports.yaml', 10, 16,
     'links[0].transport: board kv260 has no virtio-mmio transports of its own; use transport: hvl (virtio-mmio windows in shared memory)'),
    ('pool_on_native.yaml', 11, 5,
     "links[0].pool: 'pool' applies to transport: hvl only; on the native transport QEMU provides the devices; remove it, or use transport: hvl"),
    ('queue_size_not_pow2.yaml', 13, 21,
     'links[0].devices[0].queue-size: 100 is not a power of two up to 32768; use 128'),
    ('slot_on_hvl.yaml', 15, 33,
     "links[0].devices[0].slot: 'slot' applies to the native transport only; HVL windows follow each other from the start of the shared region; remove it"),
    ('slot_out_of_range.yaml', 13, 15,
     'links[0].devices[0].slot: slot 32 is out of range: board qemu_cortex_a53 has 32 virtio-mmio transports; use a slot from 0 to 31, or leave slot out'),
    ('slot_taken_by_other_link.yaml', 15, 45,
     'links[1].devices[0].slot: slot 0 of domain app is already taken by device rng0 (links[0].devices[0], given it automatically); give each device its own slot, or leave slot out'),
    ('too_few_queues.yaml', 11, 41,
     'links[0].devices[0].queues: a net device needs at least 2 queues (receiveq, transmitq); use 2 or more'),
    ('two_devices_one_slot.yaml', 12, 43,
     'links[0].devices[1].slot: slot 0 of domain app is already taken by device net0 (links[0].devices[0]); give each device its own slot, or leave slot out'),
    ('two_hvl_links_one_driver.yaml', 18, 13,
     'links[1].driver: domain rpu0 already drives the hvl link links[0]; the HVL code has one shared region (__shmem0_*); put all its devices in that link'),
    ('unknown_device_type.yaml', 11, 28,
     "links[0].devices[0].type: unknown virtio device type 'nett'; did you mean 'net'?"),
    ('unknown_transport.yaml', 9, 16,
     "links[0].transport: 'hvm' is not allowed; did you mean 'hvl'?"),
    ('vectors_without_doorbell.yaml', 12, 5,
     "links[0].vectors: vectors are the doorbell's MSI-X interrupts and this link has no doorbell; remove vectors, or add doorbell: true"),
]

LAYOUT_ERRORS = {"hvl_pool_too_small.yaml", "hvl_region_too_small.yaml",
                 "hvl_windows_past_region.yaml", "ivshmem_size_too_small.yaml"}


def test_table_and_directory_agree():
    files = {p.name for p in INVALID.glob("*.yaml")}
    listed = [c[0] for c in CASES]
    assert len(listed) == len(set(listed)), "a file is listed twice"
    assert files == set(listed)
    assert len(files) >= 15


@pytest.mark.parametrize("name", sorted(p.name for p in INVALID.glob("*.yaml")))
def test_each_file_says_why_it_is_invalid(name):
    assert (INVALID / name).read_text().startswith("# Invalid: "), name


@pytest.mark.parametrize("name,line,column,message", CASES, ids=[c[0] for c in CASES])
def test_bad_input(name, line, column, message, tmp_path):
    path = INVALID / name
    out = tmp_path / "build" / "amp" / "out"
    try:
        config.generate(path, out, board_roots=[BOARDS])
    except AmpError as e:
        err = e
    else:
        pytest.fail(f"{name} was accepted")
    assert str(err) == f"{path}:{line}:{column}: {message}"
    assert (err.file, err.line, err.column) == (str(path), line, column)
    assert err.exit_code == 1
    assert isinstance(err, LayoutError) == (name in LAYOUT_ERRORS)
    assert list(tmp_path.iterdir()) == [], "something was written"


def test_a_bad_run_keeps_the_previous_output(tmp_path):
    out = tmp_path / "out"
    config.generate(DATA.parent.parent / "systems" / "qemu-a53-virtio.yaml", out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(AmpError):
        config.generate(INVALID / "two_devices_one_slot.yaml", out)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before


COMMAND_CASES = ["two_devices_one_slot.yaml", "hvl_pool_too_small.yaml",
                 "ivshmem_not_qemu.yaml", "hvl_no_ipi.yaml"]


@pytest.mark.parametrize("name", COMMAND_CASES)
def test_bad_input_through_west(name, west_workspace, tmp_path):  # noqa: F811
    line, column, message = next(c[1:] for c in CASES if c[0] == name)
    assert_west_rejects(west_workspace, INVALID / name, line, column, message, tmp_path, BOARDS)
