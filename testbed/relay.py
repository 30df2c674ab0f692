"""A TCP relay into a network namespace: connections accepted here are re-opened from inside
another namespace, so a program outside (a browser) reaches a server on a test network the
way a host of that network does.

    with TcpRelay(("10.0.2.15", 80), lan_ns, ("192.168.1.1", 80)) as relay:
        url = f"http://{relay.address[0]}:{relay.address[1]}/"

Each connection gets a thread that enters the namespace (setns affects only the calling
thread), connects, and copies bytes both ways until both sides are done.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import threading

from .netns import Netns

__all__ = ["TcpRelay"]


class TcpRelay:
    """Listens on `listen` in this process's network namespace; each connection is relayed
    to `target` as seen from `ns`."""

    def __init__(self, listen: tuple[str, int], ns: Netns, target: tuple[str, int]) -> None:
        self.ns = ns
        self.target = target
        self._server = socket.create_server(listen)
        self.address = self._server.getsockname()[:2]
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            try:
                with open(f"/run/netns/{self.ns.name}") as netns:
                    os.setns(netns.fileno(), os.CLONE_NEWNET)
                upstream = socket.create_connection(self.target, timeout=30)
            except OSError:
                return
            with upstream:
                upstream.settimeout(None)
                _copy_both_ways(client, upstream)

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        self._thread.join(timeout=5)

    def __enter__(self) -> TcpRelay:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _copy_both_ways(a: socket.socket, b: socket.socket) -> None:
    """Copy until both directions saw end of stream (or an error)."""
    peer = {a: b, b: a}
    with selectors.DefaultSelector() as sel:
        for sock in peer:
            sel.register(sock, selectors.EVENT_READ)
        while sel.get_map():
            for key, _ in sel.select():
                sock = key.fileobj
                try:
                    data = sock.recv(65536)
                    if data:
                        peer[sock].sendall(data)
                        continue
                    peer[sock].shutdown(socket.SHUT_WR)
                except OSError:
                    return
                sel.unregister(sock)
