"""The TLS listener and its local CA: made once in the data directory, nothing written elsewhere, and the gateway
imports neither ``cryptography``'s X.509 machinery nor ``moto`` when the template and the data directory do not need them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import websockets

from local.testing import LocalGateway
from tests.local.conftest import MINIMAL
from tests.local.samples import ca_file, received, tls_context

ROOT = Path(__file__).resolve().parents[2]

_IMPORTS = """
import sys
from pathlib import Path
from local.server import LocalGatewayServer
from local.config import GatewayConfig
server = LocalGatewayServer(GatewayConfig(template=sys.argv[1], port=0, redis="off", data_dir=Path(sys.argv[2])))
server.close()
print(sorted(set(sys.modules) & {"cryptography.x509", "local.certificates", "moto"}))
"""


def _loaded(template: Path, data_dir: Path) -> list[str]:
    run = subprocess.run(
        [sys.executable, "-c", _IMPORTS, str(template), str(data_dir)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
    )
    loaded: list[str] = json.loads(run.stdout.strip().splitlines()[-1].replace("'", '"'))
    return loaded


def test_the_ca_is_made_once_and_only_then_is_cryptography_imported(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    # first run: the CA is made; the template has a queue
    assert _loaded(MINIMAL, data_dir) == ["cryptography.x509", "local.certificates", "moto"]
    made = {path.name: path.read_bytes() for path in data_dir.iterdir()}
    assert "ca.pem" in made
    assert oct((data_dir / "ca-key.pem").stat().st_mode & 0o777) == "0o600"
    chat = ROOT / "tests" / "local" / "apps" / "chat" / "template.yaml"
    assert _loaded(chat, data_dir) == []  # CA kept, no resources to back
    assert (data_dir / "ca.pem").read_bytes() == made["ca.pem"]


async def test_wss_and_https_reach_the_gateway(tmp_path: Path) -> None:
    args = ["--redis", "off", "--data-dir", str(tmp_path)]
    with LocalGateway(MINIMAL, env={"REDIS_URL": None}, args=args) as gateway:
        assert ca_file(gateway).startswith(str(tmp_path))
        async with websockets.connect(gateway.wss_url, ssl=tls_context(gateway)) as ws:
            await ws.send(json.dumps({"kind": "ping"}))
            assert await received(ws) == "pong"
        async with websockets.connect(gateway.ws_url) as ws:  # plain ws:// as before
            await ws.send(json.dumps({"kind": "ping"}))
            assert await received(ws) == "pong"
