"""The worker's protocol set-up: its limits, and the connection limit kept under the file limit."""

from __future__ import annotations

import logging
import resource

from httpserver import workers
from httpserver.config import ServerSettings


def test_the_protocol_gets_the_worker_knobs_and_the_soft_file_limit_is_raised_to_the_hard(monkeypatch):
    calls = []
    monkeypatch.setattr(resource, "getrlimit", lambda which: (1024, 65536))
    monkeypatch.setattr(resource, "setrlimit", lambda which, limits: calls.append(limits))
    protocol = workers.guarded_protocol(ServerSettings(max_headers=7), logging.getLogger("test"))
    assert calls == [(65536, 65536)]
    assert protocol.settings.max_headers == 7 and protocol.settings.max_connections == 1000


def test_a_connection_limit_the_file_limit_cannot_carry_is_lowered_with_one_warning(monkeypatch, caplog):
    monkeypatch.setattr(resource, "getrlimit", lambda which: (1024, 1024))
    with caplog.at_level(logging.WARNING, logger="test"):
        protocol = workers.guarded_protocol(ServerSettings(), logging.getLogger("test"))
    # half of what is left after the reserve: room to answer as many again with 503
    assert protocol.settings.max_connections == (1024 - workers.FD_RESERVE) // 2
    assert [record.getMessage() for record in caplog.records] == [
        "server.max_connections = 1000 lowered to 480: the process may open 1024 files"
    ]
