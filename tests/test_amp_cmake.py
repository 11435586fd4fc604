"""amp.cmake, run by the real CMake the way a Zephyr build runs it.

A small CMake project stands in for Zephyr's build: the `zephyr` library linked to
the `zephyr_interface` target, zephyr_include_directories() and zephyr_sources()
defined as Zephyr's cmake/modules/extensions.cmake defines them (both v3.7 and v4.x:
`target_include_directories(zephyr_interface INTERFACE ${ARGV})`, and
`target_sources(zephyr PRIVATE ...)`), lib/open-amp's directory on the include path
and its resource_table.c in the sources before amp.cmake is included (as
lib/open-amp/CMakeLists.txt adds them under CONFIG_OPENAMP_RSC_TABLE). Its
resource_table.h is a stand-in that stops the compile.

The build must then compile a source that includes <resource_table.h> against the
generated header (the generated directory comes first) and the generated
resource_table.c in place of lib/open-amp's, and no include directory may be a
CMake keyword (zephyr_include_directories(BEFORE dir) gives -I.../BEFORE).
"""

import shutil
import subprocess

import pytest

from conftest import REPO, need_tool

SYSTEM = REPO / "systems" / "kv260-rpmsg.yaml"

CMAKELISTS = """\
cmake_minimum_required(VERSION 3.20)
project(amp_cmake_probe LANGUAGES C)

# As Zephyr's cmake/modules/extensions.cmake (v3.7 and v4.x)
add_library(zephyr_interface INTERFACE)
add_library(zephyr STATIC main.c)
target_link_libraries(zephyr PUBLIC zephyr_interface)
function(zephyr_include_directories)
  target_include_directories(zephyr_interface INTERFACE ${ARGV})
endfunction()
function(zephyr_sources)
  foreach(arg ${ARGV})
    target_sources(zephyr PRIVATE ${arg})
  endforeach()
endfunction()
function(zephyr_compile_definitions)
  target_compile_definitions(zephyr_interface INTERFACE ${ARGV})
endfunction()
function(zephyr_linker_sources)
endfunction()

# As lib/open-amp/CMakeLists.txt with CONFIG_OPENAMP_RSC_TABLE=y
zephyr_include_directories(${CMAKE_CURRENT_SOURCE_DIR}/lib/open-amp)
zephyr_sources(${CMAKE_CURRENT_SOURCE_DIR}/lib/open-amp/resource_table.c)

include(${AMP_CMAKE})

get_target_property(_dirs zephyr_interface INTERFACE_INCLUDE_DIRECTORIES)
message(STATUS "AMP-PROBE-INCLUDES=${_dirs}")
"""

MAIN_C = """\
#include <resource_table.h>
#ifndef AMP_RESOURCE_TABLE_H
#error "not the generated resource_table.h"
#endif
void *probe(void)
{
	void *table;
	int len;

	rsc_table_get(&table, &len);
	return rsc_table_get_vring1(table);
}
"""


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    """(cmake configure output, build result) of the probe project."""
    cmake = need_tool("cmake")
    need_tool("cc")
    from zephyr_amp import config
    root = tmp_path_factory.mktemp("amp-cmake")
    out = root / "gen"
    config.generate(SYSTEM, out)
    src = root / "src"
    (src / "lib" / "open-amp").mkdir(parents=True)
    (src / "CMakeLists.txt").write_text(CMAKELISTS)
    (src / "main.c").write_text(MAIN_C)
    (src / "lib" / "open-amp" / "resource_table.h").write_text(
        '#error "lib/open-amp/resource_table.h was found first"\n')
    (src / "lib" / "open-amp" / "resource_table.c").write_text(
        '#error "lib/open-amp/resource_table.c is still built"\n')
    gen = ["-G", "Ninja"] if shutil.which("ninja") else []
    conf = subprocess.run([str(cmake), *gen, "-S", str(src), "-B", str(root / "b"),
                           f"-DAMP_CMAKE={out / 'rpu0' / 'amp.cmake'}"],
                          capture_output=True, text=True)
    assert conf.returncode == 0, conf.stdout + conf.stderr
    build = subprocess.run([str(cmake), "--build", str(root / "b")],
                           capture_output=True, text=True)
    return conf.stdout, build, out / "rpu0"


def test_generated_directory_comes_first_and_is_no_keyword(probe):
    stdout, _, gen = probe
    line = next(x for x in stdout.splitlines() if "AMP-PROBE-INCLUDES=" in x)
    dirs = line.split("=", 1)[1].split(";")
    assert not [d for d in dirs if d.rsplit("/", 1)[-1] in ("BEFORE", "AFTER", "SYSTEM")], dirs
    assert dirs[0] == str(gen), dirs


def test_sample_source_compiles_against_the_generated_table(probe):
    _, build, _ = probe
    assert build.returncode == 0, build.stdout + build.stderr
