"""Could `west amp-build` run at all, and are its samples' YAML files sound?

    find_zephyr()  the project of the workspace that provides `west build`
    preflight()    every sample there, a compiler for every architecture
    lint()         duplicate keys and other YAML traps in sample.yaml/testcase.yaml

Each "could not run" is a UsageError (exit 2) naming what is missing and how
to get it; lint problems come back as values.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError, UsageError

SAMPLE_FILES = ("sample.yaml", "testcase.yaml")


def find_zephyr(manifest, west_config, environ=None):
    """The folder of the project that provides `west build` (the Zephyr tree).

    UsageError naming what is missing and how to get it: no such project,
    a project filtered out of the workspace, or one not cloned yet.
    """
    environ = os.environ if environ is None else environ
    found = _build_provider(manifest, west_config)
    if found is None:                # a west-commands file west must judge: ask west
        from west.commands import extension_commands
        for specs in extension_commands(west_config, manifest).values():
            for spec in specs:
                if spec.name == "build":
                    return Path(spec.project.abspath)
    elif found:
        return found
    fix_dry = "; --dry-run and --emit-matrix work without it"
    zephyr = [p for p in manifest.projects if p.name == "zephyr"]
    where = manifest.path or "the manifest"
    if zephyr:
        p = zephyr[0]
        if not manifest.is_active(p):
            raise UsageError(
                f"Zephyr is not in this workspace: project 'zephyr' of {where} is inactive "
                "(manifest.project-filter or groups exclude it); get it with "
                "`west config manifest.project-filter -- +zephyr && west update zephyr`"
                + fix_dry)
        raise UsageError(f"Zephyr is not in this workspace: project 'zephyr' is not cloned at "
                         f"{p.abspath}; get it with `west update zephyr`" + fix_dry)
    base = environ.get("ZEPHYR_BASE")
    if base:
        raise UsageError(f"no project of this workspace provides `west build`: ZEPHYR_BASE={base} "
                         "is set, but west takes commands only from the manifest's projects; add "
                         "zephyr to the manifest (as west.yml here does) and run `west update`"
                         + fix_dry)
    raise UsageError(f"no Zephyr in this workspace: {where} has no project 'zephyr' and "
                     "ZEPHYR_BASE is not set; use this repository's manifest "
                     "(`west init -l --mf west.yml` or `--mf west-staging.yml`, then "
                     "`west update`) or add zephyr to yours" + fix_dry)


def _build_provider(manifest, west_config):
    """The folder of the first project whose west-commands files declare `build`
    (as west looks them up, in manifest order), False when none does, None when
    a file cannot be read here (then west's own reader decides). libyaml, and no
    schema check: west checked these files when it loaded its commands."""
    import yaml
    if not west_config.getboolean("commands.allow_extensions", default=True):
        return False
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for project in manifest.projects:
        for rel in project.west_commands or ():
            spec = Path(project.abspath) / rel
            if not spec.exists():
                continue
            try:
                doc = yaml.load(spec.read_text(encoding="utf-8"), Loader=loader)
                names = [c["name"] for d in doc["west-commands"] for c in d["commands"]]
            except (OSError, UnicodeDecodeError, yaml.YAMLError, TypeError, KeyError):
                return None
            if "build" in names:
                return Path(project.abspath)
    return False


def preflight(plan_, environ=None):
    """Every sample is there and every architecture has a compiler; UsageError otherwise."""
    missing = [s for s in plan_.steps if not (plan_.topdir / s.job.sample).is_dir()]
    if missing:
        first = missing[0].job
        more = f" (and {len(missing) - 1} more entries)" if len(missing) > 1 else ""
        raise UsageError(
            f"sample {first.sample} ({first.where}) is not in the workspace {plan_.topdir}{more}; "
            "check the path, or fetch the project that holds it (`west update`; the virtio "
            "samples exist only on OpenAMP's staging branches: "
            "`west init -l --mf west-staging.yml`)")
    from . import toolchain
    arches = {}
    for s in plan_.steps:
        if s.problem is None:
            arch = s.system.domains[s.job.domain].get("arch")
            arches.setdefault(arch, s.job)
    found = {}
    for arch, job in sorted(arches.items(), key=lambda kv: str(kv[0])):
        if arch is None:
            continue
        try:
            found[arch] = toolchain.compiler(arch, environ)
        except UsageError as e:
            raise UsageError(f"{job.board} ({job.system_name}:{job.domain}): {e}") from None
    return found


@dataclass
class LintProblem:
    file: str
    line: int
    column: int
    message: str

    def __str__(self):
        return self.message


def lint(topdir, samples):
    """Duplicate keys and other YAML traps in each sample's sample.yaml/testcase.yaml.

    A YAML loader keeps only the last of two equal keys, so twister silently
    loses the first platform_allow or tags: that is an error here, with both lines.
    """
    from .source import Source
    problems = []
    for sample in sorted(set(samples)):
        for name in SAMPLE_FILES:
            path = Path(topdir) / sample / name
            if not path.is_file():
                continue
            try:
                Source(path, display=f"{sample}/{name}")
            except InputError as e:
                text = str(e)
                if "duplicate key" in e.what:
                    text += " (a YAML loader keeps only the last one: twister silently drops " \
                            "the first)"
                problems.append(LintProblem(e.file, e.line, e.column, text))
    return problems


