"""Render a page in headless Chromium through the DevTools protocol over a pipe (no extra dependency).

``chromium --remote-debugging-pipe`` reads protocol commands on fd 3 and writes replies and
events on fd 4, one JSON object per message, each ending in a NUL byte: no websocket client is
needed. :func:`render` opens the page, waits for its load event and returns what the page
reported (console messages, uncaught exceptions, log entries such as failed resource loads)
and the state of each ``<img>`` (loaded, natural size). :class:`Session` keeps a page open to
drive it: real key presses (``Input.dispatchKeyEvent``), script evaluation, reloads and
screenshots (the inspection app's tests, ``tests/inspect/``).

The browser runs with a fresh user-data-dir and with background networking, component
updates and sync off: it fetches nothing but the pages it is sent to.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def find_browser() -> str | None:
    """The first Chromium-family browser on PATH, or ``None``."""
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


@dataclass
class Rendered:
    """What a page did in the browser."""

    images: list[dict[str, Any]]  # alt, complete, naturalWidth, naturalHeight
    problems: list[str] = field(default_factory=list)  # console errors/warnings, exceptions, error log entries
    messages: list[str] = field(default_factory=list)  # every console message and log entry, for the failure text


class _Pipe:
    def __init__(self, browser: str, timeout: float) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        self._profile = tempfile.TemporaryDirectory(prefix="brahmasifier-chromium-")
        args = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", f"--user-data-dir={self._profile.name}",
                "--remote-debugging-pipe", "about:blank"]
        def on_fds_3_and_4() -> None:  # in the child, before exec: the pipe ends where Chromium expects them
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        # close_fds=False keeps the dup2'd fds 3 and 4 (Python's own fds are close-on-exec anyway)
        self._stderr = tempfile.TemporaryFile()  # a file, not a pipe: a chatty browser never blocks on it
        self.process = subprocess.Popen(args, preexec_fn=on_fds_3_and_4, close_fds=False,
                                        stdout=subprocess.DEVNULL, stderr=self._stderr)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.deadline = time.monotonic() + timeout
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self.receive()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))
            self.events.append(reply)

    def receive(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = self.deadline - time.monotonic()
            ready, _, _ = select.select([self._from_browser], [], [], max(left, 0))
            if not ready:
                raise TimeoutError("the browser did not answer in time")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                self._stderr.seek(0)
                stderr = self._stderr.read().decode(errors="replace")
                raise RuntimeError(f"the browser closed the pipe: {stderr[-2000:]}")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return dict(json.loads(raw))

    def wait_for(self, method: str, session: str) -> None:
        while not any(e.get("method") == method and e.get("sessionId") == session for e in self.events):
            self.events.append(self.receive())

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._stderr.close()
        os.close(self._to_browser)
        os.close(self._from_browser)
        self._profile.cleanup()


_IMAGES = ("JSON.stringify(Array.from(document.images).map(i => ({alt: i.alt, complete: i.complete, "
           "naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight})))")


def render(url: str, browser: str, timeout: float = 60.0) -> Rendered:
    """Open ``url`` in headless ``browser``, wait for its load event, report images and problems."""
    pipe = _Pipe(browser, timeout)
    try:
        target = pipe.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page"):
            pipe.send(f"{domain}.enable", session=session)
        pipe.send("Page.navigate", {"url": url}, session=session)
        pipe.wait_for("Page.loadEventFired", session)
        value = pipe.send("Runtime.evaluate", {"expression": _IMAGES, "returnByValue": True}, session=session)
        images = json.loads(value["result"]["value"])
        events = list(pipe.events)
    finally:
        pipe.close()
    rendered = Rendered(images)
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            rendered.messages.append(f"console.{params.get('type')}: {text}")
            if params.get("type") in ("error", "warning", "assert"):
                rendered.problems.append(rendered.messages[-1])
        elif method == "Runtime.exceptionThrown":
            rendered.problems.append(f"exception: {params.get('exceptionDetails', {}).get('text')}")
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            rendered.messages.append(f"log {entry.get('level')}: {entry.get('text')} ({entry.get('url', '')})")
            if entry.get("level") in ("error", "warning"):
                rendered.problems.append(rendered.messages[-1])
    return rendered


#: DevTools key descriptions of the non-character keys the tests press.
_SPECIAL_KEYS = {"ArrowRight": 39, "ArrowLeft": 37, "Enter": 13, "Escape": 27, "Tab": 9}


class Session:
    """One open page in headless Chromium: ``open``, ``press``, ``evaluate``, ``wait_until``, ``reload``, ``screenshot``."""

    def __init__(self, browser: str, timeout: float = 60.0, width: int = 1400, height: int = 900) -> None:
        self.pipe = _Pipe(browser, timeout)
        self.timeout = timeout
        target = self.pipe.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                         "mobile": False})

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self.pipe.deadline = time.monotonic() + self.timeout
        return self.pipe.send(method, params, session=self.session)

    def _load(self, method: str, params: dict[str, Any]) -> None:
        self.pipe.events = [e for e in self.pipe.events if e.get("method") != "Page.loadEventFired"]
        self.send(method, params)
        self.pipe.wait_for("Page.loadEventFired", self.session)

    def open(self, url: str) -> None:
        """Navigate to ``url`` and wait for its load event."""
        self._load("Page.navigate", {"url": url})

    def reload(self) -> None:
        """Reload the page (bypassing the cache) and wait for its load event."""
        self._load("Page.reload", {"ignoreCache": True})

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (promises awaited)."""
        reply = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in reply:
            raise RuntimeError(f"{expression}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def wait_until(self, expression: str, timeout: float = 30.0) -> Any:
        """Poll a JavaScript expression until it is truthy; its value."""
        end = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > end:
                raise TimeoutError(f"still false after {timeout} s: {expression}")
            time.sleep(0.05)

    def press(self, key: str) -> None:
        """A real key press (down, up) on the focused element: one character or a name in ``_SPECIAL_KEYS``."""
        if key in _SPECIAL_KEYS:
            code = _SPECIAL_KEYS[key]
            down = {"type": "rawKeyDown", "key": key, "code": key, "windowsVirtualKeyCode": code}
        else:
            code = ord(key.upper())
            down = {"type": "keyDown", "key": key, "text": key, "code": f"Key{key.upper()}" if key.isalpha() else "",
                    "windowsVirtualKeyCode": code}
        self.send("Input.dispatchKeyEvent", down)
        self.send("Input.dispatchKeyEvent", {**{k: v for k, v in down.items() if k != "text"}, "type": "keyUp"})

    def screenshot(self) -> bytes:
        """A PNG of the viewport."""
        return base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"})["data"])

    def problems(self) -> list[str]:
        """Console errors/warnings, uncaught exceptions and error log entries seen so far."""
        found = []
        for event in self.pipe.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert"):
                found.append(f"console.{params.get('type')}: {params.get('args')}")
            elif method == "Runtime.exceptionThrown":
                found.append(f"exception: {params.get('exceptionDetails', {})}")
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") in ("error", "warning"):
                found.append(f"log: {params['entry'].get('text')} ({params['entry'].get('url', '')})")
        return found

    def close(self) -> None:
        self.pipe.close()
