"""moodtune's HTTP API and web page: ``moodtune serve`` (needs the ``app`` extra: FastAPI, uvicorn).

Endpoints (OpenAPI schema at ``/openapi.json``; FastAPI's ``/docs`` page loads Swagger UI from a CDN, so it
needs a network connection, unlike everything else here):

* ``POST /api/analyze``: an image as the raw request body (or a multipart field ``image``) -> faces, boxes,
  7 probabilities and each face's (valence, arousal).
* ``POST /api/playlist``: probabilities or an emotion word, strategy, length -> a playlist, recorded as a
  session so feedback can refer to it.
* ``POST /api/feedback``: like, skip or played for a song.
* ``GET /api/songs`` (browse, ``q`` searches title and artist), ``GET /api/songs/{song_id}``,
  ``GET /api/songs/{song_id}/audio`` (the song's local file, with HTTP range requests).
* ``GET /api/emotions`` (labels, circumplex anchors, strategies), ``GET /api/health``.
* ``GET /``: the web page (``moodtune/app/web/``), no external assets.

Uploads are decoded in memory and never written anywhere by moodtune; the content decides whether it is an
image (Pillow sniffs it), never the file name or the declared type. Every error is JSON ``{"error": message}``
with a fitting status code.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException, MultiPartParser

import moodtune
from moodtune.emotions import ANCHORS, EMOTIONS, check_probabilities, to_point
from moodtune.errors import ImageError, LibraryError, MoodtuneError, NoFaceError, ParameterError
from moodtune.faces import analyze, image_from_bytes, load_model
from moodtune.music import Library
from moodtune.recommend import recommend
from moodtune.recommend.strategies import names as strategy_names

WEB_DIR = Path(__file__).resolve().parent / "web"
#: Largest upload accepted; a phone photo is 2-8 MB.
DEFAULT_MAX_UPLOAD = 10 * 1024 * 1024
#: Photos larger than this many pixels are refused before decoding (a decompression bomb can claim far more).
DEFAULT_MAX_PIXELS = 40_000_000
#: Faces are searched on a copy whose longer side is at most this. YuNet's time grows with the pixel count
#: (1 thread: ~50 ms at 512 px, ~16 ms at 320 px) and a webcam or portrait face fills much of the frame; at
#: 320 px faces smaller than about 1/30 of the photo's longer side are missed. Boxes are mapped back to the
#: image sent. With 8 clients on a busy 2-core machine (benchmarks/load.py) 320 px served 16-20 requests/s,
#: the full 512 px example photo 9.
DEFAULT_ANALYSIS_SIDE = 320
# Room for multipart boundaries and headers on top of the image itself.
_MULTIPART_OVERHEAD = 64 * 1024

_WEB_FILES = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
              "style.css": "text/css; charset=utf-8"}


# ---------------------------------------------------------------------------------------------- errors

def _image_status(err: ImageError) -> int:
    # ImageError has no subclasses; its messages are fixed phrases of moodtune.faces.image.
    text = str(err)
    if "too large" in text:
        return 413
    if "not an image" in text:
        return 415
    return 422  # empty, truncated or corrupt


def _status_for(err: MoodtuneError) -> int:
    if isinstance(err, ImageError):
        return _image_status(err)
    if isinstance(err, LibraryError):
        return 503  # the library file cannot be used right now (busy, unreadable): not the client's fault
    if isinstance(err, ParameterError | NoFaceError):
        return 422
    return 422


#: Names a browser may use for a server on this computer only.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for item in exc.errors():
        where = ".".join(str(x) for x in item.get("loc", ()) if x != "body")
        parts.append(f"{where}: {item.get('msg', 'invalid')}" if where else str(item.get("msg", "invalid")))
    return "invalid request: " + "; ".join(parts)


class _BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413 before they are read into memory.

    Declared lengths are checked up front; bodies sent without one (chunked) are counted as they arrive.
    """

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await _error(413, self._message())(scope, receive, send)
        received = 0

        async def counted():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # An HTTPException: FastAPI re-raises it from body parsing, and the handler makes it JSON.
                    raise HTTPException(413, self._message())
            return message

        await self.app(scope, counted, send)

    def _message(self) -> str:
        return f"the upload is larger than {self.limit // (1024 * 1024)} MB; send a smaller image"


# ---------------------------------------------------------------------------------------------- library

class _LibraryThread:
    """The music library, used from one thread only.

    An SQLite connection belongs to the thread that opened it, and the library keeps its song table in
    memory after the first read (~19,000 songs). So one thread owns one Library and every request's library
    work queues for it: calls take milliseconds, and SQLite serialises writes anyway.
    """

    def __init__(self, path):
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="moodtune-library")
        self._library: Library | None = None

    def _call(self, fn, *args, **kwargs):
        if self._library is None:
            self._library = Library(self.path)
        return fn(self._library, *args, **kwargs)

    async def run(self, fn, *args, **kwargs):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(self._call, fn, *args, **kwargs))

    def close(self) -> None:
        def _close():
            if self._library is not None:
                self._library.close()
                self._library = None
        self._executor.submit(_close).result()
        self._executor.shutdown(wait=True)


# ---------------------------------------------------------------------------------------------- requests

class PlaylistRequest(BaseModel):
    """Give ``emotion`` or ``probabilities`` (7 values in EMOTIONS order, or a mapping emotion -> value)."""

    emotion: str | None = Field(None, examples=["sad"])
    probabilities: list[float] | dict[str, float] | None = None
    strategy: str = Field("match", examples=["match", "lift", "calm", "goal 0.8,0.3"])
    n: int = Field(10, ge=1, le=100)
    seed: int | None = Field(None, ge=0)


class FeedbackRequest(BaseModel):
    song_id: str = Field(examples=["deezer:7435008"])
    kind: Literal["like", "skip", "played"]
    session: int | None = Field(None, description="default: the latest session whose playlist holds the song")


def _probabilities(value) -> np.ndarray:
    if isinstance(value, dict):
        unknown = set(value) - set(EMOTIONS)
        if unknown:
            raise ParameterError(f"unknown emotions {sorted(unknown)} in probabilities: use {', '.join(EMOTIONS)}")
        value = [value.get(e, 0.0) for e in EMOTIONS]
    return check_probabilities(value)


def _point(p) -> dict:
    v, a = to_point(p)
    return {"valence": round(float(v), 4), "arousal": round(float(a), 4)}


def _check_range(header: str | None, size: int) -> str | None:
    """Why a Range header cannot be served (None when it can, or when there is none).

    Starlette's FileResponse serves ranges but answers its own errors as plain text; every error here is
    JSON, so they are caught first.
    """
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip() != "bytes" or not spec.strip():
        return "malformed"
    satisfiable = False
    for part in spec.split(","):
        start, dash, end = part.strip().partition("-")
        if not dash or not (start.isdigit() or end.isdigit()) or (start and not start.isdigit()) or (
                end and not end.isdigit()):
            return "malformed"
        if start and end and int(end) < int(start):
            return "malformed"
        if (start and int(start) < size) or (not start and int(end) > 0):
            satisfiable = True
    return None if satisfiable else "unsatisfiable"


# ---------------------------------------------------------------------------------------------- the app

def create_app(*, db_path=None, max_upload_bytes: int = DEFAULT_MAX_UPLOAD, model: str = "emotion_default",
               detector: str = "auto", max_pixels: int = DEFAULT_MAX_PIXELS,
               analysis_side: int = DEFAULT_ANALYSIS_SIDE, allowed_hosts=None) -> FastAPI:
    """The FastAPI application.

    Parameters
    ----------
    db_path : str or Path, optional
        Library database; None uses the user's default library.
    max_upload_bytes : int
        Larger uploads are refused with 413.
    model : str
        A shipped model name or an ``.onnx`` file, as for :func:`moodtune.classify`.
    detector : {"auto", "yunet", "haar"}
    max_pixels : int
        Images claiming more pixels are refused before decoding (413).
    analysis_side : int
        Longer side, in pixels, of the copy faces are searched on.
    allowed_hosts : collection of str, optional
        Host names (without port) requests may be addressed to; others get 400. ``serve`` sets this to the
        loopback names when it listens on loopback, so a web page elsewhere cannot reach the server through
        DNS rebinding. None accepts any host.
    """
    library = _LibraryThread(db_path)

    class _InMemoryParser(MultiPartParser):
        # Starlette spools file parts over 1 MB to a temporary file; uploads are never written to disk here.
        spool_max_size = max_upload_bytes + _MULTIPART_OVERHEAD

    @asynccontextmanager
    async def lifespan(app):
        # Load the model and the song table before the first request, not during it.
        await run_in_threadpool(load_model, model)
        await run_in_threadpool(analyze, np.zeros((160, 160, 3), np.uint8), detector=detector, model=model)
        await library.run(Library.table)
        yield
        library.close()

    app = FastAPI(title="moodtune", version=moodtune.__version__, lifespan=lifespan,
                  description="Read a facial expression, get music that fits or lifts the mood.")
    app.add_middleware(_BodyLimit, limit=max_upload_bytes + _MULTIPART_OVERHEAD)
    app.state.library = library

    if allowed_hosts is not None:
        allowed = {name.lower() for name in allowed_hosts}

        @app.middleware("http")
        async def check_host(request: Request, call_next):
            # request.url.hostname drops the port and the brackets of an IPv6 address.
            if (request.url.hostname or "").lower() not in allowed:
                return _error(400, "this server answers only requests addressed to "
                                   f"{', '.join(sorted(allowed))}; open it by one of those names")
            return await call_next(request)

    @app.exception_handler(MoodtuneError)
    async def moodtune_error(request, exc: MoodtuneError):
        return _error(_status_for(exc), str(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request, exc: HTTPException):
        return _error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request, exc: RequestValidationError):
        return _error(422, _validation_message(exc))

    @app.exception_handler(Exception)
    async def server_error(request, exc: Exception):
        # A bug, not bad input: say so without leaking internals (uvicorn logs the traceback).
        return _error(500, "internal server error; see the server's log")

    # ------------------------------------------------------------------------------------------ pages

    def web_file(name: str) -> Response:
        return Response((WEB_DIR / name).read_bytes(), media_type=_WEB_FILES[name],
                        headers={"Cache-Control": "no-cache"})

    @app.get("/", include_in_schema=False)
    def index():
        return web_file("index.html")

    @app.get("/app.js", include_in_schema=False)
    def app_js():
        return web_file("app.js")

    @app.get("/style.css", include_in_schema=False)
    def style_css():
        return web_file("style.css")

    # ------------------------------------------------------------------------------------------ API

    @app.get("/api/health", tags=["meta"])
    async def health():
        songs = await library.run(len)
        return {"status": "ok", "version": moodtune.__version__, "songs": songs, "model": str(model)}

    @app.get("/api/emotions", tags=["meta"])
    def emotions():
        """The 7 labels in probability order, where each sits in (valence, arousal), and the strategies."""
        return {"emotions": list(EMOTIONS),
                "anchors": {e: {"valence": ANCHORS[e][0], "arousal": ANCHORS[e][1]} for e in EMOTIONS},
                "strategies": strategy_names()}

    def analyse_bytes(data: bytes) -> dict:
        image = image_from_bytes(data, name="upload", max_pixels=max_pixels)
        height, width = image.shape[:2]
        scale = 1.0
        if max(height, width) > analysis_side:
            scale = analysis_side / max(height, width)
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        faces = []
        for result in analyze(image, detector=detector, model=model):
            face = result.to_dict()
            face["box"] = [round(v / scale) for v in face["box"]]
            if face["landmarks"] is not None:
                face["landmarks"] = [[round(x / scale, 1), round(y / scale, 1)] for x, y in face["landmarks"]]
            face["point"] = _point(result.probabilities)
            faces.append(face)
        # No face is a normal answer for a webcam frame, not an error.
        return {"width": width, "height": height, "faces": faces}

    @app.post("/api/analyze", tags=["faces"], openapi_extra={"requestBody": {
        "description": "The image file itself (JPEG, PNG, WebP, ...) as the body, or multipart field `image`. "
                       "Its content decides, not its name or declared type.",
        "content": {"image/*": {"schema": {"type": "string", "format": "binary"}},
                    "multipart/form-data": {"schema": {"type": "object", "properties": {
                        "image": {"type": "string", "format": "binary"}}}}}}})
    async def analyse(request: Request):
        """Faces (largest first) with box ``[x, y, w, h]``, score, emotion, 7 probabilities and point.

        ``width`` and ``height`` give the pixels boxes refer to: the image sent, EXIF orientation applied,
        shrunk to 1920 px on its longer side when larger. No face gives ``faces: []``, not an error.
        """
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            try:
                form = await _InMemoryParser(request.headers, request.stream(), max_files=1, max_fields=4).parse()
            except MultiPartException as exc:
                raise HTTPException(400, f"malformed multipart upload: {exc.message}") from None
            try:
                upload = form.get("image")
                if upload is None or isinstance(upload, str):
                    raise ParameterError("multipart upload without a file field named 'image'")
                data = await upload.read(max_upload_bytes + 1)
            finally:
                await form.close()
        else:
            data = await request.body()
        if len(data) > max_upload_bytes:
            raise HTTPException(413, f"the image is larger than {max_upload_bytes // (1024 * 1024)} MB; "
                                     "send a smaller one")
        return await run_in_threadpool(analyse_bytes, data)

    @app.post("/api/playlist", tags=["music"])
    async def playlist(body: PlaylistRequest):
        """A playlist for the mood, recorded as a session (its id comes back as ``session``)."""
        if (body.emotion is None) == (body.probabilities is None):
            raise ParameterError("give exactly one of emotion (a word) or probabilities (7 values)")
        p = None if body.probabilities is None else _probabilities(body.probabilities)

        def make(lib):
            return recommend(probabilities=p, emotion=body.emotion, n=body.n, library=lib, strategy=body.strategy,
                             seed=body.seed, record=True).to_dict()
        return await library.run(make)

    @app.post("/api/feedback", tags=["music"])
    async def feedback(body: FeedbackRequest):
        def record(lib):
            if lib.get(body.song_id) is None:
                raise HTTPException(404, f"no song {body.song_id!r} in the library")
            session = body.session if body.session is not None else lib.latest_session_with(body.song_id)
            event = lib.record(body.song_id, body.kind, session=session)
            return {"event_id": event, "song_id": body.song_id, "kind": body.kind, "session": session}
        return await library.run(record)

    @app.get("/api/songs", tags=["music"])
    async def songs(q: str = Query("", max_length=200, description="words to find in title or artist"),
                    limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0)):
        """Songs in ``song_id`` order; with ``q``, those whose title or artist holds every word of it."""
        words = q.casefold().split()

        def find(lib):
            rows = lib.table().songs
            if words:
                rows = [s for s in rows if all(w in f"{s.title} {s.artist}".casefold() for w in words)]
            return {"total": len(rows), "offset": offset, "limit": limit,
                    "songs": [s.to_dict() for s in rows[offset:offset + limit]]}
        return await library.run(find)

    async def get_song(song_id: str):
        song = await library.run(Library.get, song_id)
        if song is None:
            raise HTTPException(404, f"no song {song_id!r} in the library")
        return song

    @app.get("/api/songs/{song_id}", tags=["music"])
    async def song(song_id: str):
        return (await get_song(song_id)).to_dict()

    @app.get("/api/songs/{song_id}/audio", tags=["music"],
             responses={206: {"description": "Part of the file (Range request)"}})
    async def audio(song_id: str, request: Request):
        """The song's local audio file, with range requests. Only a path stored in the library is served."""
        song = await get_song(song_id)
        if not song.path:
            raise HTTPException(404, f"song {song_id!r} has no local audio file (catalogue songs carry none)")
        # A relative path is taken as relative to the library file's folder.
        path = await library.run(lambda lib: lib.path.parent / song.path)
        if not path.is_file():
            raise HTTPException(404, f"the audio file of song {song_id!r} is missing")
        problem = _check_range(request.headers.get("range"), path.stat().st_size)
        if problem == "malformed":
            raise HTTPException(400, "malformed Range header; use e.g. Range: bytes=0-1023")
        if problem == "unsatisfiable":
            raise HTTPException(416, "the requested range lies beyond the end of the file",
                                headers={"Content-Range": f"bytes */{path.stat().st_size}"})
        return FileResponse(path, filename=path.name, content_disposition_type="inline")

    return app


def serve(*, host: str = "127.0.0.1", port: int = 8000, db_path=None, log_level: str = "info", **options) -> None:
    """Run the app with uvicorn until interrupted (one worker process; analysis runs in its thread pool).

    No access log: the page sends two frames a second, which would bury everything else. Errors are logged.
    """
    # yuface's OpenMP threads spin while they wait: on a machine busy with other work (a training run, the
    # other requests of this server) one 512 px detection took ~450 ms instead of ~50 ms. Requests already
    # run in parallel in the thread pool, so the detector gets one thread. OpenMP reads this when yuface
    # loads, at the first detection (during start-up); a value the user set wins. Set here, not at import,
    # so importing this module changes nothing for the rest of a process (torch reads it too).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import uvicorn

    loopback = host in LOOPBACK_HOSTS
    options.setdefault("allowed_hosts", LOOPBACK_HOSTS | {host} if loopback else None)
    uvicorn.run(create_app(db_path=db_path, **options), host=host, port=port, log_level=log_level,
                access_log=False, timeout_graceful_shutdown=3)


__all__ = ["create_app", "serve", "DEFAULT_MAX_UPLOAD"]
