"""names.py: one check per kind of name (fullmatch, a length per output) and escaping
of free text by output kind, proven on the real parsers (gcc, dtc, sh, an XML parser).
schema.py: every `pattern:` of the schemas matches the whole value."""

import subprocess
import xml.etree.ElementTree as ET

import pytest

from conftest import need_tool
from zephyr_amp import names, schema

# (kind, value, problem): '' is a good value
NAME_CASES = [
    ("name", "rpu0", ""),
    ("name", "rpu0\n", "is not a valid name"),                     # `$` would pass this
    ("name", "rpu0\nCONFIG_X=y", "is not a valid name"),
    ("name", "\nrpu0", "is not a valid name"),
    ("name", "", "is not a valid name"),
    ("name", "a" * 21, ("is 21 characters long; with the suffixes amp-config adds it must fit "
     "a 31-character devicetree node name; keep it to 20")),
    ("name", "a" * 1_000_000, ("is 1000000 characters long; with the suffixes amp-config adds "
     "it must fit a 31-character devicetree node name; keep it to 20")),
    ("system", "kv260-rpmsg", ""),
    ("system", "kv260-rpmsg\n", "is not a valid name"),
    ("target", "kv260_r5", ""),
    ("target", "nrf5340dk/nrf5340/cpuapp/ns", ""),
    ("target", "qemu_cortex_a53/qemu_cortex_a53/smp", ""),
    ("target", "board@1.0.0/soc", ""),
    ("target", "kv260_r5\n", "is not a valid name"),
    ("target", "kv260_r5 -DCONFIG_X=y", "is not a valid name"),
    ("target", "$(reboot)", "is not a valid name"),
    ("rsc_name", "x" * 31, ""),
    ("rsc_name", "x" * 32, ("is 32 characters long; the resource table's name field holds 31 "
     "characters and a NUL")),
    ("dts_node", "rpu0_trace", ""),
    ("dts_node", "a" * 32, "is 32 characters long; a devicetree node name holds 31 characters"),
    ("dts_node", "a;b", "is not a valid name"),
    ("dts_label", "0abc", "is not a valid name"),
    ("program", "qemu-system-aarch64", ""),
    ("program", "qemu; rm -rf ~", "is not a valid name"),
    ("argument", "-machine xlnx-zcu102", ""),
    ("argument", "x\ny", "is not a valid name"),
    ("text", "Linux hosts Zephyr", ""),
    ("text", "two\nlines", "is not text on one line"),
    ("file", "amp.conf", ""),
    ("file", "..", "'..' is not a file name"),
    ("file", "a/b", "holds a path separator or a control character"),
    ("file", "x" * 256, "is longer than 255 bytes"),
]


@pytest.mark.parametrize("kind,value,want", NAME_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(NAME_CASES)])
def test_name_rules(kind, value, want):
    assert names.problem(kind, value) == want
    if want:
        with pytest.raises(names.NameProblem, match="^" + want[:20]):
            names.check(kind, value)
        assert names.fix(kind)


HOSTILE_TEXT = ["ok */ int evil; /*", "line\nint evil;", "back\\", "tri ??/",
                "nul\x00esc\x1b[31m", "bidi\u202eevil", "sep\u2028int evil;", "--x--->", "-"]


@pytest.mark.parametrize("text", HOSTILE_TEXT, ids=range(len(HOSTILE_TEXT)))
def test_comments_stay_comments_in_c(text, tmp_path):
    need_tool("gcc")
    src = tmp_path / "t.c"
    body = names.comment(text, "c")
    src.write_text(f"/* {body} */\n// {body}\nint ok;\n")
    res = subprocess.run(["gcc", "-std=c99", "-Wall", "-Werror", "-Wno-comment",
                          "-fsyntax-only", "-Werror=trigraphs", str(src)],
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    nm = subprocess.run(["gcc", "-std=c99", "-E", "-P", str(src)], capture_output=True,
                        text=True, check=False).stdout
    assert nm.split() == ["int", "ok;"]


@pytest.mark.parametrize("text", HOSTILE_TEXT, ids=range(len(HOSTILE_TEXT)))
def test_comments_stay_comments_in_dts(text, tmp_path):
    need_tool("dtc")
    src = tmp_path / "t.dts"
    body = names.comment(text, "dts")
    src.write_text(f"/dts-v1/;\n/* {body} */\n// {body}\n/ {{ s = {names.dts_string(text)}; }};\n")
    res = subprocess.run(["dtc", "-I", "dts", "-O", "dts", str(src)], capture_output=True,
                         text=True, check=False)
    assert res.returncode == 0, res.stderr
    assert "evil" not in res.stdout.split("s = ")[0]


@pytest.mark.parametrize("text", HOSTILE_TEXT, ids=range(len(HOSTILE_TEXT)))
def test_comments_and_words_stay_put_in_shell(text, tmp_path):
    need_tool("sh")
    script = tmp_path / "t.sh"
    body = names.comment(text, "shell")
    word = names.shell_word(text.replace("\x00", ""))
    script.write_text(f"# {body}\nprintf '%s' {word}\n")
    res = subprocess.run(["sh", str(script)], capture_output=True, check=False)
    assert res.returncode == 0, res.stderr
    assert res.stdout == text.replace("\x00", "").encode()


SHELL_TEXT = ['$(touch PWNED)', '`touch PWNED`', 'a"; touch PWNED; "', 'back\\', '$HOME',
              "it's", "two\nlines"]


@pytest.mark.parametrize("text", SHELL_TEXT, ids=range(len(SHELL_TEXT)))
def test_text_inside_double_quotes_stays_text(text, tmp_path):
    """shell_in_quotes: text inside "..." of a script (die "... {{ x | sh_quoted }}")
    is printed as it is, on one line, and nothing of it runs."""
    need_tool("sh")
    script = tmp_path / "t.sh"
    script.write_text(f'printf "%s" "domain {names.shell_in_quotes(text)}"\n')
    res = subprocess.run(["sh", str(script)], cwd=tmp_path, capture_output=True, text=True,
                         check=False)
    assert res.returncode == 0, res.stderr
    assert res.stdout == "domain " + names.one_line(text)
    assert not list(tmp_path.glob("PWNED*"))


@pytest.mark.parametrize("text", HOSTILE_TEXT, ids=range(len(HOSTILE_TEXT)))
def test_xml_comments_and_text_parse(text):
    doc = f"<a><!-- {names.comment(text, 'xml')} --><b t=\"{names.xml_text(text)}\">" \
        f"{names.xml_text(text)}</b></a>"
    root = ET.fromstring(doc)
    assert next(iter(root)).tag == "b"


@pytest.mark.parametrize("text", HOSTILE_TEXT, ids=range(len(HOSTILE_TEXT)))
def test_hash_comments_are_one_line(text):
    for kind in ("kconfig", "cmake", "conf", "args"):
        body = names.comment(text, kind)
        assert body.splitlines() == [body] or body == ""
        assert not body.endswith("\\")


def test_c_string_round_trips_through_gcc(tmp_path):
    need_tool("gcc")
    text = 'q"b\\s??=\n\x01?'
    src = tmp_path / "s.c"
    src.write_text("#include <stdio.h>\nint main(void){fputs(" + names.c_string(text)
                   + ", stdout); return 0;}\n")
    subprocess.run(["gcc", "-std=c99", "-Werror=trigraphs", "-o", str(tmp_path / "s"),
                    str(src)], check=True)
    out = subprocess.run([str(tmp_path / "s")], capture_output=True, check=True).stdout
    assert out == text.encode()


def _patterns(node, found):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern":
                found.append(value)
            elif isinstance(key, str) and key.startswith("regex;("):
                found.append(key[len("regex;("):-1])
            _patterns(value, found)
    elif isinstance(node, list):
        for item in node:
            _patterns(item, found)
    return found


@pytest.mark.parametrize("name", ["system", "board"])
def test_every_schema_pattern_matches_the_whole_value(name):
    import re
    # what pykwalify is given: check_with() passes every schema through whole_matches()
    patterns = _patterns(schema.whole_matches(schema.load_schema(name)), [])
    assert patterns, "the schema has no patterns?"
    for p in patterns:
        sample = next((w for w in ("abc", "split", "lockstep", "a-1", "4.4") if re.match(p, w)),
                      None)
        assert sample, f"no sample word matches {p}"
        assert not re.match(p, sample + "\n") and not re.search(p, sample + "\n"), p


@pytest.mark.parametrize("value,line_and_message", [
    ("rpu0", None),
    ("r" * 21, "2:7: name: '" + "r" * 21 + "' is 21 characters long; keep it to 20"),
    ("r" * 100, "2:7: name: '" + "r" * 60 + "... (100 characters)' is 100 characters long; "
     "keep it to 20"),
    ("rpu0\n", None),      # the pattern's message; see test_hostile_inputs
])
def test_schema_length_limits_have_a_message(value, line_and_message, tmp_path):
    """A schema may bound a name with `length: {max: N}` (what the model should give
    every name, see names.RULES); schema.py words pykwalify's message."""
    import json

    from zephyr_amp.errors import InputError
    from zephyr_amp.source import Source
    path = tmp_path / "s.yaml"
    path.write_text(f"# a name\nname: {json.dumps(value)}\n")
    rules = {"type": "map", "mapping": {"name": {"type": "str", "length": {"max": 20},
                                                 "pattern": "^[a-z][a-z0-9_]*$"}}}
    src = Source(path)
    if line_and_message is None and value == "rpu0":
        schema.check_with(src, rules)
        return
    with pytest.raises(InputError) as e:
        schema.check_with(src, rules)
    if line_and_message:
        assert str(e.value) == f"{path}:{line_and_message}"
    else:
        assert "is not a valid name" in str(e.value)
