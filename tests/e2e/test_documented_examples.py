"""The documents' examples run as written: every fenced ``sh``/``bash`` block of README.md, docs/*.md and
local/README.md is run, as the files have it, against a local gateway started like ``make run`` (the development
secrets, its embedded Redis) on a free port that the blocks get as ``PORT``; each must exit 0. A block that cannot
run here (it needs AWS, or keeps serving) is preceded by ``<!-- not run: reason -->``. And every relative link
between the documents (file and heading) resolves."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import websockets

from local.testing import LocalGateway

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "local" / "README.md"]
SHELLS = {"sh", "bash", "shell"}
NOT_RUN = re.compile(r"^<!--\s*not run:\s*(?P<reason>\S.*?)\s*-->$")
FENCE = re.compile(r"^(?P<fence>```+|~~~+)\s*(?P<language>[\w+-]*)")
# Variables of the caller that would change what an example sees (the examples use the development defaults).
CLEARED = ("JWT_SECRET", "INTERNAL_SERVICE_KEY", "TENANT", "STAGE", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "REDIS_URL")


@dataclass(frozen=True)
class Block:
    document: Path
    line: int  # of the opening fence, 1-based
    language: str
    text: str
    not_run: str | None  # the reason, when the block says it is not run

    @property
    def name(self) -> str:
        return f"{self.document.relative_to(ROOT)}:{self.line}"


def fenced_blocks(document: Path) -> Iterator[Block]:
    lines = document.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        fence = opening["fence"]
        end = index + 1
        while end < len(lines) and not lines[end].startswith(fence):
            end += 1
        previous = next((line.strip() for line in reversed(lines[:index]) if line.strip()), "")
        marker = NOT_RUN.match(previous)
        yield Block(
            document,
            index + 1,
            opening["language"].lower(),
            "\n".join(lines[index + 1 : end]) + "\n",
            marker["reason"] if marker else None,
        )
        index = end + 1


def shell_blocks() -> list[Block]:
    return [block for document in DOCUMENTS for block in fenced_blocks(document) if block.language in SHELLS]


RUNNABLE = [block for block in shell_blocks() if block.not_run is None]


def test_every_document_is_found_and_its_examples_are_run_or_say_why_not() -> None:
    blocks = shell_blocks()
    assert {block.document for block in blocks} >= {ROOT / "README.md", ROOT / "local" / "README.md"}
    assert any(block.document == ROOT / "README.md" for block in RUNNABLE), "the README's quick start runs"
    for document in DOCUMENTS:
        for block in fenced_blocks(document):
            if block.not_run is not None:
                assert block.language in SHELLS, f"{block.name}: 'not run' marks a shell block, not {block.language!r}"


def run_shell(command: str, port: int, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key not in CLEARED}
    environment["PORT"] = str(port)
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", command],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository as a fresh clone has it, which the documents are written for: every top-level entry linked,
    but not a developer's own .env (other keys, port, stage would change what `make` prints and runs)."""
    view = tmp_path_factory.mktemp("checkout")
    for entry in ROOT.iterdir():
        if entry.name != ".env":
            (view / entry.name).symlink_to(entry)
    return view


@pytest.fixture(scope="module")
def gateway(checkout: Path) -> Iterator[LocalGateway]:
    environment: dict[str, str | None] = dict.fromkeys(CLEARED)
    with LocalGateway(checkout / "template.yaml", stage="dev", env=environment, cwd=checkout) as gw:
        yield gw


@pytest.mark.parametrize("block", RUNNABLE, ids=[block.name for block in RUNNABLE])
def test_shell_example_runs_as_written(gateway: LocalGateway, checkout: Path, block: Block) -> None:
    result = run_shell(block.text, gateway.port, checkout)
    assert result.returncode == 0, (
        f"{block.name} exited {result.returncode}\n--- block\n{block.text}--- stdout\n{result.stdout}\n"
        f"--- stderr\n{result.stderr}\n--- gateway\n{gateway.logs_tail()}"
    )


def make_run_banner(port: int, cwd: Path) -> dict[str, str]:
    """The lines ``make run PORT=port`` prints before it starts the gateway, as ``{label: text}``."""
    recipe = run_shell(f"make -s -n run PORT={port}", port, cwd)
    assert recipe.returncode == 0, recipe.stderr
    echoes = "\n".join(line for line in recipe.stdout.splitlines() if line.startswith("echo "))
    printed = run_shell(echoes, port, cwd).stdout
    return dict(
        (label.strip(), text.strip()) for label, _, text in (line.partition(": ") for line in printed.splitlines()[1:])
    )


async def test_the_make_run_banner_token_and_broadcast_agree(gateway: LocalGateway, checkout: Path) -> None:
    """The banner's token command, its WebSocket URL and its broadcast command name one tenant: the event arrives."""
    banner = make_run_banner(gateway.port, checkout)
    assert banner["internal API key"].startswith("local-development-internal-service-key (the development default")
    token = run_shell(banner["token"] + '\nprintf %s "$TOKEN"', gateway.port, checkout)
    assert token.returncode == 0, token.stderr
    url = banner["WebSocket API"].replace("<JWT>", token.stdout)
    async with websockets.connect(url) as socket:
        await socket.send(json.dumps({"action": "hello", "requestId": "1"}))
        hello = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert hello["event"] == "authenticated", hello
        broadcast = await asyncio.to_thread(run_shell, banner["broadcast"], gateway.port, checkout)
        assert broadcast.returncode == 0, broadcast.stdout + broadcast.stderr
        assert json.loads(broadcast.stdout)["delivered"] == 1, broadcast.stdout
        event = json.loads(await asyncio.wait_for(socket.recv(), 10))
    assert (event["event"], event["tenantId"]) == ("call_incoming", hello["data"]["tenantId"]), event
    assert hello["data"]["tenantId"] == "t1", "the README's examples broadcast to t1, make token's default"


# --- links ----------------------------------------------------------------------------------------------------------

LINK = re.compile(r"(?<!!)\[[^\]]*\]\((?P<target>[^)\s]+)\)")


def heading_anchors(document: Path) -> set[str]:
    """GitHub's anchors of a document's headings (outside fenced blocks)."""
    anchors: set[str] = set()
    fenced = False
    for line in document.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def links(document: Path) -> Iterator[str]:
    fenced = False
    for line in document.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            yield from (match["target"] for match in LINK.finditer(line))


@pytest.mark.parametrize("document", DOCUMENTS, ids=[str(d.relative_to(ROOT)) for d in DOCUMENTS])
def test_relative_links_resolve(document: Path) -> None:
    broken = []
    for target in links(document):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:, …
            continue
        path, _, anchor = target.partition("#")
        resolved = (document.parent / path).resolve() if path else document
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in heading_anchors(resolved):
            broken.append(f"{target}: no such heading")
    assert not broken, f"{document.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_readme_links_every_doc() -> None:
    readme = set(links(ROOT / "README.md"))
    missing = [doc.name for doc in sorted((ROOT / "docs").glob("*.md")) if f"docs/{doc.name}" not in readme]
    assert not missing, f"README.md does not link {missing}"
