"""render.json_text(): the text of json.dumps(doc, indent=2, sort_keys=True), byte for byte,
which layout.json has always been (tests/golden pins the bundled systems' files)."""

import json

import pytest

from conftest import REPO
from zephyr_amp import config, render


class _Int(int):
    pass


class _Str(str):
    pass


DOCS = [
    {}, [], (), {"a": {}}, {"a": []}, [[]], [{}], [[], {}, [[]]],
    {"b": 1, "a": [1, [2, {}], {"x": None}]},
    [1.5, float("nan"), float("inf"), -float("inf"), True, False, None, 0.1, 1e100, -0.0],
    ["é\u2028\n\"\\", "\x00\x1f\x7f", "\U0001F600", "a,\n  b", "{", "]"],
    {"z": {"y": [1, 2]}, "é": "ü", "": ""},
    {"k": 1, "j": [1], "a": "x,\n  y", "b": {"c": "d"}},
    {"b": "x", "a": {"c": [1, {"d": []}], "b": "q"}},
    [[1, 2], [3, [4, []]]], {"a": {"b": {"c": {"d": "e"}}}},
    (1, (2, 3)), {"t": (1, [])}, [1, {"a": (1, 2)}],
    1, "s", None, 2 ** 70, -5,
    {2: 1, 1: 2}, {1.5: 2}, {True: 1}, {None: 1}, {1: {"a": 1}},     # keys json converts
    {"a": _Int(3)}, [_Int(2)], {"a": [_Int(1)]}, {"a": _Str("x")}, [_Str("y"), [1]],
]


@pytest.mark.parametrize("doc", DOCS, ids=repr)
def test_json_text_is_what_json_dumps_writes(doc):
    assert render.json_text(doc) == json.dumps(doc, indent=2, sort_keys=True)


@pytest.mark.parametrize("doc", [{"a": object()}, [{"x": set()}], {1: "a", "b": 2},
                                 {1: [1], "x": 2}], ids=repr)
def test_json_text_fails_where_json_dumps_fails(doc):
    with pytest.raises(TypeError) as want:
        json.dumps(doc, indent=2, sort_keys=True)
    with pytest.raises(TypeError) as got:
        render.json_text(doc)
    assert str(got.value) == str(want.value)


@pytest.mark.parametrize("path", sorted((REPO / "systems").glob("*.yaml")), ids=lambda p: p.name)
def test_layout_json_of_every_bundled_system(path):
    doc = config.check(path).layout.to_json()
    assert render.json_text(doc) == json.dumps(doc, indent=2, sort_keys=True)
