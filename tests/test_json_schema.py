"""schema/system.schema.json, the JSON Schema editors use, agrees with the pykwalify schema.

The JSON Schema is generated from scripts/west_commands/zephyr_amp/schema/system.yaml
with every link kind's keys merged in (model.system_schema(), the schema amp-config
checks with) by build_json_schema() below, which adds
descriptions for editors' hover text. After a change to system.yaml:

    AMP_UPDATE_GOLDEN=1 python3 -m pytest -q tests/test_json_schema.py

rewrites schema/system.schema.json; review the diff, and add a description below
for every new key (the test fails on keys without one).
"""

import json
import os
import re

import pytest
import yaml

from conftest import REPO, SYSTEMS, need
from helpers import DATA, EXTRA_SYSTEMS
from zephyr_amp import model, source

JSON_SCHEMA = REPO / "schema" / "system.schema.json"
UPDATE = os.environ.get("AMP_UPDATE_GOLDEN", "") not in ("", "0")

# A size or address as parse_size() reads it: 4096, 0x4000, 64K, 1M, '4 KiB'.
SIZE_PATTERN = (r"^\s*(0[xX][0-9a-fA-F][0-9a-fA-F_]*|[0-9][0-9_]*)\s*([kKmMgG]?)"
                r"([iI]?[bB])?\s*$")
SIZE = {"anyOf": [{"type": "integer", "minimum": 0},
                  {"type": "string", "pattern": SIZE_PATTERN}]}

DESCRIPTIONS = {
    "": "A system for west amp-config: board, domains, shared memory and links.",
    "name": "System name: the output directory is build/amp/<name>.",
    "board": "Board data file (boards/<board>.yaml, or one in a --board-root).",
    "description": "Free text.",
    "domains": "The software domains: which cores run which OS.",
    "domains[].name": "Domain name, used for output directories and region names.",
    "domains[].os": "The OS of the domain.",
    "domains[].cores": "The board's cores this domain runs on (one cluster).",
    "domains[].target": "Zephyr board target (default: the board's for the core).",
    "domains[].mode": "Cluster mode (ZynqMP RPU: split or lockstep).",
    "domains[].loader": "Who loads the firmware (default: the cluster's).",
    "domains[].firmware": "Where a Zephyr domain's image lives.",
    "domains[].firmware.memory": "tcm, ddr, or a board memory name.",
    "domains[].firmware.base": "Fixed base address (DDR firmware only); else allocated.",
    "domains[].firmware.size": "Size of the firmware carveout (default 1M).",
    "domains[].trace": "Size of the trace buffer (RAM console read by Linux as trace0).",
    "domains[].carveouts": "More memory the remote owns; each becomes a carveout entry.",
    "domains[].carveouts[].name": "Carveout name (resource table and devicetree).",
    "domains[].carveouts[].size": "Carveout size.",
    "domains[].carveouts[].base": "Fixed base address; else allocated.",
    "domains[].carveouts[].memory": "Board memory to allocate it in.",
    "shared-memory": "Shared-memory pools that links can be placed in.",
    "shared-memory[].name": "Pool name, referred to by links' shm.",
    "shared-memory[].memory": "Board memory (default: the first shared one).",
    "shared-memory[].base": "Fixed base address; else allocated.",
    "shared-memory[].size": "Pool size; default: what its links need.",
    "links": "Communication links between domains.",
    "links[].name": "Link name.",
    "links[].type": "Link type.",
    "links[].host": "rpmsg: the domain that loads and hosts the remote.",
    "links[].remote": "rpmsg: the Zephyr domain with the resource table.",
    "links[].shm": "Shared-memory pool to place the link in; else a region of its own.",
    "links[].mailbox": "Board mailbox for kicks (default: the one between the two cores).",
    "links[].vring": "Vring shape of both vrings.",
    "links[].vring.num": "Descriptors per vring, a power of two (default 8).",
    "links[].vring.align": "Vring alignment, a power of two (default 16).",
    "links[].buffers": "rpmsg buffer pool (default for a Linux host: min(2 num, 512) x 512).",
    "links[].buffers.count": "Number of rpmsg buffers.",
    "links[].buffers.size": "Bytes per rpmsg buffer (Linux: 512).",
    "links[].driver": "virtio: the driver-side domain.",
    "links[].device": "virtio: the device-side domain.",
    "links[].transport": "virtio-mmio: native (QEMU's transports) or hvl (in shared memory).",
    "links[].devices": "virtio: the devices of the link.",
    "links[].devices[].name": "Device name.",
    "links[].devices[].type": "Device type (net, rng, console, i2c, ...).",
    "links[].devices[].slot": "virtio-mmio transport slot.",
    "links[].devices[].queues": "Number of virtqueues.",
    "links[].devices[].queue-size": "Descriptors per virtqueue.",
    "links[].devices[].buffer-size": "Bytes per bounce buffer.",
    "links[].pool": "Size of the bounce-buffer pool.",
    "links[].peers": "Accepted by no link type; kept so that it gets a clear error.",
    "links[].doorbell": "ivshmem: use doorbell interrupts.",
    "links[].vectors": "ivshmem: number of doorbell (MSI-X) vectors.",
    "links[].size": "Size of the shared region.",
    "links[].ipi": "Mailbox/IPI used for kicks.",
}


def _convert(rule, path, missing):
    """One pykwalify rule -> JSON Schema."""
    out = {}
    desc = DESCRIPTIONS.get(path)
    if desc is not None:
        out["description"] = desc
    elif not path.endswith("[]"):       # list items are described by their list
        missing.append(path or "(top)")
    kind = rule.get("type", "str")
    if kind == "scalar":
        out.update(SIZE)
    elif kind == "map":
        props, required = {}, []
        for key, sub in (rule.get("mapping") or {}).items():
            props[key] = _convert(sub, f"{path}.{key}" if path else key, missing)
            if sub.get("required"):
                required.append(key)
        out.update({"type": "object", "properties": props, "additionalProperties": False})
        if required:
            out["required"] = required
    elif kind == "seq":
        out.update({"type": "array", "items": _convert(rule["sequence"][0], f"{path}[]",
                                                       missing)})
    else:
        out["type"] = {"str": "string", "int": "integer", "bool": "boolean"}[kind]
    if "enum" in rule:
        out["enum"] = list(rule["enum"])
    if "pattern" in rule:
        out["pattern"] = rule["pattern"]
    return out


def build_json_schema():
    kw = model.system_schema()
    missing = []
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              "title": "zephyr-amp system",
              **_convert(kw, "", missing)}
    return schema, missing


def _text(schema):
    return json.dumps(schema, indent=2) + "\n"


def test_published_schema_is_generated_from_the_kwalify_schema():
    schema, missing = build_json_schema()
    assert not missing, f"add descriptions for: {', '.join(missing)}"
    if UPDATE:
        JSON_SCHEMA.parent.mkdir(exist_ok=True)
        JSON_SCHEMA.write_text(_text(schema))
    assert JSON_SCHEMA.is_file(), "run with AMP_UPDATE_GOLDEN=1 to create it"
    assert JSON_SCHEMA.read_text() == _text(schema), \
        "schema/system.schema.json is stale; regenerate it (see this file's docstring)"


def _keys(node, path=""):
    """{path: (keys, required keys)} of every map in a JSON schema."""
    out = {}
    if node.get("type") == "object":
        out[path] = (set(node["properties"]), set(node.get("required", [])))
        for k, sub in node["properties"].items():
            out.update(_keys(sub, f"{path}.{k}" if path else k))
    elif node.get("type") == "array":
        out.update(_keys(node["items"], f"{path}[]"))
    return out


def _kw_keys(rule, path=""):
    out = {}
    if rule.get("type") == "map":
        m = rule.get("mapping") or {}
        out[path] = (set(m), {k for k, v in m.items() if v.get("required")})
        for k, sub in m.items():
            out.update(_kw_keys(sub, f"{path}.{k}" if path else k))
    elif rule.get("type") == "seq":
        out.update(_kw_keys(rule["sequence"][0], f"{path}[]"))
    return out


def test_same_keys_and_required_keys_everywhere():
    published = json.loads(JSON_SCHEMA.read_text())
    kw = model.system_schema()
    assert _keys(published) == _kw_keys(kw)


@pytest.mark.parametrize("text", [4096, "4096", "0x4000", "0X4000", "64K", "64 KiB", "1M",
                                  "2g", "1_000", "0x1_0000", " 8K ", "12 parsecs", "1.5M",
                                  "0x", "-4K", "K", "", "4kb"])
def test_size_pattern_agrees_with_parse_size(text):
    try:
        source.parse_size(text)
        ok = True
    except ValueError:
        ok = False
    if isinstance(text, int):
        assert ok
    else:
        assert bool(re.match(SIZE_PATTERN, text)) == ok, text


def _validator():
    try:
        import jsonschema
    except ImportError:
        need(False, "the jsonschema package is not installed (pip install jsonschema)")
    schema = json.loads(JSON_SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", list(SYSTEMS) + EXTRA_SYSTEMS, ids=lambda p: p.stem)
def test_valid_systems_validate(path):
    errors = list(_validator().iter_errors(yaml.safe_load(path.read_text())))
    assert not errors, [e.message for e in errors]


# bad inputs that are structural, so the editor schema must flag them too
STRUCTURAL = ["unknown_key_did_you_mean.yaml", "unknown_key_no_match.yaml",
              "wrong_type_cores.yaml", "wrong_type_num.yaml", "bad_name.yaml",
              "bad_enum_os.yaml", "missing_link_type.yaml", "bad_size_unit.yaml",
              "domains_null.yaml", "key_not_for_link_type.yaml"]


@pytest.mark.parametrize("name", STRUCTURAL)
def test_structural_errors_are_flagged(name):
    data = yaml.safe_load((DATA / "invalid" / name).read_text())
    if name == "key_not_for_link_type.yaml":
        # per-type keys are checked in model.py, not by either schema
        assert not list(_validator().iter_errors(data))
        return
    assert list(_validator().iter_errors(data)), f"{name} passes the JSON schema"
