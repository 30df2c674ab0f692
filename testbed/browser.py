"""Debian's headless Chromium, driven through playwright-core (tests/browser/driver.js).

    with Browser() as browser:
        browser.goto("http://127.0.0.1:8080/cgi-bin/luci/")
        browser.fill("#luci_password", "secret")
        browser.click(".cbi-button-positive")
        browser.wait_text("Status")
        browser.screenshot(path)

The node driver and its one dependency (playwright-core, `npm ci` in tests/browser, done by
scripts/setup.sh) never download a browser. The driver runs here, or, with `endpoint`
("HOST:PORT", default $BROWSER_ENDPOINT), wherever that TCP address starts one per connection:
from a VM, tests/espvm/run-in-esp-kernel's ESPVM_GUESTCMD runs it on the machine outside, where
Chromium runs natively. Each method is one request line to the driver; a failed step raises
BrowserError with the driver's message. Plain library code, no pytest.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import select
import shutil
import socket
import subprocess
import time

from .paths import PROJECT

__all__ = ["Browser", "BrowserError"]

DRIVER_DIR = PROJECT / "tests" / "browser"
_MARGIN_S = 10.0  # the driver's own timeout fires first; this catches a hung driver


class BrowserError(AssertionError):
    """A browser step failed."""


class Browser:
    """One Chromium page. `timeout` (s) is the default of every step."""

    def __init__(self, timeout: float = 60.0, endpoint: str | None = None) -> None:
        self.timeout = timeout
        self._next_id = 1
        self._buffer = b""
        self._proc: subprocess.Popen | None = None
        self._sock: socket.socket | None = None
        endpoint = endpoint or os.environ.get("BROWSER_ENDPOINT")
        if endpoint:
            host, port = endpoint.rsplit(":", 1)
            self._sock = socket.create_connection((host, int(port)), timeout=timeout)
            self._fd = self._sock.fileno()
        else:
            self._proc = _start_driver()
            self._fd = self._proc.stdout.fileno()
        self.version = self._reply(0, timeout)

    # --- steps
    def goto(self, url: str, **kw) -> int | None:
        """Load `url` (loopback only); returns the HTTP status."""
        return self._call("goto", url=url, **kw)

    def wait_view(self, **kw) -> None:
        """Wait until LuCI has rendered the page's view."""
        self._call("wait_view", **kw)

    def click(self, selector: str, **kw) -> None:
        self._call("click", selector=selector, **kw)

    def fill(self, selector: str, value: str, **kw) -> None:
        self._call("fill", selector=selector, value=value, **kw)

    def select(self, selector: str, value: str, **kw) -> None:
        self._call("select", selector=selector, value=value, **kw)

    def check(self, selector: str, **kw) -> None:
        """Tick a checkbox (no-op when ticked)."""
        self._call("check", selector=selector, **kw)

    def wait_for(self, selector: str, state: str = "visible", **kw) -> None:
        self._call("wait_for", selector=selector, state=state, **kw)

    def wait_text(self, text: str, selector: str = "body", **kw) -> None:
        self._call("wait_text", text=text, selector=selector, **kw)

    def wait_gone(self, text: str, selector: str = "body", **kw) -> None:
        self._call("wait_gone", text=text, selector=selector, **kw)

    def text(self, selector: str = "body") -> str | None:
        return self._call("text", selector=selector)

    def value(self, selector: str) -> str:
        """The current value of an input, select or textarea."""
        return self._call("value", selector=selector)

    def attrs(self, selector: str, name: str) -> list[str | None]:
        """The attribute `name` of every element matching `selector`."""
        return self._call("attrs", selector=selector, name=name)

    def rows(self, selector: str) -> list[list[str]]:
        """The cells' text of every row (element) matching `selector`."""
        return self._call("rows", selector=selector)

    def screenshot(self, path: pathlib.Path | str, full_page: bool = True) -> None:
        self._call("screenshot", path=str(path), full_page=full_page)

    def problems(self) -> list[str]:
        """Console errors, page errors and HTTP >= 400 responses since the last call."""
        return self._call("problems")

    # --- plumbing
    def _call(self, cmd: str, timeout: float | None = None, **args) -> object:
        timeout = self.timeout if timeout is None else timeout
        rid, self._next_id = self._next_id, self._next_id + 1
        request = {"id": rid, "cmd": cmd, "timeout": int(timeout * 1000), **args}
        try:
            self._send(json.dumps(request) + "\n")
        except OSError:
            raise BrowserError(f"{cmd}: the driver is gone\n{self._stderr()}") from None
        try:
            return self._reply(rid, timeout + _MARGIN_S)
        except BrowserError as exc:
            raise BrowserError(f"{cmd} {args}: {exc}") from None

    def _reply(self, rid: int, timeout: float) -> object:
        deadline = time.monotonic() + timeout
        while True:
            reply = json.loads(self._line(deadline, timeout))
            if reply.get("id") != rid:
                continue  # the late answer of a step that already timed out here
            if not reply["ok"]:
                raise BrowserError(reply["error"])
            return reply["result"]

    def _send(self, line: str) -> None:
        if self._sock is not None:
            self._sock.sendall(line.encode())
        else:
            self._proc.stdin.write(line.encode())
            self._proc.stdin.flush()

    def _line(self, deadline: float, timeout: float) -> bytes:
        """The next line from the driver (unbuffered reads: select() sees every byte)."""
        fd = self._fd
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise BrowserError(f"no answer from the driver within {timeout:.0f}s")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise BrowserError(f"the driver exited\n{self._stderr()}")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def _stderr(self) -> str:
        if self._proc is None or self._proc.poll() is None:
            return ""
        return self._proc.stderr.read().decode(errors="replace")[-3000:]

    def close(self) -> None:
        """Ask the driver to close Chromium and exit (a remote one also exits on EOF)."""
        with contextlib.suppress(OSError):
            self._send('{"cmd": "close"}\n')
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._proc is not None:
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc.stdout.close()
            self._proc.stderr.close()
            self._proc = None

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _start_driver() -> subprocess.Popen:
    node = shutil.which("node")
    if node is None:
        raise BrowserError("node is missing (scripts/setup.sh installs nodejs)")
    if not (DRIVER_DIR / "node_modules/playwright-core").is_dir():
        raise BrowserError(f"playwright-core is missing: run `npm ci` in {DRIVER_DIR}")
    return subprocess.Popen(
        [node, str(DRIVER_DIR / "driver.js")],
        cwd=DRIVER_DIR,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
