"""Bad system files: each one fails with one clear message, exit code 1, and writes nothing.

The table below is the specification: for every file in tests/data/invalid
(each opens with a comment saying why it is invalid; empty.yaml is empty on
purpose), the exact message after "FILE:LINE:COLUMN: ", and its line and
column. Most cases run through config.generate (what `west amp-config`
calls); a few run the real command in a west workspace to check the exit
code and that stderr carries the message and no traceback.
"""

import subprocess
from pathlib import Path

import pytest

from helpers import DATA, TEST_BOARDS, assert_west_rejects, west_workspace  # noqa: F401
from zephyr_amp import config
from zephyr_amp.errors import AmpError, LayoutError

INVALID = DATA / "invalid"

# (file, line, column, message after "file:line:column: ")
CASES = [
    ('alias_bomb.yaml', 8, 37,
     'description.f[1][1][3][8][7][9]: more than 250000 values once YAML aliases are expanded; write the values out, without nested aliases'),
    ('align_not_pow2.yaml', 17, 14,
     'links[0].vring.align: 24 is not a power of two of at least 4; use 16 (Zephyr) or 0x1000 (Linux page)'),
    ('board_is_a_path.yaml', 4, 8,
     "board: '../kv260' is not a valid name; use lowercase letters, digits and '_' (or '-' in a system name), starting with a letter"),
    ('bad_enum_os.yaml', 6, 9,
     "domains[0].os: 'zepyhr' is not allowed; did you mean 'zephyr'?"),
    ('bad_name.yaml', 2, 7,
     "name: 'My System' is not a valid name; use lowercase letters, digits and '_' (or '-' in a system name), starting with a letter"),
    ('bad_size_unit.yaml', 10, 11,
     "shared-memory[0].size: '12 parsecs' is not a size; write a size such as 4096, 0x1000, 64K or 1M"),
    ('buffer_count_zero.yaml', 17, 14,
     'links[0].buffers.count: buffer count must be positive; use 16'),
    ('buffer_size_linux.yaml', 17, 13,
     "links[0].buffers.size: Linux's virtio_rpmsg_bus uses 512-byte buffers (MAX_RPMSG_BUF_SIZE); use 512 or remove it"),
    ('carveout_named_like_a_vring.yaml', 14, 15,
     "domains[1].carveouts[0].name: 'vdev0vring0' is the name of a region amp-config makes for Linux remoteproc (firmware memory, vdevNvringM, vdevNbuffer); give the carveout another name"),
    ('carveout_overlaps_pool.yaml', 16, 5,
     'shared-memory[0]: ipc [0x3ed00000, 0x3ed80000) overlaps rpu0_dma [0x3ed40000, 0x3ed50000); move one of them (or leave base out to have it allocated)'),
    ('comments_only.yaml', 1, 1,
     'the file is empty; start from one of the files in systems/'),
    ('core_used_twice.yaml', 11, 13,
     "domains[1].cores[0]: core r5_0 is already used by domain 'rpu0'; give each core to one domain"),
    ('deep_nesting.yaml', 6, 113,
     'YAML nested more than 100 levels deep; a system file needs a few levels of maps and lists'),
    ('domain_named_shared.yaml', 6, 11,
     "domains[0].name: 'shared' is the owner layout.json gives to shared regions; give the domain another name"),
    ('domains_empty.yaml', 4, 10,
     'domains: a system needs at least one domain; list the domains that run on the board'),
    ('domains_null.yaml', 4, 9,
     'domains: expected a list, got nothing; give it a value'),
    ('duplicate_domain_name.yaml', 9, 11,
     "domains[1].name: domain 'rpu0' is already defined (domains[0]); give each domain its own name"),
    ('duplicate_key.yaml', 9, 5,
     'domains[0].os: duplicate key (first given on line 7); give each key once'),
    ('duplicate_link_name.yaml', 21, 11,
     "links[1].name: link 'rpmsg0' is already defined (links[0]); give each link its own name"),
    ('empty.yaml', 1, 1,
     'the file is empty; start from one of the files in systems/'),
    ('firmware_on_linux.yaml', 9, 5,
     'domains[0].firmware: only Zephyr domains have firmware that amp-config places; remove it'),
    ('firmware_too_small.yaml', 12, 13,
     'domains[0].firmware.size: firmware memory of 0x1000 bytes leaves no room beside the 0x1000-byte table and trace slot; use at least 0x2000'),
    ('hidden_behind_tcm.yaml', 12, 5,
     'shared-memory[0]: ipc [0x10000, 0x20000) is hidden behind the TCM of rpu0 (local addresses below 0x40000); place it at or above 0x40000'),
    ('host_is_remote.yaml', 12, 13,
     'links[0].remote: host and remote are the same domain; an rpmsg link joins two domains'),
    ('huge_number.yaml', 10, 11,
     'shared-memory[0].size: 0x100000000000000000 does not fit in 64 bits; use a size below 0x10000000000000000'),
    ('key_not_for_link_type.yaml', 16, 5,
     "links[0].peers: 'peers' does not apply to a rpmsg link; keys of a rpmsg link: base, buffers, host, mailbox, remote, shm, vring"),
    ('links_null.yaml', 9, 7,
     'links: expected a list, got nothing; give it a value or remove the key'),
    ('lockstep_core_taken.yaml', 12, 11,
     "domains[1].mode: lockstep takes core r5_1, which domain 'rpu1' uses; use split mode"),
    ('merge_key.yaml', 9, 5,
     'domains[1]: YAML merge keys (<<) are not supported; write the keys out'),
    ('misspelt_required_key.yaml', 4, 1,
     "bord: unknown key 'bord'; did you mean 'board'?"),
    ('misaligned_base.yaml', 10, 11,
     'shared-memory[0].base: shared memory ipc base 0x3ed40100 is not aligned to the 0x1000-byte page; use 0x3ed41000'),
    ('missing_link_type.yaml', 12, 5,
     "links[0].type: required key 'type' is missing; add it"),
    ('mode_without_modes.yaml', 8, 11,
     "domains[0].mode: cluster of a53_0 has no modes; remove 'mode'"),
    ('no_target_no_default.yaml', 6, 5,
     "domains[0]: domain 'mcu' needs a Zephyr board target; add target: <board>"),
    ('not_a_map.yaml', 2, 1,
     'a system YAML is a map with name, board, domains and links; start from one of the files in systems/'),
    ('num_not_pow2.yaml', 17, 12,
     'links[0].vring.num: 300 is not a power of two up to 32768; use 256'),
    ('num_too_large.yaml', 18, 12,
     'links[0].vring.num: 65536 is more than the 32768 descriptors a vring can have; use 32768'),
    ('os_not_on_core.yaml', 6, 9,
     'domains[0].os: core r5_0 (cortex-r5f) does not run linux; it runs: zephyr'),
    ('outside_memory.yaml', 10, 11,
     'shared-memory[0].base: shared memory ipc [0x7ff80000, 0x80080000) is outside ddr_low [0x0, 0x80000000); give a base between 0x0 and 0x7ff00000'),
    ('overlap_pools.yaml', 13, 5,
     'shared-memory[1]: ipc_b [0x3ed80000, 0x3ee80000) overlaps ipc_a [0x3ed40000, 0x3ee40000); move one of them (or leave base out to have it allocated)'),
    ('pool_in_private_memory.yaml', 11, 13,
     'shared-memory[0].memory: ocm is not reachable by every core; use one of: ddr_low'),
    ('pool_size_zero.yaml', 10, 11,
     'shared-memory[0].size: size is 0; give a size, or leave it out to have it computed'),
    ('pool_too_small.yaml', 14, 11,
     'shared-memory[0].size: ipc is 0x2000 bytes, its links need 0x4000 (vrings and rpmsg buffers of rpmsg0); use at least 0x4000, or leave size out'),
    ('python_tag.yaml', 4, 14,
     'description: YAML tag !!python/object/apply:os.system is not allowed here; use plain maps, lists, numbers and strings'),
    ('r5_firmware_above_4g.yaml', 7, 5,
     'domains[0].firmware: rpu0_fw [0x800000000, 0x800100000) is above 4 GiB; the 32-bit cores of rpu0 cannot reach it; place it below 4 GiB'),
    ('region_name_clash.yaml', 11, 9,
     'domains[0].carveouts[0]: two regions are named rpu0_trace; rename the domain, carveout or link so names differ'),
    ('rpmsg_between_qemu_instances.yaml', 11, 11,
     'links[0].type: on board qemu_cortex_a53 every domain is its own QEMU instance, so host and remote share no memory for vrings; use a link of type ivshmem between them'),
    ('remote_is_linux.yaml', 15, 13,
     "links[0].remote: remote 'linux' runs linux; this tool generates remote firmware files for Zephyr only; make a Zephyr domain the remote"),
    ('syntax_error.yaml', 8, 9,
     "YAML syntax error: expected ',' or ']', but got ':' (while parsing a flow sequence that starts on line 7); check indentation, colons and quotes around that line"),
    ('target_on_linux.yaml', 8, 5,
     'domains[0].target: only Zephyr domains take a board target; remove it'),
    ('tcm_on_a53.yaml', 9, 15,
     'domains[0].firmware.memory: core a53_0 has no TCM; use memory: ddr'),
    ('too_few_buffers_linux.yaml', 18, 14,
     "links[0].buffers.count: Linux's virtio_rpmsg_bus allocates 16 buffers for 8-entry vrings; a pool of 4 makes its probe fail; use 16 or remove count"),
    ('too_many_links.yaml', 19, 5,
     'links[10]: remote rpu0 has 11 vdevs; their notify IDs pass 31; use at most 10 rpmsg links per remote'),
    ('trace_too_big.yaml', 9, 12,
     'domains[0].trace: the resource table and trace buffer (0x11000 bytes) do not fit rpu0_btcm1 (0x10000); shrink the trace'),
    ('trace_too_big_for_default_firmware.yaml', 12, 12,
     'domains[0].trace: firmware memory of 0x100000 bytes (the default size) leaves no room beside the 0x101000-byte table and trace slot; give firmware a size of at least 0x102000'),
    ('trace_zero.yaml', 8, 12,
     'domains[0].trace: a trace buffer of 0 bytes is ignored by both loaders; give a size such as 4K, or remove trace'),
    ('two_documents.yaml', 9, 1,
     'more than one YAML document; keep one document per file'),
    ('unknown_board.yaml', 3, 8,
     "board: unknown board 'kv26'; did you mean 'kv260'?"),
    ('unknown_core.yaml', 7, 13,
     "domains[0].cores[0]: board kv260 has no core 'r5_2'; did you mean 'r5_1'?"),
    ('unknown_domain_in_link.yaml', 15, 13,
     "links[0].remote: no domain named 'rpu1'; did you mean 'rpu0'?"),
    ('unknown_key_did_you_mean.yaml', 12, 5,
     "domains[1].targte: unknown key 'targte'; did you mean 'target'?"),
    ('unknown_key_no_match.yaml', 5, 1,
     "colour: unknown key 'colour'; expected one of: board, description, domains, links, name, shared-memory"),
    ('unknown_mailbox.yaml', 16, 14,
     "links[0].mailbox: board kv260 has no mailbox 'rpu0_apu0'; did you mean 'rpu0_apu'?"),
    ('unknown_shm.yaml', 18, 10,
     "links[0].shm: no shared memory named 'ipc0'; did you mean 'ipc'?"),
    ('vring_align_above_page.yaml', 20, 14,
     'links[0].vring.align: vring 1 of rpmsg0 at 0x3ed43000 is not aligned to its align 0x2000; use an align of at most the page size (0x1000)'),
    ('vring_null.yaml', 16, 11,
     'links[0].vring: expected a map (key: value), got nothing; give it a value or remove the key'),
    ('wrong_type_cores.yaml', 7, 12,
     "domains[0].cores: expected a list, got 'a53_0'"),
    ('wrong_type_num.yaml', 17, 12,
     "links[0].vring.num: expected an integer, got 'eight'"),
]

LAYOUT_ERRORS = {"carveout_overlaps_pool.yaml", "firmware_too_small.yaml",
                 "hidden_behind_tcm.yaml", "misaligned_base.yaml", "outside_memory.yaml",
                 "overlap_pools.yaml", "pool_too_small.yaml", "region_name_clash.yaml",
                 "trace_too_big.yaml", "vring_align_above_page.yaml",
                 "trace_too_big_for_default_firmware.yaml", "too_many_links.yaml",
                 "r5_firmware_above_4g.yaml"}


def test_table_and_directory_agree():
    files = {p.name for p in INVALID.glob("*.yaml")}
    listed = [c[0] for c in CASES]
    assert len(listed) == len(set(listed)), "a file is listed twice"
    assert files == set(listed)
    assert len(files) >= 25


@pytest.mark.parametrize("name", sorted(p.name for p in INVALID.glob("*.yaml")))
def test_each_file_says_why_it_is_invalid(name):
    text = (INVALID / name).read_text()
    if name == "empty.yaml":
        assert text == ""
    else:
        assert text.startswith("# Invalid: "), f"{name} must open with '# Invalid: <why>'"


@pytest.mark.parametrize("name,line,column,message", CASES, ids=[c[0] for c in CASES])
def test_bad_input(name, line, column, message, tmp_path):
    path = INVALID / name
    out = tmp_path / "build" / "amp" / "out"
    with pytest.raises(AmpError) as e:
        config.generate(path, out, board_roots=[TEST_BOARDS])
    err = e.value
    assert str(err) == f"{path}:{line}:{column}: {message}"
    assert (err.file, err.line, err.column) == (str(path), line, column)
    assert err.exit_code == 1
    assert isinstance(err, LayoutError) == (name in LAYOUT_ERRORS)
    assert "\n" not in str(err)
    assert list(tmp_path.iterdir()) == [], "something was written"


def test_display_name_is_used_in_messages(tmp_path):
    with pytest.raises(AmpError) as e:
        config.configure(INVALID / "num_not_pow2.yaml", display="mine.yaml")
    assert str(e.value).startswith("mine.yaml:17:12: links[0].vring.num: ")


def test_missing_file(tmp_path):
    with pytest.raises(AmpError) as e:
        config.generate(tmp_path / "nope.yaml", tmp_path / "out")
    assert str(e.value) == f"{tmp_path / 'nope.yaml'}: no such file"
    assert list(tmp_path.iterdir()) == []


def test_failure_keeps_the_previous_output(tmp_path):
    """A bad run over an existing output directory leaves it as it was."""
    good = DATA / "valid" / "qemu-r5-rpmsg.yaml"
    out = tmp_path / "out"
    config.generate(good, out, board_roots=[TEST_BOARDS])
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(AmpError):
        config.generate(INVALID / "overlap_pools.yaml", out)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# A few through the real command, in a west workspace.
COMMAND_CASES = ["syntax_error.yaml", "python_tag.yaml", "overlap_pools.yaml",
                 "unknown_key_did_you_mean.yaml", "no_target_no_default.yaml",
                 "deep_nesting.yaml", "alias_bomb.yaml"]


@pytest.mark.parametrize("name", COMMAND_CASES)
def test_bad_input_through_west(name, west_workspace, tmp_path):  # noqa: F811
    line, column, message = next(c[1:] for c in CASES if c[0] == name)
    assert_west_rejects(west_workspace, INVALID / name, line, column, message, tmp_path,
                        TEST_BOARDS)


def test_check_writes_nothing_either(west_workspace, tmp_path):  # noqa: F811
    manifest, env = west_workspace
    res = subprocess.run(["west", "amp-config", "systems/kv260-rpmsg.yaml", "--check"],
                         cwd=manifest, env=env, capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stderr
    assert "nothing written (--check)" in res.stdout
    assert not (Path(manifest) / "build").exists()


def _mutate(rng, text):
    """One to three random edits of a YAML text: values, lines, characters."""
    tokens = ["0", "-1", "0x0", "3", "0xffffffff", "0x100000000", "1G", "''", "[]", "{}",
              "null", "true", "x", "rpu0", "linux", "r5_0", "a53_0", "tcm", "ddr", "split",
              "lockstep", "rpmsg", "ivshmem", "virtio-mmio", "native", "hvl", "net", "512"]
    chars = [":", "[", "]", "{", "}", "&a ", "*a", "!!str ", "\t", "- ", "  ", '"', "'", "#",
             ",", "?", "|", "%", "@", "`", "\x00", "\u00e9", "<<: "]
    lines = text.splitlines()
    for _ in range(rng.randint(1, 3)):
        k = rng.randrange(len(lines))
        op = rng.randrange(5)
        if op == 0 and ":" in lines[k]:
            lines[k] = lines[k].partition(":")[0] + ": " + rng.choice(tokens)
        elif op == 1 and len(lines) > 1:
            del lines[k]
        elif op == 2:
            lines.insert(k, lines[rng.randrange(len(lines))])
        elif op == 3:
            j = rng.randrange(len(lines))
            lines[k], lines[j] = lines[j], lines[k]
        else:
            pos = rng.randrange(len(lines[k]) + 1)
            lines[k] = lines[k][:pos] + rng.choice(chars) + lines[k][pos + rng.randint(0, 2):]
    return "\n".join(lines) + "\n"


def test_mutated_systems_fail_cleanly(tmp_path):
    """Seeded random edits of every valid system (bounded: 150 variants, a few seconds):
    each one either configures or fails with an AmpError naming the file; never
    another exception (a traceback for the user)."""
    import random

    from helpers import ALL_SYSTEMS

    rng = random.Random(20261124)
    texts = [p.read_text() for p in ALL_SYSTEMS]
    f = tmp_path / "mutant.yaml"
    outcomes = {"ok": 0, "error": 0}
    for _ in range(150):
        text = _mutate(rng, rng.choice(texts))
        f.write_text(text, encoding="utf-8")
        try:
            config.configure(f, board_roots=[TEST_BOARDS])
            outcomes["ok"] += 1
        except AmpError as e:
            outcomes["error"] += 1
            assert str(e).startswith(str(f)), str(e)
            assert "\n" not in str(e)
            if getattr(e, "line", 0):
                assert 1 <= e.line <= text.count("\n") + 1, (str(e), text)
        except Exception as e:      # noqa: BLE001 - the point of the test
            pytest.fail(f"{type(e).__name__}: {e} for:\n{text}")
    assert outcomes["error"] > 50 and outcomes["ok"] > 5, outcomes
