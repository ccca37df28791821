"""A headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``).

Enough to open a page, run JavaScript in it, take a screenshot and type into the search box: what the docs
tests need to check a page as a reader's browser shows it, with the standard library only (messages are
JSON separated by NUL bytes on file descriptors 3 and 4 of the browser).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import subprocess
import time
from pathlib import Path
from typing import Any


class BrowserError(RuntimeError):
    pass


class Browser:
    def __init__(self, executable: str, profile: Path, width: int = 1280, height: int = 900) -> None:
        self.executable, self.profile, self.size = executable, profile, (width, height)
        self._next_id = 0
        self._buffer = b""
        self.session: str | None = None

    def __enter__(self) -> "Browser":
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def pipes_on_3_and_4() -> None:  # in the child, before exec: the fds Chromium reads and writes
            # Copied above 10 first: dup2 onto the same number would keep the close-on-exec flag, and one
            # pipe may sit on 3 or 4 already.
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser_r, from_browser_w)]
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        width, height = self.size
        self.process = subprocess.Popen(
            [self.executable, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--remote-debugging-pipe", "--no-first-run", "--no-default-browser-check", "--hide-scrollbars",
             f"--user-data-dir={self.profile}", f"--window-size={width},{height}", "about:blank"],
            preexec_fn=pipes_on_3_and_4, close_fds=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser_r)
        os.close(from_browser_w)
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Page.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=False)
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self.call("Browser.close", session=False)
        except BrowserError:
            pass
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)

    # ------------------------------------------------------------------------------------ protocol
    def call(self, method: str, session: bool = True, timeout: float = 60, **params: Any) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_browser], [], [], max(left, 0))
            if not ready:
                raise BrowserError("Chromium did not answer in time")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise BrowserError(f"Chromium exited (status {self.process.poll()})")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    # --------------------------------------------------------------------------------------- pages
    def open(self, url: str, timeout: float = 60) -> None:
        self.call("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete'", timeout)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out waiting for {expression}")
            time.sleep(0.2)

    def screenshot(self) -> bytes:
        """A PNG of the whole page (its full height) at the window's width."""
        height = int(self.evaluate("document.documentElement.scrollHeight"))
        width = self.size[0]
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                         clip={"x": 0, "y": 0, "width": width, "height": min(height, 8000), "scale": 1})
        return base64.b64decode(shot["data"])

    def search(self, query: str, timeout: float = 30) -> list[str]:
        """Type ``query`` into mkdocs-material's search box; the links of the results it lists."""
        self.wait_for("document.querySelector('input.md-search__input') !== null", timeout)
        self.evaluate(f"""(() => {{
            const input = document.querySelector('input.md-search__input');
            input.focus();
            input.value = {json.dumps(query)};
            for (const type of ['focus', 'input', 'keyup']) input.dispatchEvent(new Event(type, {{bubbles: true}}));
        }})()""")
        self.wait_for("document.querySelectorAll('.md-search-result__item').length > 0", timeout)
        return self.evaluate("[...document.querySelectorAll('.md-search-result__item a')].map(a => a.href)")
