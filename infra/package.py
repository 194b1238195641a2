"""``make package``: one deployable directory per function of template.yaml, under ``dist/<LogicalId>/``, and
``dist/template.json``, the template with each function's ``CodeUri`` on its own directory (``sam deploy`` zips and
uploads them). template.yaml itself keeps ``CodeUri: functions/``, which the local gateway runs from source.

Each artifact holds the handler, the package modules it reaches (infra.imports) and the third-party packages of
``functions/requirements/<handler>.txt``, installed by pip for the template's runtime and architecture
(``--platform manylinux2014_aarch64 --python-version 3.12 --only-binary=:all:``), on any host. The build fails
when a module the handler's code imports is in neither the artifact nor the runtime (``NOT_SHIPPED``), when a
native library is built for another machine, or when an artifact is over ``BUDGET_MB``.
"""

from __future__ import annotations

import argparse
import functools
import importlib.metadata
import json
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse

from infra.imports import closure

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
SOURCE = ROOT / "functions"
PACKAGE = "connection_service"
PROJECT = "as-connection-service"
REQUIREMENTS = SOURCE / "requirements"
DIST = ROOT / "dist"
# Unzipped MB each artifact may reach, per handler (Lambda's own limit is 250 MB), bytecode included. Measured
# (arm64/3.12 with python3.12 bytecode; x86_64/3.11, the tests' host build): connect 35.8/38.3 (cryptography is
# a third of it), disconnect 15.5/17.0, message 19.1/20.8, broadcast 21.9/23.7; the budget is ~10% over the larger.
BUDGET_MB = {"connect": 42.0, "disconnect": 19.0, "message": 23.0, "broadcast": 26.0}
# Imported by the code but not shipped, and why: the handler's import works without them (the tests check).
RUNTIME_PROVIDED = {"boto3": "the Lambda runtime's", "botocore": "the Lambda runtime's"}
NOT_SHIPPED: dict[str, dict[str, str]] = {
    "*": {
        "localstack_client": "optional: only inside LocalStack, when installed there",
        "dotenv": "local development only: the settings read .env with it when the file exists, and none is shipped",
    },
    "disconnect": {"jwt": "tokens are verified by the connect function only (wiring imports tokens lazily)"},
    "message": {"jwt": "tokens are verified by the connect function only"},
    "broadcast": {"jwt": "tokens are verified by the connect function only"},
}
# ELF e_machine of each architecture's native libraries.
ELF_MACHINES = {"aarch64": 0xB7, "x86_64": 0x3E}
ARCHITECTURES = {"arm64": "aarch64", "x86_64": "x86_64"}
UNNEEDED = ("bin", "__pycache__")  # console scripts and the host interpreter's bytecode


class PackageError(RuntimeError):
    """An artifact could not be built or breaks a rule."""


@dataclass(frozen=True)
class Target:
    """The interpreter and machine an artifact is built for."""

    machine: str  # aarch64, x86_64
    python: tuple[int, int]

    @property
    def pip_args(self) -> list[str]:
        version = f"{self.python[0]}.{self.python[1]}"
        abi = f"cp{self.python[0]}{self.python[1]}"
        return [
            *("--platform", f"manylinux2014_{self.machine}", "--implementation", "cp"),
            *("--python-version", version, "--abi", abi, "--only-binary=:all:"),
        ]

    @classmethod
    def host(cls) -> Target:
        return cls(platform.machine(), (sys.version_info.major, sys.version_info.minor))


@dataclass(frozen=True)
class Function:
    logical_id: str
    module: str  # the handler's module within the package: connect, ...

    @property
    def requirements(self) -> Path:
        return REQUIREMENTS / f"{self.module}.txt"

    @property
    def budget_mb(self) -> float:
        return BUDGET_MB[self.module]


@dataclass(frozen=True)
class Artifact:
    function: Function
    path: Path
    size: int  # bytes, unzipped


def read_template(path: Path = TEMPLATE) -> dict[str, Any]:
    template: dict[str, Any] = yaml_parse(path.read_text())
    return template


def functions_of(template: dict[str, Any]) -> list[Function]:
    found = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            handler = resource["Properties"]["Handler"]
            package, module, _ = handler.split(".")
            if package != PACKAGE:
                raise PackageError(f"{logical_id}'s handler {handler} is outside {PACKAGE}")
            found.append(Function(logical_id, module))
    return found


def target_of(template: dict[str, Any]) -> Target:
    """The template's architecture and runtime (Globals), e.g. arm64 and python3.12."""
    globals_function = template.get("Globals", {}).get("Function", {})
    architecture = (globals_function.get("Architectures") or ["x86_64"])[0]
    runtime = globals_function["Runtime"].removeprefix("python")
    major, minor = (int(part) for part in runtime.split("."))
    return Target(ARCHITECTURES[architecture], (major, minor))


def build(function: Function, target: Target, out: Path, *, cache_dir: Path | None = None) -> Artifact:
    """``out`` made afresh: the function's dependencies for ``target``, then its package modules; checked."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    _pip_install(function.requirements, target, out, cache_dir)
    for unneeded in UNNEEDED:
        shutil.rmtree(out / unneeded, ignore_errors=True)
    reach = closure(SOURCE / PACKAGE, function.module)
    (out / PACKAGE).mkdir()
    for module in sorted(reach.modules | {"__init__"}):
        shutil.copy2(SOURCE / PACKAGE / f"{module}.py", out / PACKAGE / f"{module}.py")
    _compile(out, target)
    _check_imports(function, out, reach.third_party)
    _check_binaries(out, target)
    artifact = Artifact(function, out, sum(path.stat().st_size for path in out.rglob("*") if path.is_file()))
    if artifact.size > function.budget_mb * 1e6:
        raise PackageError(
            f"{function.logical_id}: {artifact.size / 1e6:.1f} MB unzipped, over its {function.budget_mb} MB budget"
        )
    return artifact


def _pip_install(requirements: Path, target: Target, out: Path, cache_dir: Path | None) -> None:
    """The requirements at the versions installed here, which the tests ran against (constraints: a package not
    installed here resolves freely)."""
    constraints = out.parent / f".{out.name}-constraints.txt"
    constraints.write_text("".join(f"{name}=={version}\n" for name, version in sorted(installed_versions().items())))
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
    command += ["--target", str(out), "--requirement", str(requirements), "--constraint", str(constraints)]
    command += target.pip_args
    if cache_dir is not None:
        command += ["--cache-dir", str(cache_dir)]
    try:
        run = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    finally:
        constraints.unlink()
    if run.returncode != 0:
        raise PackageError(f"pip could not install {requirements.name} for {target}:\n{run.stdout}{run.stderr}")


def installed_versions() -> dict[str, str]:
    """Each distribution installed in this environment (the project itself, not on any index, left out)."""
    versions = {}
    for distribution in importlib.metadata.distributions():
        name = canonical(distribution.metadata["Name"] or "")
        if name and name != PROJECT:
            versions[name] = distribution.version
    return versions


def canonical(name: str) -> str:
    """A distribution's name as indexes compare it: ``Pydantic_Core`` is ``pydantic-core``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _compile(out: Path, target: Target) -> None:
    """Bytecode for the target's interpreter, when one is at hand: Lambda cannot write it (read-only code), so
    without it every cold start compiles each module it imports. ``unchecked-hash``: zip timestamps do not matter."""
    interpreter = interpreter_for(target.python)
    if interpreter is None:
        return
    command = [interpreter, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(out)]
    run = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if run.returncode != 0:
        raise PackageError(f"compileall failed in {out}:\n{run.stdout}{run.stderr}")


@functools.cache
def interpreter_for(version: tuple[int, int]) -> str | None:
    """This interpreter if it is ``version``, else a ``pythonX.Y`` on the PATH that really runs (not a bare shim)."""
    if sys.version_info[:2] == version:
        return sys.executable
    found = shutil.which(f"python{version[0]}.{version[1]}")
    if found is None:
        return None
    probe_version = [found, "-c", "import sys; print(*sys.version_info[:2])"]
    probe = subprocess.run(probe_version, capture_output=True, text=True, check=False)  # noqa: S603
    return found if probe.stdout.split() == [str(part) for part in version] else None


def _check_imports(function: Function, out: Path, imported: frozenset[str]) -> None:
    excused = {**RUNTIME_PROVIDED, **NOT_SHIPPED["*"], **NOT_SHIPPED.get(function.module, {})}
    missing = sorted(name for name in imported - excused.keys() if not _ships(out, name))
    if missing:
        raise PackageError(f"{function.logical_id} imports {missing}, missing from {function.requirements.name}")


def _ships(out: Path, name: str) -> bool:
    return (out / name).is_dir() or (out / f"{name}.py").is_file() or any(out.glob(f"{name}.*.so"))


def _check_binaries(out: Path, target: Target) -> None:
    """Every native library is built for the target's machine (ELF header) and, when tagged, its Python ABI."""
    expected = ELF_MACHINES[target.machine]
    abi = f"{target.python[0]}{target.python[1]}"
    for library in out.rglob("*.so*"):
        header = library.read_bytes()[:20]
        if header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") != expected:
            raise PackageError(f"{library.relative_to(out)} is not built for {target.machine}")
        tag = library.name.partition(".cpython-")[2].split("-")[0]
        if tag and tag != abi:
            raise PackageError(f"{library.relative_to(out)} is not built for Python {abi} (cp{abi})")


def deploy_template(template: dict[str, Any], artifacts: list[Artifact], directory: Path) -> dict[str, Any]:
    """``template`` with each function's ``CodeUri`` on its artifact (relative to ``directory``)."""
    variant: dict[str, Any] = json.loads(json.dumps(template))
    variant.get("Globals", {}).get("Function", {}).pop("CodeUri", None)
    for artifact in artifacts:
        properties = variant["Resources"][artifact.function.logical_id]["Properties"]
        properties["CodeUri"] = artifact.path.relative_to(directory).as_posix()
    return variant


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.package", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DIST, help="where the artifacts go (default: dist/)")
    parser.add_argument("--host", action="store_true", help="build for this machine and Python, not the template's")
    args = parser.parse_args(argv)
    template = read_template()
    target = Target.host() if args.host else target_of(template)
    out: Path = args.out.resolve()
    if interpreter_for(target.python) is None:
        print(f"note: no python{target.python[0]}.{target.python[1]} on the PATH: the artifacts ship without bytecode")
    artifacts = []
    for function in functions_of(template):
        try:
            artifacts.append(build(function, target, out / function.logical_id))
        except PackageError as exc:
            parser.exit(1, f"make package: {exc}\n")
        size, budget = artifacts[-1].size / 1e6, function.budget_mb
        print(f"{function.logical_id:<20} {size:5.1f} MB unzipped (budget {budget:4.1f})  {artifacts[-1].path}")
    (out / "template.json").write_text(json.dumps(deploy_template(template, artifacts, out), indent=1) + "\n")
    print(f"{out / 'template.json'}: for {target.machine}, Python {target.python[0]}.{target.python[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
