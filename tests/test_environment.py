"""environment.yml (conda users) lists exactly the dependencies of pyproject.toml, same versions."""
import re
import tomllib

import yaml

from course_helpers import ROOT

CONDA_ONLY = {"python", "pip", "c-compiler"}
# pip extras that conda ships as packages of their own; other extras (psycopg[binary]: a
# prebuilt wheel) have no conda counterpart
EXTRA_PACKAGES = {("dask", "distributed"): "distributed"}


def _split(spec: str) -> tuple[str, str]:
    m = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(?:\[[^\]]*\])?\s*(.*)", spec)
    return m.group(1).lower().replace("_", "-"), m.group(2).replace(" ", "")


def _extras(spec: str) -> list[str]:
    m = re.match(r"\s*[A-Za-z0-9_.\-]+\s*\[([^\]]*)\]", spec)
    return [e.strip() for e in m.group(1).split(",")] if m else []


def _pyproject() -> dict:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    specs = list(data["build-system"]["requires"]) + list(data["project"]["dependencies"])
    for extra in data["project"]["optional-dependencies"].values():
        specs += extra
    deps = dict(_split(s) for s in specs)
    for s in specs:
        name, version = _split(s)
        deps.update({EXTRA_PACKAGES[(name, e)]: version for e in _extras(s) if (name, e) in EXTRA_PACKAGES})
    return deps


def _environment() -> dict:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = [d for d in env["dependencies"] if isinstance(d, str)]
    # pip entries are packages conda does not ship, except options (--...) and the project (-e .)
    pip = next((d["pip"] for d in env["dependencies"] if isinstance(d, dict)), [])
    deps += [d for d in pip if not d.startswith("-")]
    return {k: v for k, v in map(_split, deps) if k not in CONDA_ONLY}


def test_same_packages():
    assert set(_environment()) == set(_pyproject())


def test_same_versions():
    env, py = _environment(), _pyproject()
    assert {k: env[k] for k in py} == py


def test_environment_installs_the_project_itself():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip
