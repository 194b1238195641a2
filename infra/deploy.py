"""``sam deploy`` into one of samconfig.toml's environments without losing its parameters.

``sam deploy --config-env prod --parameter-overrides A=1`` replaces the environment's ``parameter_overrides`` as a
whole, so a command that passes the secrets silently drops ``AllowedOrigins`` (and a forgotten ``Stage`` deploys
``Stage=dev`` into the prod stack). This wrapper merges instead: the environment's parameters, then the
``KEY=VALUE`` pairs given here (which win), and refuses a ``Stage`` other than the environment's. Any other
argument (``--no-confirm-changeset``, ``--region eu-west-1``) goes to ``sam deploy`` unchanged.

    python -m infra.deploy --config-env prod JwtSecret=… InternalServiceKey=… VpcId=vpc-… PrivateSubnetIds=…
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
SAMCONFIG = ROOT / "samconfig.toml"
# Parameters whose values the printed command hides (the template's NoEcho ones).
SECRET_PARAMETERS = frozenset({"RedisUrl", "RedisPassword", "JwtSecret", "InternalServiceKey"})


class DeployError(ValueError):
    """The deploy cannot go ahead as asked."""


def read_config(path: Path = SAMCONFIG) -> dict[str, Any]:
    config: dict[str, Any] = tomllib.loads(path.read_text())
    return config


def environment_parameters(config: dict[str, Any], env: str) -> dict[str, str]:
    """The ``parameter_overrides`` of ``env``'s deploy section, as a mapping."""
    try:
        deploy = config[env]["deploy"]["parameters"]
    except KeyError:
        envs = sorted(name for name, section in config.items() if isinstance(section, dict) and "deploy" in section)
        raise DeployError(f"samconfig.toml has no environment {env!r} with deploy parameters (it has {envs})") from None
    overrides = deploy.get("parameter_overrides", "")
    words = shlex.split(overrides) if isinstance(overrides, str) else [str(word) for word in overrides]
    return parse_pairs(words)


def parse_pairs(words: list[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise DeployError(f"not a KEY=VALUE parameter: {word!r}")
        pairs[key] = value
    return pairs


def merge(environment: dict[str, str], given: dict[str, str]) -> dict[str, str]:
    """The environment's parameters with ``given`` on top; ``Stage`` stays the environment's."""
    stage = environment.get("Stage")
    if stage is not None and given.get("Stage", stage) != stage:
        raise DeployError(f"this environment deploys Stage={stage}, not Stage={given['Stage']}: choose --config-env")
    return {**environment, **given}


def sam_command(env: str, parameters: dict[str, str], extra: list[str], *, shown: bool = False) -> list[str]:
    """The ``sam deploy`` command line (``shown``: secret values replaced by ``***``)."""
    words = [
        f"{key}={'***' if shown and key in SECRET_PARAMETERS and value else _quoted(value)}"
        for key, value in parameters.items()
    ]
    return ["sam", "deploy", "--config-env", env, "--parameter-overrides", " ".join(words), *extra]


def _quoted(value: str) -> str:
    """A value as SAM's ``--parameter-overrides`` reads it (double quotes around one with spaces or quotes)."""
    if value and not any(char.isspace() or char in "\"'" for char in value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.deploy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config-env", required=True, help="the samconfig.toml environment: dev or prod")
    parser.add_argument("--dry-run", action="store_true", help="print the sam command (secrets hidden), run nothing")
    args, rest = parser.parse_known_args(argv)
    given = parse_pairs([word for word in rest if "=" in word and not word.startswith("-")])
    extra = [word for word in rest if not ("=" in word and not word.startswith("-"))]
    config = read_config()
    try:
        parameters = merge(environment_parameters(config, args.config_env), given)
    except DeployError as exc:
        parser.error(str(exc))
    print("$", shlex.join(sam_command(args.config_env, parameters, extra, shown=True)))
    if args.dry_run:
        return 0
    template = config[args.config_env]["deploy"]["parameters"].get("template_file")
    if template and not (ROOT / template).exists():
        parser.error(f"{template} is missing: run `make package` first")
    if shutil.which("sam") is None:
        parser.error("the SAM CLI (sam) is not on the PATH: see docs/deploy.md")
    return subprocess.run(sam_command(args.config_env, parameters, extra), cwd=ROOT, check=False).returncode  # noqa: S603


if __name__ == "__main__":
    sys.exit(main())
