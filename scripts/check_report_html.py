#!/usr/bin/env python3
"""Open an HTML report in headless Chromium and check it: no console errors, every image
loaded, and each figure visible in a screenshot (not blank).

    python scripts/check_report_html.py OUT/report.html [--screenshot shot.png]

Talks to the browser over the DevTools protocol on a pipe (--remote-debugging-pipe): no
network port, no extra Python packages. Needs Debian's `chromium` (apt-get install -y chromium)
or CHROMIUM=/path/to/chrome. Exit code 0 when the page passes, 1 with the problems printed.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-pipe",
]
# Puts the pipe ends on fds 3 and 4, where --remote-debugging-pipe expects them, then execs.
TRAMPOLINE = (
    "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); os.execv(sys.argv[3], sys.argv[3:])"
)
WIDTH = 1280
MAX_HEIGHT = 12000


def find_chromium() -> str | None:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


class Browser:
    """A headless Chromium driven over the DevTools pipe (fd 3 in, fd 4 out, NUL-separated JSON)."""

    def __init__(self, executable: str, timeout: float = 60):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="iclft-chromium-")
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()
        # The child's ends must not be fds 3 or 4 themselves, or the dup2 calls below clash.
        to_browser_r, from_browser_w = (_above_4(fd) for fd in (to_browser_r, from_browser_w))
        args = [executable, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"]
        self.proc = subprocess.Popen(
            [sys.executable, "-c", TRAMPOLINE, str(to_browser_r), str(from_browser_w), *args],
            pass_fds=(to_browser_r, from_browser_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> dict:
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        while True:
            event = self._read()
            if event.get("method") == method:
                return event
            self.events.append(event)

    def _read(self) -> dict:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.from_browser], [], [], left)[0]:
                raise TimeoutError(f"no answer from Chromium within {self.timeout} s")
            chunk = os.read(self.from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe (did it start?)")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.to_browser)
        os.close(self.from_browser)
        shutil.rmtree(self.profile, ignore_errors=True)


def _above_4(fd: int) -> int:
    import fcntl

    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return high


def console_errors(events: list[dict]) -> list[str]:
    errors = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            errors.append("exception: " + details.get("exception", {}).get("description", details.get("text", "?")))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(
                "console.error: "
                + " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            )
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            errors.append(f"{entry.get('source', 'log')}: {entry.get('text', '')} {entry.get('url', '')}".strip())
    return errors


IMAGES_JS = """JSON.stringify(Array.from(document.images).map(img => {
  const r = img.getBoundingClientRect();
  return {alt: img.alt, complete: img.complete, width: img.naturalWidth,
          x: r.left + window.scrollX, y: r.top + window.scrollY, w: r.width, h: r.height};
}))"""


def check_page(html: str | Path, screenshot: str | Path | None = None, executable: str | None = None) -> dict:
    """Load `html` from disk; return {"errors": [...], "images": [...], "problems": [...]}."""
    import base64

    executable = executable or find_chromium()
    if not executable:
        raise FileNotFoundError("no chromium found: apt-get install -y chromium (or set CHROMIUM)")
    url = Path(html).resolve().as_uri()
    browser = Browser(executable)
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page"):
            browser.send(f"{domain}.enable", session=session)
        metrics = {"width": WIDTH, "height": 900, "deviceScaleFactor": 1, "mobile": False}
        browser.send("Emulation.setDeviceMetricsOverride", metrics, session=session)
        browser.send("Page.navigate", {"url": url}, session=session)
        browser.wait_for("Page.loadEventFired")
        height = browser.send(
            "Runtime.evaluate",
            {"expression": "document.documentElement.scrollHeight", "returnByValue": True},
            session=session,
        )["result"]["value"]
        metrics["height"] = max(300, min(int(height), MAX_HEIGHT))
        browser.send("Emulation.setDeviceMetricsOverride", metrics, session=session)
        images = json.loads(
            browser.send("Runtime.evaluate", {"expression": IMAGES_JS, "returnByValue": True}, session=session)[
                "result"
            ]["value"]
        )
        time.sleep(0.3)  # let late console messages arrive
        browser.send("Runtime.evaluate", {"expression": "1", "returnByValue": True}, session=session)
        png = base64.b64decode(browser.send("Page.captureScreenshot", {"format": "png"}, session=session)["data"])
        errors = console_errors(browser.events)
    finally:
        browser.close()
    if screenshot:
        Path(screenshot).write_bytes(png)
    problems = list(errors)
    if not images:
        problems.append("the page has no images (figures)")
    for img in images:
        if not img["complete"] or img["width"] == 0:
            problems.append(f"image did not load: {img['alt'] or '(no alt)'}")
        elif not figure_visible(png, img):
            problems.append(f"figure looks blank in the screenshot: {img['alt']}")
    return {"errors": errors, "images": images, "problems": problems, "screenshot_bytes": len(png)}


def figure_visible(png: bytes, img: dict) -> bool:
    """Whether the figure's area in the screenshot holds ink and colour (bars), not blank page."""
    import io

    from matplotlib.image import imread

    pixels = imread(io.BytesIO(png), format="png")[..., :3]
    y0, x0 = max(0, int(img["y"])), max(0, int(img["x"]))
    region = pixels[y0 : y0 + int(img["h"]), x0 : x0 + int(img["w"])]
    if region.size == 0:
        return False
    ink = (region.min(axis=2) < 0.8).mean()
    colour = ((region.max(axis=2) - region.min(axis=2)) > 0.25).mean()
    return bool(ink > 0.01 and colour > 0.005)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path)
    parser.add_argument("--screenshot", type=Path, help="save the full-page screenshot here")
    args = parser.parse_args(argv)
    result = check_page(args.html, args.screenshot)
    print(f"{args.html}: {len(result['images'])} image(s), {len(result['errors'])} console error(s)")
    for problem in result["problems"]:
        print(f"  problem: {problem}")
    if args.screenshot:
        print(f"screenshot: {args.screenshot}")
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
