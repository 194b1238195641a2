"""``make package``'s artifacts, built for real by pip: built for this machine, each imports its handler with
nothing but itself and the standard library on the path, ships none of another function's dependencies and stays
under its budget; built for the template's arm64, it holds only arm64 libraries. pip's cache lives in the test's
temporary directory."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.package import (
    BUDGET_MB,
    Artifact,
    Function,
    PackageError,
    Target,
    _check_binaries,
    _check_imports,
    build,
    canonical,
    deploy_template,
    functions_of,
    installed_versions,
    read_template,
    target_of,
)

HTTP_ONLY = ("fastapi", "mangum", "starlette")

# Imports the handler alone (-I: no environment, no script directory; -S: no site-packages, so not the venv), then
# reports every loaded module's file outside the standard library.
IMPORT_ALONE = """
import importlib, json, sys, sysconfig
artifact = sys.argv[1]
sys.path.insert(0, artifact)
handler = importlib.import_module(sys.argv[2]).handler
stdlib = (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"])
files = [getattr(m, "__file__", None) or "" for m in list(sys.modules.values())]
print(json.dumps({
    "callable": callable(handler),
    "outside": sorted(f for f in files if f and not f.startswith((artifact, *stdlib))),
    "modules": sorted({name.split(".")[0] for name in sys.modules}),
}))
"""


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return read_template()


@pytest.fixture(scope="module")
def pip_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pip-cache")


@pytest.fixture(scope="module")
def host_artifacts(
    template: dict[str, Any], pip_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Artifact]:
    out = tmp_path_factory.mktemp("dist")
    return {
        function.module: build(function, Target.host(), out / function.logical_id, cache_dir=pip_cache)
        for function in functions_of(template)
    }


# What the template gives every function and the settings require at init (values for this test only).
FUNCTION_ENV = {
    "JWT_SECRET": "test-package-jwt-secret-of-32-bytes!",
    "INTERNAL_SERVICE_KEY": "test-package-internal-service-key",
    "REDIS_URL": "redis://127.0.0.1:1/0",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def import_alone(artifact: Artifact) -> dict[str, Any]:
    module = f"connection_service.{artifact.function.module}"
    run = subprocess.run(
        [sys.executable, "-I", "-S", "-c", IMPORT_ALONE, str(artifact.path), module],
        capture_output=True,
        text=True,
        check=False,
        cwd=artifact.path.parent,
        env=FUNCTION_ENV,
    )
    assert run.returncode == 0, run.stderr
    result: dict[str, Any] = json.loads(run.stdout)
    return result


def test_the_template_has_the_four_handlers_on_arm64_python312(template: dict[str, Any]) -> None:
    assert {function.module for function in functions_of(template)} == set(BUDGET_MB)
    assert target_of(template) == Target("aarch64", (3, 12))


@pytest.mark.parametrize("module", ["connect", "disconnect", "message", "broadcast"])
def test_each_artifact_imports_its_handler_from_itself_alone(host_artifacts: dict[str, Artifact], module: str) -> None:
    imported = import_alone(host_artifacts[module])
    assert imported["callable"]
    assert imported["outside"] == []
    assert {"connection_service", "redis"} <= set(imported["modules"])
    assert ("pydantic" in imported["modules"]) == (module == "broadcast")  # the others' init never loads it
    assert "fastapi" not in imported["modules"]  # made on the first request the direct routes leave to the app


@pytest.mark.parametrize("module", ["connect", "disconnect", "message"])
def test_the_websocket_functions_ship_no_http_framework(host_artifacts: dict[str, Artifact], module: str) -> None:
    artifact = host_artifacts[module]
    assert [name for name in HTTP_ONLY if (artifact.path / name).exists()] == []
    assert not (artifact.path / "connection_service" / "api.py").exists()
    assert not set(HTTP_ONLY) & set(import_alone(artifact)["modules"])


def test_only_connect_ships_the_token_libraries(host_artifacts: dict[str, Artifact]) -> None:
    shipping = {module for module, artifact in host_artifacts.items() if (artifact.path / "jwt").is_dir()}
    assert shipping == {"connect"}
    assert (host_artifacts["broadcast"].path / "fastapi").is_dir()


def test_no_artifact_ships_boto3_which_the_runtime_provides(host_artifacts: dict[str, Artifact]) -> None:
    assert [module for module, artifact in host_artifacts.items() if (artifact.path / "botocore").exists()] == []


@pytest.mark.parametrize("module", ["connect", "disconnect", "message", "broadcast"])
def test_each_artifact_is_within_its_budget(host_artifacts: dict[str, Artifact], module: str) -> None:
    artifact = host_artifacts[module]
    on_disk = sum(path.stat().st_size for path in artifact.path.rglob("*") if path.is_file())
    assert artifact.size == on_disk
    assert on_disk <= BUDGET_MB[module] * 1e6, f"{module}: {on_disk / 1e6:.1f} MB"


def test_the_build_refuses_a_missing_import(host_artifacts: dict[str, Artifact], tmp_path: Path) -> None:
    copy = shutil.copytree(host_artifacts["message"].path, tmp_path / "message")
    shutil.rmtree(copy / "httpx")
    with pytest.raises(PackageError, match=r"imports \['httpx'\], missing from message.txt"):
        _check_imports(Function("MessageFunction", "message"), copy, frozenset({"httpx", "redis", "boto3"}))


def test_the_deploy_template_points_each_function_at_its_artifact(
    template: dict[str, Any], host_artifacts: dict[str, Artifact]
) -> None:
    directory = next(iter(host_artifacts.values())).path.parent
    variant = deploy_template(template, list(host_artifacts.values()), directory)
    assert "CodeUri" not in variant["Globals"]["Function"]
    assert template["Globals"]["Function"]["CodeUri"] == "functions/"  # the local gateway runs the source
    for artifact in host_artifacts.values():
        code_uri = variant["Resources"][artifact.function.logical_id]["Properties"]["CodeUri"]
        assert code_uri == artifact.function.logical_id
        assert (directory / code_uri / "connection_service" / f"{artifact.function.module}.py").is_file()


def test_an_arm64_artifact_holds_arm64_libraries_only(
    template: dict[str, Any], pip_cache: Path, tmp_path: Path
) -> None:
    disconnect = next(function for function in functions_of(template) if function.module == "disconnect")
    artifact = build(disconnect, target_of(template), tmp_path / "arm64", cache_dir=pip_cache)
    libraries = sorted(path.name for path in artifact.path.rglob("*.so"))
    assert libraries and all("aarch64" in name or "abi3" in name for name in libraries), libraries
    with pytest.raises(PackageError, match="is not built for x86_64"):
        _check_binaries(artifact.path, Target("x86_64", (3, 12)))
    with pytest.raises(PackageError, match=r"is not built for Python 313 \(cp313\)"):
        _check_binaries(artifact.path, Target("aarch64", (3, 13)))


def test_the_artifacts_carry_the_versions_installed_here(host_artifacts: dict[str, Artifact]) -> None:
    shipped = {
        canonical(distribution.metadata["Name"]): distribution.version
        for distribution in importlib.metadata.distributions(path=[str(host_artifacts["broadcast"].path)])
    }
    installed = installed_versions()
    assert {"fastapi", "pydantic", "pydantic-core", "redis"} <= shipped.keys()
    assert {name: version for name, version in shipped.items() if name in installed} == {
        name: installed[name] for name in shipped if name in installed
    }
