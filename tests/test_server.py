"""The HTTP API through an HTTP client: analysis, playlists, feedback, the library, audio ranges, refusals."""

from __future__ import annotations

import io
import re
import sqlite3

import pytest
from PIL import Image

from moodtune.emotions import EMOTIONS
from moodtune.music import Library

from .conftest import EXAMPLE_PHOTO

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from moodtune.app import server  # noqa: E402
from moodtune.app.server import create_app  # noqa: E402


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def assert_error(response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["status"] == status and isinstance(body["error"], str) and body["error"]
    return body["error"]


@pytest.fixture
def client(fresh_db):
    with TestClient(create_app(db_path=fresh_db)) as c:
        yield c


# ---------------------------------------------------------------------------------------------- analysis

def test_analyze_example_photo_as_raw_body(client):
    response = client.post("/api/analyze", content=EXAMPLE_PHOTO.read_bytes())
    assert response.status_code == 200
    body = response.json()
    assert (body["width"], body["height"]) == (512, 512)
    [face] = body["faces"]
    assert face["emotion"] == "happy"
    assert list(face["probabilities"]) == list(EMOTIONS)
    assert sum(face["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    # Boxes are in the pixels of the image sent, even though faces are searched on a smaller copy.
    x, y, w, h = face["box"]
    assert 150 < x < 210 and 40 < y < 100 and 60 < w < 130 and 80 < h < 150
    assert len(face["landmarks"]) == 5
    assert face["point"]["valence"] > 0.7


def test_analyze_trusts_content_not_name_or_type(client):
    data = EXAMPLE_PHOTO.read_bytes()
    response = client.post("/api/analyze", files={"image": ("notes.txt", data, "text/plain")})
    assert response.status_code == 200
    assert response.json()["faces"][0]["emotion"] == "happy"
    # And a text file dressed up as a PNG is still refused.
    response = client.post("/api/analyze", files={"image": ("photo.png", b"hello, not a picture", "image/png")})
    assert "not an image" in assert_error(response, 415)


def test_uploads_are_never_written_to_disk(client, monkeypatch):
    import tempfile

    def no_disk(*args, **kwargs):
        raise AssertionError("an upload was spooled to a temporary file")
    monkeypatch.setattr(tempfile, "TemporaryFile", no_disk)
    photo = EXAMPLE_PHOTO.read_bytes() * 3  # 2.3 MB: over Starlette's usual 1 MB in-memory limit
    assert client.post("/api/analyze", files={"image": ("a.png", photo, "image/png")}).status_code == 200
    assert client.post("/api/analyze", content=photo).status_code == 200


def test_analyze_refuses_non_image_truncated_and_empty(client):
    assert_error(client.post("/api/analyze", content=b"%PDF-1.4 not an image", headers={"content-type": "image/jpeg"}),
                 415)
    truncated = EXAMPLE_PHOTO.read_bytes()[:5000]
    assert "truncated" in assert_error(client.post("/api/analyze", content=truncated), 422)
    assert_error(client.post("/api/analyze", content=b""), 422)
    assert_error(client.post("/api/analyze", files={"photo": ("a.png", b"x", "image/png")}), 422)
    assert_error(client.post("/api/analyze", content=b"--xx\r\nbroken",
                             headers={"content-type": "multipart/form-data; boundary=xx"}), 422)
    assert_error(client.post("/api/analyze", content=b"junk", headers={"content-type": "multipart/form-data"}), 400)


def test_analyze_without_a_face_is_not_an_error(client):
    blank = png_bytes(Image.new("RGB", (320, 240), (128, 128, 128)))
    response = client.post("/api/analyze", content=blank)
    assert response.status_code == 200
    assert response.json() == {"width": 320, "height": 240, "faces": []}


def test_oversized_upload_is_refused_before_it_is_read(fresh_db):
    with TestClient(create_app(db_path=fresh_db, max_upload_bytes=100_000)) as c:
        big = EXAMPLE_PHOTO.read_bytes()  # ~770 KiB
        assert "larger than" in assert_error(c.post("/api/analyze", content=big), 413)
        # Without a declared length (chunked), the body is counted as it arrives.
        assert_error(c.post("/api/analyze", content=iter([big[i:i + 65536] for i in range(0, len(big), 65536)])),
                     413)
        assert_error(c.post("/api/analyze", files={"image": ("a.png", big, "image/png")}), 413)
        # Small enough still works.
        small = png_bytes(Image.open(EXAMPLE_PHOTO).convert("RGB").resize((128, 128)))
        assert c.post("/api/analyze", content=small).status_code == 200


def test_decompression_bomb_is_refused(client):
    # 144 megapixels of one colour compress to a few kilobytes.
    bomb = png_bytes(Image.new("1", (12_000, 12_000)))
    assert len(bomb) < 200_000
    assert "too large" in assert_error(client.post("/api/analyze", content=bomb), 413)


# ---------------------------------------------------------------------------------------------- music

def test_playlist_from_emotion_and_probabilities(client):
    response = client.post("/api/playlist", json={"emotion": "sad", "strategy": "lift", "n": 5})
    assert response.status_code == 200
    body = response.json()
    assert body["emotion"] == "sad" and body["strategy"] == "lift"
    assert len(body["picks"]) == 5 and len(body["path"]) == 5
    assert isinstance(body["session"], int)
    assert body["path"][-1]["valence"] > body["path"][0]["valence"]

    p = {e: 0.0 for e in EMOTIONS} | {"happy": 0.7, "neutral": 0.3}
    body = client.post("/api/playlist", json={"probabilities": p, "strategy": "calm", "n": 3}).json()
    assert body["emotion"] == "happy" and len(body["picks"]) == 3
    body = client.post("/api/playlist", json={"probabilities": [0, 0, 0, 0, 0, 1, 0], "n": 2}).json()
    assert body["emotion"] == "sad"


@pytest.mark.parametrize("payload", [
    {}, {"emotion": "sad", "probabilities": [0, 0, 0, 1, 0, 0, 0]}, {"emotion": "bored"},
    {"emotion": "sad", "strategy": "sideways"}, {"emotion": "sad", "n": 0}, {"probabilities": [1, 2]},
    {"probabilities": {"joyful": 1.0}},
])
def test_bad_playlist_requests_are_422(client, payload):
    assert_error(client.post("/api/playlist", json=payload), 422)


def test_feedback_is_recorded_in_the_library(client, fresh_db):
    playlist = client.post("/api/playlist", json={"emotion": "happy", "n": 3}).json()
    song_id = playlist["picks"][0]["song"]["song_id"]
    response = client.post("/api/feedback", json={"song_id": song_id, "kind": "like"})
    assert response.status_code == 200
    assert response.json()["session"] == playlist["session"]
    assert client.post("/api/feedback", json={"song_id": song_id, "kind": "played",
                                              "session": playlist["session"]}).status_code == 200
    with Library(fresh_db) as lib:
        assert lib.preferences() == {song_id: "like"}
        assert [e.kind for e in lib.events(session=playlist["session"])] == ["like", "played"]

    assert_error(client.post("/api/feedback", json={"song_id": "deezer:0", "kind": "like"}), 404)
    assert_error(client.post("/api/feedback", json={"song_id": song_id, "kind": "love"}), 422)
    assert_error(client.post("/api/feedback", json={"song_id": song_id, "kind": "skip", "session": 999}), 422)


def test_browse_and_search_the_library(client):
    page = client.get("/api/songs", params={"limit": 5, "offset": 10}).json()
    assert page["total"] == 19_390 and len(page["songs"]) == 5
    ids = [s["song_id"] for s in page["songs"]]
    assert ids == sorted(ids)
    found = client.get("/api/songs", params={"q": "LOVE  you", "limit": 500}).json()
    assert 0 < found["total"] < 1000
    assert all("love" in f"{s['title']} {s['artist']}".lower() and "you" in f"{s['title']} {s['artist']}".lower()
               for s in found["songs"])
    song = found["songs"][0]
    assert client.get(f"/api/songs/{song['song_id']}").json() == song
    assert_error(client.get("/api/songs/deezer:0"), 404)
    assert_error(client.get("/api/songs", params={"limit": 0}), 422)


# ---------------------------------------------------------------------------------------------- audio

@pytest.fixture
def audio_client(fresh_db, tmp_path):
    """A library where one song has an absolute audio path and another a path relative to the library."""
    audio = tmp_path / "song.mp3"
    audio.write_bytes(bytes(range(256)) * 8)  # 2048 bytes, each byte its offset mod 256
    (tmp_path / "music").mkdir()
    (tmp_path / "music" / "rel.ogg").write_bytes(b"OggS" + b"\0" * 96)
    with Library(fresh_db) as lib:
        first, second, third = (s.song_id for s in lib.songs()[:3])
    with sqlite3.connect(fresh_db) as conn:
        conn.execute("UPDATE songs SET path = ? WHERE song_id = ?", (str(audio), first))
        conn.execute("UPDATE songs SET path = ? WHERE song_id = ?", ("music/rel.ogg", second))
        conn.execute("UPDATE songs SET path = ? WHERE song_id = ?", (str(tmp_path / "gone.mp3"), third))
    conn.close()
    with TestClient(create_app(db_path=fresh_db)) as c:
        yield c, first, second, third


def test_audio_is_served_with_ranges(audio_client):
    client, song_id, relative_id, _ = audio_client
    whole = client.get(f"/api/songs/{song_id}/audio")
    assert whole.status_code == 200 and len(whole.content) == 2048
    assert whole.headers["accept-ranges"] == "bytes"
    part = client.get(f"/api/songs/{song_id}/audio", headers={"Range": "bytes=300-309"})
    assert part.status_code == 206
    assert part.headers["content-range"] == "bytes 300-309/2048"
    assert part.content == bytes(range(300 - 256, 310 - 256))
    tail = client.get(f"/api/songs/{song_id}/audio", headers={"Range": "bytes=-4"})
    assert tail.status_code == 206 and tail.content == bytes([252, 253, 254, 255])
    beyond = client.get(f"/api/songs/{song_id}/audio", headers={"Range": "bytes=5000-"})
    assert_error(beyond, 416)
    assert beyond.headers["content-range"] == "bytes */2048"
    assert_error(client.get(f"/api/songs/{song_id}/audio", headers={"Range": "lines=1-2"}), 400)
    assert client.get(f"/api/songs/{relative_id}/audio").content.startswith(b"OggS")


def test_only_library_files_are_streamed(audio_client):
    client, _, _, missing_id = audio_client
    assert "missing" in assert_error(client.get(f"/api/songs/{missing_id}/audio"), 404)
    catalogue_song = client.get("/api/songs", params={"offset": 100, "limit": 1}).json()["songs"][0]["song_id"]
    assert "no local audio" in assert_error(client.get(f"/api/songs/{catalogue_song}/audio"), 404)
    # The request names a song, never a file: traversal attempts are just unknown songs.
    for attempt in ("..%2F..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "....%2F%2Fetc%2Fpasswd"):
        response = client.get(f"/api/songs/{attempt}/audio")
        assert response.status_code == 404
        assert b"root:" not in response.content
        assert response.json()["error"]
    response = client.get("/api/songs/../../../../etc/passwd")
    assert response.status_code == 404 and b"root:" not in response.content


# ---------------------------------------------------------------------------------------------- the rest

def test_health_emotions_docs_and_page(client):
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["songs"] == 19_390
    info = client.get("/api/emotions").json()
    assert info["emotions"] == list(EMOTIONS) and {"match", "lift", "calm"} <= set(info["strategies"])
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/analyze", "/api/playlist", "/api/feedback", "/api/songs", "/api/songs/{song_id}/audio",
            "/api/health"} <= set(paths)
    assert client.get("/docs").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "never stored" in page.text
    # Works offline: every asset comes from this server (the SVG namespace is a name, not a download).
    assert re.findall(r'(?:src|href)="([^"]*)"', page.text) == ["data:,", "/style.css", "/app.js"]
    for asset in ("/app.js", "/style.css"):
        text = client.get(asset).text
        assert text and not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text)
        assert "@import" not in text and "url(" not in text


def test_unknown_routes_methods_and_bugs_are_json(fresh_db, monkeypatch):
    with TestClient(create_app(db_path=fresh_db), raise_server_exceptions=False) as c:
        assert_error(c.get("/api/nothing"), 404)
        assert_error(c.get("/api/analyze"), 405)
        assert_error(c.post("/api/playlist", content=b"{not json", headers={"content-type": "application/json"}), 422)

        def broken(*args, **kwargs):
            raise RuntimeError("secret internals")
        monkeypatch.setattr(server, "analyze", broken)
        response = c.post("/api/analyze", content=EXAMPLE_PHOTO.read_bytes())
        assert "secret" not in assert_error(response, 500)


def test_serve_command_defaults_to_loopback(capsys):
    from moodtune.app.cli import build_parser, main

    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port) == ("127.0.0.1", 8000)
    assert main(["serve", "--port", "70000"]) == 2
    assert "--port" in capsys.readouterr().err


def test_library_work_runs_on_one_thread(fresh_db):
    # SQLite connections belong to the thread that opened them: concurrent requests must still all succeed.
    import concurrent.futures

    with TestClient(create_app(db_path=fresh_db)) as c:
        def ask(i):
            return c.post("/api/playlist", json={"emotion": EMOTIONS[i % 7], "n": 3}).status_code
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            assert list(pool.map(ask, range(16))) == [200] * 16


def test_requests_for_other_host_names_are_refused(fresh_db):
    # What serve() sets up on loopback: a page on another site that rebinds its name to 127.0.0.1 is refused.
    app = create_app(db_path=fresh_db, allowed_hosts=server.LOOPBACK_HOSTS)
    with TestClient(app, base_url="http://127.0.0.1:8000") as c:
        assert c.get("/api/health").status_code == 200
        assert c.get("/api/health", headers={"host": "localhost:8000"}).status_code == 200
        assert c.get("/api/health", headers={"host": "[::1]:8000"}).status_code == 200
        message = assert_error(c.get("/api/health", headers={"host": "evil.example:8000"}), 400)
        assert "127.0.0.1" in message
