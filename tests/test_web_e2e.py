"""The web page end to end in headless Chromium (Debian's /usr/bin/chromium driven by Playwright).

A fake camera plays a video made from the example photo; the page must find the face, show an emotion, get
a playlist and send a like that lands in the library. Skips when Chromium or Playwright is absent; no browser
is ever downloaded.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from moodtune.music import Library

from .conftest import EXAMPLE_PHOTO

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT_COPY = Path("/tmp/moodtune_e2e.png")

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium)", allow_module_level=True)
pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")
sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright

from moodtune.app.server import create_app  # noqa: E402


def write_y4m(photo: Path, out: Path, frames: int = 10) -> Path:
    """The photo as a still Y4M video (4:2:0, full-range BT.601 as C420jpeg says), for Chromium's fake camera."""
    rgb = np.asarray(Image.open(photo).convert("RGB"), dtype=np.float32)
    h, w = rgb.shape[:2]
    rgb = rgb[: h - h % 2, : w - w % 2]
    h, w = rgb.shape[:2]
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    u = -0.168736 * r - 0.331264 * g + 0.5 * b + 128
    v = 0.5 * r - 0.418688 * g - 0.081312 * b + 128

    def plane(x, sub):
        if sub:  # average each 2x2 block
            x = x.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
        return np.clip(np.rint(x), 0, 255).astype(np.uint8).tobytes()

    frame = b"FRAME\n" + plane(y, False) + plane(u, True) + plane(v, True)
    out.write_bytes(f"YUV4MPEG2 W{w} H{h} F10:1 Ip A1:1 C420jpeg\n".encode() + frame * frames)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_server(fresh_db):
    """The app on 127.0.0.1 at a free port, in a thread; stopped at the end."""
    port = free_port()
    config = uvicorn.Config(create_app(db_path=fresh_db), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    assert not thread.is_alive(), "the server did not stop"


BASE_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def launch(tmp_path):
    """Start Chromium with the base flags plus the given ones; every browser started is closed at the end.

    Playwright gives each launch a fresh temporary profile of its own (it refuses --user-data-dir in args;
    that is launch_persistent_context's job), so no state leaks between tests.
    """
    with sync_playwright() as p:
        browsers = []

        def start(*flags):
            browsers.append(p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=[*BASE_FLAGS, *flags]))
            return browsers[-1]
        try:
            yield start
        finally:
            for b in browsers:
                b.close()


@pytest.fixture
def browser(launch, tmp_path):
    """Chromium whose camera is the example photo, allowed without asking."""
    video = write_y4m(EXAMPLE_PHOTO, tmp_path / "face.y4m")
    return launch("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                  f"--use-file-for-fake-video-capture={video}")


def test_webcam_to_playlist_to_like(live_server, browser, fresh_db, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    requests, console_errors = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: m.type == "error" and console_errors.append(m.text))
    page.goto(live_server + "/")
    assert "never stored" in page.locator("#privacy").inner_text()

    # The fake camera shows the smiling astronaut: a face box and "happy" should appear within seconds.
    page.wait_for_function("document.querySelector('#top-emotion').textContent !== '—'", timeout=30_000)
    page.wait_for_function("document.querySelector('#top-emotion').textContent === 'happy'", timeout=30_000)
    assert page.locator("#status").get_attribute("data-state") == "ok"
    assert page.locator("#current-point").count() == 1
    assert float(page.locator("#value-happy").inner_text().rstrip("%")) > 50

    page.select_option("#strategy", "lift")
    page.click("#use-mood")
    page.wait_for_function("document.querySelectorAll('#playlist li').length === 10", timeout=30_000)
    assert "lift" in page.locator("#playlist-summary").inner_text()
    assert page.locator("#circumplex polyline.path").count() == 1

    first = page.locator("#playlist li").first
    song_id = first.get_attribute("data-song-id")
    first.locator("button.like").click()
    page.wait_for_function("document.querySelector('#playlist li button.like').textContent.startsWith('Liked')",
                           timeout=10_000)
    page.wait_for_timeout(600)  # let a couple more frames come and go, so the box is drawn in the screenshot
    screenshot = tmp_path / "moodtune_e2e.png"
    page.screenshot(path=str(screenshot), full_page=True)
    shutil.copy(screenshot, SCREENSHOT_COPY)
    assert screenshot.stat().st_size > 10_000

    with Library(fresh_db) as lib:
        assert lib.preferences() == {song_id: "like"}
        assert len(lib.history()) == 1 and lib.history()[0].strategy == "lift"

    # Offline: nothing but this server (and in-page blob/data URLs) was ever asked for.
    assert all(url.startswith((live_server, "blob:", "data:")) for url in requests), requests
    assert not console_errors, console_errors


def test_photo_upload_states(live_server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(live_server + "/")
    page.wait_for_function("document.querySelector('#status').dataset.state === 'ok'", timeout=30_000)

    blank = tmp_path / "wall.png"
    Image.new("RGB", (320, 240), (200, 200, 200)).save(blank)
    page.set_input_files("#upload", str(blank))
    page.wait_for_function("document.querySelector('#status').dataset.state === 'noface'", timeout=15_000)
    assert "No face" in page.locator("#status").inner_text()
    assert page.locator("#video").is_hidden()

    fake = tmp_path / "holiday.jpg"
    fake.write_text("this is not a photo")
    page.set_input_files("#upload", str(fake))
    page.wait_for_function("document.querySelector('#status').dataset.state === 'error'", timeout=15_000)
    assert "not an image" in page.locator("#status").inner_text()

    page.set_input_files("#upload", str(EXAMPLE_PHOTO))
    page.wait_for_function("document.querySelector('#top-emotion').textContent === 'happy'", timeout=15_000)

    # Choosing the mood by hand works without any face.
    page.select_option("#override", "sad")
    page.wait_for_function("document.querySelectorAll('#playlist li').length === 10", timeout=30_000)
    assert "for sad" in page.locator("#playlist-summary").inner_text()


@pytest.mark.parametrize("flags, state, words", [
    (["--use-fake-device-for-media-stream"], "refused", "refused"),   # a camera, but permission denied
    ([], "nocamera", "No camera"),                                    # no camera at all
])
def test_camera_states(live_server, launch, flags, state, words):
    page = launch(*flags).new_page()
    page.goto(live_server + "/")
    page.wait_for_function(f"document.querySelector('#status').dataset.state === '{state}'", timeout=15_000)
    assert words in page.locator("#status").inner_text()
    # The rest of the page still works: a mood chosen by hand gives a playlist.
    page.select_option("#override", "neutral")
    page.wait_for_function("document.querySelectorAll('#playlist li').length === 10", timeout=30_000)


def test_server_error_state(live_server, browser):
    page = browser.new_page()
    page.route("**/api/analyze", lambda route: route.fulfill(
        status=500, content_type="application/json", body='{"error": "the model fell over", "status": 500}'))
    page.goto(live_server + "/")
    page.wait_for_function("document.querySelector('#status').dataset.state === 'error'", timeout=15_000)
    assert "the model fell over" in page.locator("#status").inner_text()
