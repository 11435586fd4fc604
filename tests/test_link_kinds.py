"""Link kinds (zephyr_amp/links/): the core asks no link its type, a new kind plugs in
from one file, and layout.json reads back into the typed Layout it was written from."""

import importlib.util
import json
import re

import pytest

from conftest import REPO
from helpers import ALL_SYSTEMS, TEST_BOARDS, system_id
from zephyr_amp import config, layout, links
from zephyr_amp.errors import InputError

LIB = REPO / "scripts" / "west_commands" / "zephyr_amp"
CORE = ("model.py", "layout.py", "render.py")
BRANCH = re.compile(r"(type ==|transport ==|kind ==)")
# the left operand of such a comparison that is not about a link: a board memory's kind
# (m.kind), a region's kind (r.kind), a resource-table entry's type (e.type)
NOT_A_LINK = re.compile(r"\b(m|r|e)\.(kind|type) ==")


def _link_words():
    words = set(links.types())
    for kind in links.kinds():
        if kind.transport:
            words.add(kind.transport)
    return words


@pytest.mark.parametrize("name", CORE)
def test_core_modules_have_no_per_link_type_branch(name):
    words = _link_words()
    bad = []
    for n, line in enumerate((LIB / name).read_text().splitlines(), 1):
        code = line.split("#", 1)[0]
        if BRANCH.search(code) and not NOT_A_LINK.search(code):
            bad.append(f"{name}:{n}: {line.strip()}")
        quoted = [rf"""["']{re.escape(w)}["']""" for w in words]
        if any(re.search(rf"{q}\s*(==|!=|in\b)|(==|!=)\s*{q}", code) for q in quoted):
            bad.append(f"{name}:{n}: {line.strip()}")
    assert not bad, "per-link-type branches belong in links/:\n" + "\n".join(bad)


def test_the_branch_check_can_fail(tmp_path):
    """The pattern above catches what the old code did."""
    old = ['    links = [lk for lk in layout.links if lk.link.type == "rpmsg"]',
           '            if lk.type == "virtio-mmio" and lk.transport == "native":']
    assert all(BRANCH.search(x) and not NOT_A_LINK.search(x) for x in old)


def test_registry_maps_type_and_transport():
    assert links.types()[:3] == ["rpmsg", "virtio-mmio", "ivshmem"]
    assert links.kind_for("virtio-mmio").transport == "native"
    assert links.kind_for("virtio-mmio", "hvl").transport == "hvl"
    assert links.keys_of_type("virtio-mmio") >= {"driver", "device", "transport", "ipi"}


# -- a toy kind, in one file of its own ------------------------------------------------

TOY = '''\
from dataclasses import dataclass

from zephyr_amp import links
from zephyr_amp.layout import REGION_ALIGN, LinkLayout, Region
from zephyr_amp.links.base import LinkKind, LinkRecord
from zephyr_amp.links.outputs import Define, Kconfig, MemoryNode, Zephyr


@dataclass(frozen=True)
class ToyLink(LinkRecord):
    peer: str = None
    size: int = 0


class Toy(LinkKind):
    type = "toy"
    schema = {"peer": {"type": "str"}, "size": {"type": "scalar"}}
    phase = 90
    order = 90
    layout_class = LinkLayout

    def check(self, ctx, ld, p):
        dom = ctx.domain_ref(p, "peer", ld, "a toy link")
        size = ctx.size(p + ("size",), ld.get("size", "4K"))
        if size % 0x1000:
            raise ctx.err(p + ("size",), f"{size:#x} is not whole pages", "use 4K")
        return ToyLink(ld["name"], ld["type"], p, peer=dom.name, size=size)

    def domains(self, link):
        return (link.peer,)

    def place(self, placer, lk):
        mem = placer.memory_for(None, lk.path)
        base = placer.alloc(mem, lk.size, REGION_ALIGN, lk.path, f"toy {lk.name}")
        r = placer.add(Region(f"{lk.name}_toy", "toy", "shared", base, lk.size,
                              users=[lk.peer], link=lk.name, origin=lk.path))
        placer.links.append(LinkLayout(lk, shm=r))

    def zephyr(self, layout, dl, layouts):
        out = Zephyr()
        for lk in layouts:
            out.kconfig.append(Kconfig("TOY", "y", "a toy link"))
            out.defines.append(Define(f"TOY_{lk.link.name.upper()}_BASE", lk.shm.base, "toy"))
            out.reserved.append(MemoryNode(f"toy_{lk.link.name}", lk.shm.base, lk.shm.size,
                                           "toy region", ("mmio-sram",)))
            out.files["toy.txt"] = f"toy {lk.link.name} at {lk.shm.base:#x}\\n"
        return out


KIND = links.register(Toy())
'''

SYSTEM = """\
name: toy-system
board: kv260
domains:
  - name: linux
    os: linux
    cores: [a53_0, a53_1, a53_2, a53_3]
  - name: rpu0
    os: zephyr
    cores: [r5_0]
    mode: lockstep
links:
  - name: r0
    type: rpmsg
    host: linux
    remote: rpu0
  - name: t0
    type: toy
    peer: rpu0
    size: %s
"""


@pytest.fixture
def toy_kind(tmp_path):
    path = tmp_path / "toy_kind.py"
    path.write_text(TOY)
    spec = importlib.util.spec_from_file_location("toy_kind", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    links.unregister("toy")


def test_a_toy_kind_is_validated_placed_and_written(toy_kind, tmp_path):
    sysfile = tmp_path / "toy.yaml"
    sysfile.write_text(SYSTEM % "8K")
    res = config.generate(sysfile, tmp_path / "out")
    out = res.out_dir
    doc = json.loads((out / "layout.json").read_text())
    toy = next(r for r in doc["regions"] if r["name"] == "t0_toy")
    assert toy["size"] == 0x2000 and toy["users"] == ["rpu0"] and toy["link"] == "t0"
    assert {"name": "t0", "type": "toy", "shm": "t0_toy"} in doc["links"]
    conf = (out / "rpu0" / "amp.conf").read_text()
    assert "CONFIG_TOY=y" in conf and conf.count("CONFIG_OPENAMP=y") == 1
    header = (out / "rpu0" / "amp_layout.h").read_text()
    assert f"#define AMP_TOY_T0_BASE {toy['base']:#x}" in header
    overlay = (out / "rpu0" / "amp.overlay").read_text()
    assert f"toy_t0: memory@{toy['base']:x} {{" in overlay
    assert (out / "rpu0" / "toy.txt").read_text() == f"toy t0 at {toy['base']:#x}\n"
    # read back: the toy link is a LinkLayout like any other
    again = layout.Layout.from_json(doc)
    assert again.to_json() == doc


def test_a_toy_kind_reports_its_errors_at_the_key(toy_kind, tmp_path):
    sysfile = tmp_path / "toy.yaml"
    sysfile.write_text(SYSTEM % "5000")
    with pytest.raises(InputError) as e:
        config.configure(sysfile)
    assert (e.value.line, e.value.column) == (19, 11)
    assert "links[1].size: 0x1388 is not whole pages; use 4K" in str(e.value)
    sysfile.write_text(SYSTEM % "4K" + "    host: linux\n")
    with pytest.raises(InputError) as e:
        config.configure(sysfile)
    assert "'host' does not apply to a toy link; keys of a toy link: peer, size" in str(e.value)


def test_without_the_toy_kind_its_keys_and_type_are_unknown(tmp_path):
    sysfile = tmp_path / "toy.yaml"
    sysfile.write_text(SYSTEM % "8K")
    with pytest.raises(InputError) as e:
        config.configure(sysfile)
    assert "links[1].peer: unknown key 'peer'" in str(e.value)
    sysfile.write_text((SYSTEM % "8K").replace("    peer: rpu0\n    size: 8K\n", ""))
    with pytest.raises(InputError) as e:
        config.configure(sysfile)
    assert "links[1].type: 'toy' is not allowed" in str(e.value)


# -- layout.json read back ---------------------------------------------------------

@pytest.mark.parametrize("system", ALL_SYSTEMS, ids=system_id)
def test_layout_json_reads_back_into_the_same_layout(system):
    text = config.configure(system, [TEST_BOARDS]).files["layout.json"]
    doc = json.loads(text)
    lay = layout.Layout.from_json(doc)
    assert lay.to_json() == doc
    assert json.dumps(lay.to_json(), indent=2, sort_keys=True) + "\n" == text
    for lk in lay.links:
        assert isinstance(lk, links.kind_of(lk.link).layout_class)
    for name, dl in lay.domains.items():
        if dl.rsc_table:
            assert dl.rsc_table.region is lay.region(dl.rsc_table.region.name)
            for e in dl.rsc_table.entries:
                assert (e.vdev is not None) == (e.type == "vdev")


def test_layout_from_json_refuses_another_document():
    with pytest.raises(ValueError):
        layout.Layout.from_json({"format": "something-else", "version": 1})


def test_no_file_is_written_twice(toy_kind, tmp_path, monkeypatch):
    """Contributions merge into one file each; a kind cannot take over a core file."""
    sysfile = tmp_path / "toy.yaml"
    sysfile.write_text(SYSTEM % "8K")
    files = config.configure(sysfile).files
    assert files["rpu0/amp.conf"].count("CONFIG_TOY=y") == 1
    zephyr = toy_kind.KIND.zephyr

    def greedy(layout, dl, layouts):
        out = zephyr(layout, dl, layouts)
        out.files["amp.conf"] = "CONFIG_TOY=y\n"
        return out
    monkeypatch.setattr(toy_kind.KIND, "zephyr", greedy)
    with pytest.raises(ValueError, match="writes amp.conf"):
        config.configure(sysfile)
