"""A connection's lifecycle and a gateway-served socket's phases: the moves allowed, and those refused."""

from __future__ import annotations

import pytest

from local.connections import Connection, ConnectionState, IllegalTransition, checked_move
from local.event_payloads import Peer
from local.websocket import PHASE_MOVES, SocketPhase


def _connection() -> Connection:
    peer = Peer(
        connection_id="abc=",
        connected_at=0,
        source_ip="127.0.0.1",
        user_agent="test",
        domain_name="127.0.0.1:1",
        stage="dev",
        api_id="api",
    )
    return Connection(peer)


def test_a_connection_opens_then_closes_and_may_close_again() -> None:
    connection = _connection()
    seen = [connection.state]
    for state in (ConnectionState.OPEN, ConnectionState.CLOSED, ConnectionState.CLOSED):
        connection.enter(state)
        seen.append(connection.state)
    assert seen == [ConnectionState.CONNECTING, ConnectionState.OPEN, ConnectionState.CLOSED, ConnectionState.CLOSED]


def test_a_refused_connection_closes_without_opening() -> None:
    connection = _connection()
    connection.enter(ConnectionState.CLOSED)
    assert connection.state is ConnectionState.CLOSED


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ((), ConnectionState.CONNECTING),
        ((ConnectionState.OPEN,), ConnectionState.OPEN),
        ((ConnectionState.OPEN,), ConnectionState.CONNECTING),
        ((ConnectionState.CLOSED,), ConnectionState.OPEN),
        ((ConnectionState.OPEN, ConnectionState.CLOSED), ConnectionState.OPEN),
    ],
)
def test_a_connection_refuses_a_move_its_lifecycle_does_not_have(
    path: tuple[ConnectionState, ...], illegal: ConnectionState
) -> None:
    connection = _connection()
    for state in path:
        connection.enter(state)
    with pytest.raises(IllegalTransition, match=f"-> {illegal.name}"):
        connection.enter(illegal)
    assert connection.state is (path[-1] if path else ConnectionState.CONNECTING)


def test_a_socket_moves_from_handshake_to_open_to_closing_to_closed() -> None:
    phase = SocketPhase.HANDSHAKE
    for new in (SocketPhase.OPEN, SocketPhase.CLOSING, SocketPhase.CLOSED):
        phase = checked_move(PHASE_MOVES, phase, new)
    assert phase is SocketPhase.CLOSED
    refused = checked_move(PHASE_MOVES, SocketPhase.HANDSHAKE, SocketPhase.CLOSING)
    left = checked_move(PHASE_MOVES, SocketPhase.HANDSHAKE, SocketPhase.CLOSED)  # the client left during $connect
    assert (refused, left) == (SocketPhase.CLOSING, SocketPhase.CLOSED)


@pytest.mark.parametrize(
    ("current", "illegal"),
    [
        (SocketPhase.OPEN, SocketPhase.HANDSHAKE),
        (SocketPhase.CLOSING, SocketPhase.OPEN),
        (SocketPhase.CLOSED, SocketPhase.OPEN),
        (SocketPhase.CLOSED, SocketPhase.CLOSED),
        (SocketPhase.OPEN, SocketPhase.OPEN),
    ],
)
def test_a_socket_refuses_a_phase_it_cannot_reach(current: SocketPhase, illegal: SocketPhase) -> None:
    with pytest.raises(IllegalTransition, match=f"SocketPhase {current.name} -> {illegal.name}"):
        checked_move(PHASE_MOVES, current, illegal)
