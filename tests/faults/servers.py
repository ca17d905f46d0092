"""A Redis that a fault test starts, stops, restarts and hangs itself (its PostgreSQL cluster is
`tests.pgtemp.PrivateCluster`).

Never the shared server: it runs on a free loopback port, without persistence.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time

import redis as redis_lib

from tests.pgtemp import free_port


class RedisServer:
    """On a free loopback port, or with `unix_socket` on that socket alone (no TCP)."""

    def __init__(self, unix_socket: str | None = None) -> None:
        self.unix_socket = unix_socket
        self.port = 0 if unix_socket else free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        if self.unix_socket:
            return f"unix://{self.unix_socket}?db=0"
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        listen = ["--unixsocket", self.unix_socket, "--unixsocketperm", "700"] if self.unix_socket else []
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", *listen, "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis_lib.Redis.from_url(self.url, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return self
            except redis_lib.RedisError:
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.resume()
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        """Stopped and started again: empty, as a Redis without persistence comes back."""
        self.stop()
        self.start()

    def hang(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
