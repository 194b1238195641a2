"""samconfig.toml sits at the root (where ``sam`` looks) with dev and prod; infra.deploy keeps an environment's
parameters when the command line adds secrets, as a bare ``sam deploy --parameter-overrides`` would not."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.deploy import SAMCONFIG, DeployError, environment_parameters, merge, read_config, sam_command

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return read_config()


def test_samconfig_is_where_sam_looks_with_a_stack_and_stage_per_environment(config: dict[str, Any]) -> None:
    assert SAMCONFIG == ROOT / "samconfig.toml"
    assert not (ROOT / "infra" / "samconfig.toml").exists()
    for env in ("dev", "prod"):
        section = config[env]
        assert section["global"]["parameters"]["stack_name"] == f"as-connection-service-{env}"
        assert environment_parameters(config, env)["Stage"] == env
        assert section["deploy"]["parameters"]["template_file"] == "dist/template.json"


def test_secrets_on_the_command_line_keep_the_environments_parameters(config: dict[str, Any]) -> None:
    merged = merge(environment_parameters(config, "prod"), {"JwtSecret": "s3cret", "VpcId": "vpc-1"})
    assert merged == {
        "Stage": "prod",
        "AllowedOrigins": "https://app.nevermisscall.com",
        "JwtSecret": "s3cret",
        "VpcId": "vpc-1",
    }
    command = sam_command("prod", merged, ["--no-confirm-changeset"])
    assert command[:5] == ["sam", "deploy", "--config-env", "prod", "--parameter-overrides"]
    assert shlex.split(command[5]) == [
        "Stage=prod",
        "AllowedOrigins=https://app.nevermisscall.com",
        "JwtSecret=s3cret",
        "VpcId=vpc-1",
    ]
    assert command[6:] == ["--no-confirm-changeset"]


def test_a_value_with_spaces_stays_one_parameter() -> None:
    command = sam_command("dev", {"AllowedOrigins": 'https://a, https://"b"'}, [])
    assert command[5] == 'AllowedOrigins="https://a, https://\\"b\\""'


def test_a_stage_from_another_environment_is_refused(config: dict[str, Any]) -> None:
    with pytest.raises(DeployError, match="Stage=prod, not Stage=dev"):
        merge(environment_parameters(config, "prod"), {"Stage": "dev"})
    with pytest.raises(DeployError, match="no environment 'staging'"):
        environment_parameters(config, "staging")


def test_the_dry_run_prints_the_merged_command_without_the_secret() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "infra.deploy", "--config-env", "prod", "JwtSecret=s3cret", "--dry-run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "AllowedOrigins=https://app.nevermisscall.com" in run.stdout
    assert "JwtSecret=***" in run.stdout
    assert "s3cret" not in run.stdout
