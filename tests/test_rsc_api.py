"""The generated resource table has exactly the API of the targeted Zephyr's lib/open-amp.

Zephyr >= 4.2 (v4.4 is the default target): `void rsc_table_get(void **, int *)`, and
`rsc_table_to_vdev()`, `rsc_table_get_vring0()`, `rsc_table_get_vring1()` taking `void *`
and defined out of line in resource_table.c; v3.7: `rsc_table_get(struct fw_resource_table
**, int *)` with the accessors in the header. Both have VDEV_ID, VRING0_ID and VRING1_ID.

For every domain whose table has a vdev, and both versions:
- tests/zephyr_api/remote_api.c (the calls and macros of Zephyr's
  samples/subsys/ipc/openamp_rsc_table/src/main_remote.c, against stand-in OpenAMP and
  libmetal headers) compiles with -Wall -Werror against the generated header, with the
  domain's cross compiler and natively; natively it links with the generated
  resource_table.c and runs, and what it hands OpenAMP matches layout.json;
- the header agrees with Zephyr's exact prototypes (a conflicting one would not compile),
  and for v4.4 resource_table.o defines the accessors as global functions.
"""

import inspect
import json
import re
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, need_tool
from helpers import ALL_SYSTEMS, TEST_BOARDS, system_id

API = REPO / "tests" / "zephyr_api"
CFLAGS = ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Werror", "-O1"]
CROSS = {"arm": ("arm-none-eabi-gcc", ["-mcpu=cortex-r5", "-marm", "-ffreestanding"]),
         "aarch64": ("aarch64-linux-gnu-gcc", ["-mcpu=cortex-a53", "-ffreestanding"])}
VERSIONS = ("4.4", "3.7")

# Zephyr's own declarations: a conflicting type in the generated header fails to compile.
PROTOTYPES = {
    "4.4": """\
void rsc_table_get(void **table_ptr, int *length);
struct fw_rsc_vdev *rsc_table_to_vdev(void *rsc_table);
struct fw_rsc_vdev_vring *rsc_table_get_vring0(void *rsc_table);
struct fw_rsc_vdev_vring *rsc_table_get_vring1(void *rsc_table);
""",
    "3.7": """\
void rsc_table_get(struct fw_resource_table **table_ptr, int *length);
""",
}


def _vdev_domains():
    from zephyr_amp import config
    out = []
    for system in ALL_SYSTEMS:
        layout = json.loads(config.configure(system, [TEST_BOARDS]).files["layout.json"])
        for name, table in sorted(layout.get("resource_tables", {}).items()):
            if any(e["type"] == "vdev" for e in table["entries"]):
                out.append((system, name))
    return out


CASES = _vdev_domains()


def _generate(system, out, version):
    """config.generate for that Zephyr version: its zephyr_version argument once there is
    one, else the templates' own zephyr_version variable."""
    from zephyr_amp import config, render
    if "zephyr_version" in inspect.signature(config.generate).parameters:
        config.generate(system, out, board_roots=[TEST_BOARDS], zephyr_version=version)
        return
    env = render.environment()
    env.globals["zephyr_version"] = version
    try:
        config.generate(system, out, board_roots=[TEST_BOARDS])
    finally:
        env.globals.pop("zephyr_version", None)


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """{(system id, version): output directory}."""
    root = tmp_path_factory.mktemp("rsc-api")
    out = {}
    for system in sorted({s for s, _ in CASES}):
        for version in VERSIONS:
            d = root / f"{system_id(system).replace(':', '_')}-{version}"
            _generate(system, d, version)
            out[(system_id(system), version)] = d
    return out


def _run(cmd, cwd=None):
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True,
                       check=False)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))}\n{r.stdout}{r.stderr}"
    return r.stdout


def _major(version):
    return int(version.split(".")[0])


def _ids(cases):
    return [f"{system_id(s)}/{d}" for s, d in cases]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("system, domain", CASES, ids=_ids(CASES))
def test_sample_calls_run_against_the_table(tables, tmp_path, system, domain, version):
    gcc = need_tool("gcc")
    gen = tables[(system_id(system), version)]
    layout = json.loads((gen / "layout.json").read_text())
    inc = ["-I", gen / domain, "-I", API, f"-DAMP_ZEPHYR_MAJOR={_major(version)}"]
    exe = tmp_path / "remote"
    _run([gcc, *CFLAGS, *inc, API / "remote_api.c", gen / domain / "resource_table.c",
          API / "stubs.c", "-o", exe])
    lines = _run([exe]).splitlines()

    table = layout["resource_tables"][domain]
    vdev = next(e for e in table["entries"] if e["type"] == "vdev")
    want = [f"io size={table['size']}",
            (f"vdev role=1 notifyid=255 type=3 id=7 offset={vdev['offset']} "
             f"vrings={vdev['num_of_vrings']}")]
    want += [f"vring index={i} notifyid={v['notifyid']} da={v['da']} num={v['num']} "
             f"align={v['align']}" for i, v in enumerate(vdev["vrings"][:2])]
    want += [f"notified id={v['notifyid']}" for v in vdev["vrings"][:2]]
    assert lines == want


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("system, domain", CASES, ids=_ids(CASES))
def test_sample_calls_compile_for_the_core(tables, tmp_path, system, domain, version):
    gen = tables[(system_id(system), version)]
    arch = json.loads((gen / "layout.json").read_text())["domains"][domain]["arch"]
    name, flags = CROSS[arch]
    cc = need_tool(name)
    inc = ["-I", gen / domain, "-I", API, f"-DAMP_ZEPHYR_MAJOR={_major(version)}"]
    for src in (API / "remote_api.c", gen / domain / "resource_table.c"):
        _run([cc, *flags, *CFLAGS, *inc, "-c", src, "-o", tmp_path / (src.stem + ".o")])


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("system, domain", CASES[:1], ids=_ids(CASES[:1]))
def test_header_matches_zephyrs_prototypes(tables, tmp_path, system, domain, version):
    gcc = need_tool("gcc")
    gen = tables[(system_id(system), version)]
    src = tmp_path / "proto.c"
    src.write_text("#include <resource_table.h>\n" + PROTOTYPES[version]
                   + "int main(void) { return VRING0_ID + VRING1_ID + VDEV_ID + VRING_COUNT; }\n")
    _run([gcc, *CFLAGS, "-I", gen / domain, "-I", API, "-c", src, "-o", tmp_path / "p.o"])
    obj = tmp_path / "rt.o"
    _run([gcc, *CFLAGS, "-I", gen / domain, "-I", API, "-c", gen / domain / "resource_table.c",
          "-o", obj])
    defined = set(re.findall(r" T (\w+)$", _run([need_tool("nm"), obj]), re.MULTILINE))
    accessors = {"rsc_table_to_vdev", "rsc_table_get_vring0", "rsc_table_get_vring1"}
    assert "rsc_table_get" in defined
    if _major(version) >= 4:
        assert accessors <= defined, "v4.4 defines the accessors out of line"
    else:
        assert not accessors & defined, "v3.7 has them in the header"


def test_version_chooses_the_api(tables):
    """The default target is v4.4; the two versions' headers differ where the APIs do."""
    from zephyr_amp import config
    system, domain = CASES[0]
    v44 = (tables[(system_id(system), "4.4")] / domain / "resource_table.h").read_text()
    v37 = (tables[(system_id(system), "3.7")] / domain / "resource_table.h").read_text()
    default = config.configure(system, [TEST_BOARDS]).files[f"{domain}/resource_table.h"]
    assert default == v44
    assert "void rsc_table_get(void **table_ptr, int *length);" in v44
    assert "void rsc_table_get(struct fw_resource_table **table_ptr, int *length);" in v37
    assert Path(API / "remote_api.c").is_file()
