// moodtune's page: webcam or photo -> /api/analyze -> smoothed bars and circumplex -> /api/playlist.
// Plain JavaScript, no build step, nothing fetched from elsewhere.
"use strict";

const FRAME_INTERVAL_MS = 500;   // about two frames a second: enough to follow an expression, light on the CPU
const FRAME_WIDTH = 320;         // the server searches faces at 320 px anyway; smaller frames travel faster
const SMOOTHING = 0.35;          // weight of the newest frame in the moving average (lower: steadier bars)
const NO_FACE_AFTER = 3;         // frames without a face before saying so (one miss is usually a blink or a turn)

const $ = (id) => document.getElementById(id);
const state = {
  emotions: [], anchors: {}, smoothed: null, missed: 0, stream: null, timer: null, inFlight: false,
  mode: "camera", mood: null, playlist: null, faceBox: null, frameSize: null,
};

// ------------------------------------------------------------------------------------------ server

async function api(path, options = {}) {
  let response;
  try {
    response = await fetch(path, options);
  } catch (err) {
    throw new Error("the moodtune server cannot be reached; is `moodtune serve` still running?");
  }
  let body = null;
  try { body = await response.json(); } catch (err) { /* not JSON: reported below */ }
  if (!response.ok) {
    throw new Error((body && body.error) || `server error ${response.status}`);
  }
  return body;
}

function setStatus(kind, text) {
  const el = $("status");
  el.dataset.state = kind;
  el.textContent = text;
}

// ------------------------------------------------------------------------------------------ camera

async function startCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    setStatus("nocamera", "This browser offers no camera here (open the page from this computer, at 127.0.0.1 or localhost). "
      + "Analyse a photo or choose a mood instead.");
    $("camera-toggle").disabled = true;
    return;
  }
  setStatus("starting", "Starting the camera…");
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  } catch (err) {
    state.stream = null;
    if (err.name === "NotAllowedError" || err.name === "SecurityError") {
      setStatus("refused", "Camera access was refused. Allow it in the browser's site settings, or analyse a photo.");
    } else if (err.name === "NotFoundError" || err.name === "OverconstrainedError") {
      setStatus("nocamera", "No camera found. Analyse a photo or choose a mood yourself.");
    } else if (err.name === "NotReadableError") {
      setStatus("nocamera", "The camera is in use by another program. Close it, or analyse a photo.");
    } else {
      setStatus("nocamera", `The camera could not be started (${err.name}). Analyse a photo instead.`);
    }
    $("camera-toggle").textContent = "Start camera";
    return;
  }
  state.mode = "camera";
  $("photo").hidden = true;
  const video = $("video");
  video.hidden = false;
  video.srcObject = state.stream;
  $("camera-toggle").textContent = "Stop camera";
  setStatus("ok", "Camera on: looking for a face…");
  clearInterval(state.timer);
  state.timer = setInterval(analyseFrame, FRAME_INTERVAL_MS);
}

function stopCamera() {
  clearInterval(state.timer);
  state.timer = null;
  if (state.stream) state.stream.getTracks().forEach((track) => track.stop());
  state.stream = null;
  $("video").srcObject = null;
  $("camera-toggle").textContent = "Start camera";
}

async function analyseFrame() {
  const video = $("video");
  if (state.inFlight || state.mode !== "camera" || video.readyState < 2 || !video.videoWidth) return;
  const scale = Math.min(1, FRAME_WIDTH / video.videoWidth);
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(video.videoWidth * scale);
  canvas.height = Math.round(video.videoHeight * scale);
  canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
  // The frame exists only in this canvas and in the request body: nothing is saved on either side.
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
  if (!blob) return;
  state.inFlight = true;
  try {
    const result = await api("/api/analyze", { method: "POST", body: blob, headers: { "Content-Type": "image/jpeg" } });
    if (state.mode === "camera") showResult(result, true);
  } catch (err) {
    setStatus("error", `Server error: ${err.message}`);
  } finally {
    state.inFlight = false;
  }
}

// ------------------------------------------------------------------------------------------ photo

async function analysePhoto(file) {
  stopCamera();
  state.mode = "photo";
  const img = $("photo");
  if (img.src) URL.revokeObjectURL(img.src);
  img.src = URL.createObjectURL(file);   // shown from memory; never uploaded anywhere but to this server
  img.hidden = false;
  $("video").hidden = true;
  clearOverlay();
  setStatus("starting", `Analysing ${file.name}…`);
  try {
    // The file itself is the body: the server decides from its content what it is, not from its name.
    const result = await api("/api/analyze", { method: "POST", body: file });
    state.smoothed = null;   // a photo is one moment: show it as it is, unsmoothed
    showResult(result, false);
  } catch (err) {
    setStatus("error", `${file.name}: ${err.message}`);
  }
}

// ------------------------------------------------------------------------------------------ results

function showResult(result, fromCamera) {
  state.frameSize = { width: result.width, height: result.height };
  if (!result.faces.length) {
    state.missed += 1;
    state.faceBox = null;
    clearOverlay();
    if (!fromCamera || state.missed >= NO_FACE_AFTER) {
      setStatus("noface", fromCamera ? "No face in view: face the camera in good light."
        : "No face found in this photo. Try another one, or choose a mood yourself.");
    }
    return;
  }
  state.missed = 0;
  const face = result.faces[0];   // the largest face
  const p = state.emotions.map((e) => face.probabilities[e]);
  state.smoothed = state.smoothed ? state.smoothed.map((old, i) => old * (1 - SMOOTHING) + p[i] * SMOOTHING) : p;
  state.faceBox = face.box;
  drawOverlay();
  renderBars();
  drawCircumplex();
  $("use-mood").disabled = false;
  const extra = result.faces.length > 1 ? ` (${result.faces.length} faces; using the largest)` : "";
  setStatus("ok", `Face found${extra}. Press "Use this mood" for a playlist.`);
}

function renderBars() {
  const bars = $("bars");
  if (!bars.children.length) {
    for (const e of state.emotions) {
      bars.insertAdjacentHTML("beforeend",
        `<span>${e}</span><div class="bar"><span id="bar-${e}"></span></div><span class="value" id="value-${e}">–</span>`);
    }
  }
  if (!state.smoothed) return;
  let top = 0;
  state.emotions.forEach((e, i) => {
    const value = state.smoothed[i];
    $(`bar-${e}`).style.width = `${(value * 100).toFixed(1)}%`;
    $(`value-${e}`).textContent = `${Math.round(value * 100)}%`;
    if (value > state.smoothed[top]) top = i;
  });
  $("top-emotion").textContent = state.emotions[top];
}

function displayedRect() {
  // Where the video or photo is drawn inside the stage (object-fit: contain leaves bars at the sides).
  const stage = $("stage").getBoundingClientRect();
  const { width, height } = state.frameSize;
  const scale = Math.min(stage.width / width, stage.height / height);
  return { x: (stage.width - width * scale) / 2, y: (stage.height - height * scale) / 2, scale, stage };
}

function clearOverlay() {
  const canvas = $("overlay");
  canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
}

function drawOverlay() {
  const canvas = $("overlay");
  const { x, y, scale, stage } = displayedRect();
  canvas.width = stage.width;
  canvas.height = stage.height;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!state.faceBox) return;
  const [bx, by, bw, bh] = state.faceBox;
  ctx.strokeStyle = "#4ade80";
  ctx.lineWidth = 3;
  ctx.strokeRect(x + bx * scale, y + by * scale, bw * scale, bh * scale);
  const label = $("top-emotion").textContent;
  ctx.font = "bold 14px system-ui, sans-serif";
  const left = x + bx * scale, baseline = Math.max(18, y + by * scale - 6);
  ctx.fillStyle = "rgba(0, 0, 0, 0.6)";
  ctx.fillRect(left - 2, baseline - 15, ctx.measureText(label).width + 6, 19);
  ctx.fillStyle = "#4ade80";
  ctx.fillText(label, left + 1, baseline);
}

// ------------------------------------------------------------------------------------------ circumplex

const SVG_NS = "http://www.w3.org/2000/svg";
const PLOT = { left: 34, top: 14, size: 272 };
const LABEL_OFFSETS = { afraid: [-5, 4, "end"], angry: [5, -6, "start"], disgusted: [5, 12, "start"] };
const sx = (v) => PLOT.left + v * PLOT.size;
const sy = (a) => PLOT.top + (1 - a) * PLOT.size;

function svg(tag, attrs, text) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

function moodPoint(p) {
  // The same weighted mean of the emotion anchors as moodtune.emotions.to_point.
  let v = 0, a = 0;
  state.emotions.forEach((e, i) => { v += p[i] * state.anchors[e].valence; a += p[i] * state.anchors[e].arousal; });
  return { valence: v, arousal: a };
}

function drawCircumplex() {
  const root = $("circumplex");
  root.replaceChildren();
  const { left, top, size } = PLOT;
  root.append(svg("rect", { x: left, y: top, width: size, height: size, fill: "none", class: "axis" }));
  root.append(svg("line", { x1: sx(0.5), y1: top, x2: sx(0.5), y2: top + size, class: "axis" }));
  root.append(svg("line", { x1: left, y1: sy(0.5), x2: left + size, y2: sy(0.5), class: "axis" }));
  root.append(svg("text", { x: left, y: top + size + 14 }, "unpleasant"));
  root.append(svg("text", { x: left + size / 2, y: top + size + 14, "text-anchor": "middle" }, "valence"));
  root.append(svg("text", { x: left + size, y: top + size + 14, "text-anchor": "end" }, "pleasant"));
  const mid = top + size / 2;
  root.append(svg("text", { x: 14, y: mid, "text-anchor": "middle", transform: `rotate(-90 14 ${mid})` },
    "calm  ·  arousal  ·  excited"));
  for (const e of state.emotions) {
    const { valence, arousal } = state.anchors[e];
    root.append(svg("circle", { cx: sx(valence), cy: sy(arousal), r: 3, class: "anchor" }));
    // Angry, afraid and disgusted almost coincide in valence/arousal: spread their labels apart.
    const [dx, dy, anchor] = LABEL_OFFSETS[e] || [5, -4, "start"];
    root.append(svg("text", { x: sx(valence) + dx, y: sy(arousal) + dy, "text-anchor": anchor }, e));
  }
  if (state.playlist) {
    const points = state.playlist.path.map((p) => `${sx(p.valence)},${sy(p.arousal)}`).join(" ");
    root.append(svg("polyline", { points, class: "path" }));
    for (const pick of state.playlist.picks) {
      const dot = svg("circle", { cx: sx(pick.song.valence), cy: sy(pick.song.arousal), r: 2.5, class: "song" });
      dot.append(svg("title", {}, `${pick.song.title} — ${pick.song.artist}`));
      root.append(dot);
    }
  }
  if (state.smoothed) {
    const { valence, arousal } = moodPoint(state.smoothed);
    const dot = svg("circle", { cx: sx(valence), cy: sy(arousal), r: 6, class: "current", id: "current-point" });
    dot.append(svg("title", {}, `now: valence ${valence.toFixed(2)}, arousal ${arousal.toFixed(2)}`));
    root.append(dot);
  }
}

// ------------------------------------------------------------------------------------------ playlist

async function requestPlaylist() {
  if (!state.mood) return;
  const body = { ...state.mood, strategy: $("strategy").value, n: Number($("length").value) || 10 };
  $("playlist-summary").textContent = "Choosing songs…";
  try {
    state.playlist = await api("/api/playlist", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
  } catch (err) {
    $("playlist-summary").textContent = `Server error: ${err.message}`;
    return;
  }
  renderPlaylist();
  drawCircumplex();
}

function renderPlaylist() {
  const list = $("playlist");
  const pl = state.playlist;
  list.replaceChildren();
  const t = pl.target;
  $("playlist-summary").textContent = `${pl.picks.length} songs for ${pl.emotion} `
    + `(valence ${t.valence.toFixed(2)}, arousal ${t.arousal.toFixed(2)}), strategy ${pl.strategy}.`
    + (pl.notes.length ? ` ${pl.notes.join(" ")}` : "");
  for (const pick of pl.picks) {
    const song = pick.song;
    const li = document.createElement("li");
    li.dataset.songId = song.song_id;
    const title = document.createElement("div");
    title.innerHTML = `<span class="title"></span> — <span class="artist"></span>`;
    title.querySelector(".title").textContent = song.title;     // textContent: song names are data, not HTML
    title.querySelector(".artist").textContent = song.artist;
    const reason = document.createElement("div");
    reason.className = "reason";
    reason.textContent = pick.reason;
    li.append(title, reason);
    if (song.path) {
      const audio = document.createElement("audio");
      audio.controls = true;
      audio.preload = "none";
      audio.src = `/api/songs/${encodeURIComponent(song.song_id)}/audio`;
      audio.addEventListener("ended", () => sendFeedback(song.song_id, "played"));
      li.append(audio);
    }
    const actions = document.createElement("div");
    actions.className = "actions";
    for (const [kind, label, done] of [["like", "Like", "Liked ✓"], ["skip", "Skip", "Skipped"]]) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = kind;
      button.textContent = label;
      button.addEventListener("click", async () => {
        button.disabled = true;
        if (await sendFeedback(song.song_id, kind)) {
          button.textContent = done;
          button.classList.add("done");
        } else {
          button.disabled = false;
        }
      });
      actions.append(button);
    }
    li.append(actions);
    list.append(li);
  }
}

async function sendFeedback(songId, kind) {
  try {
    await api("/api/feedback", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ song_id: songId, kind, session: state.playlist ? state.playlist.session : null }),
    });
    return true;
  } catch (err) {
    $("playlist-summary").textContent = `Feedback not saved: ${err.message}`;
    return false;
  }
}

// ------------------------------------------------------------------------------------------ start

async function init() {
  try {
    const info = await api("/api/emotions");
    state.emotions = info.emotions;
    state.anchors = info.anchors;
  } catch (err) {
    setStatus("error", `Server error: ${err.message}`);
    return;
  }
  const override = $("override");
  for (const e of state.emotions) override.append(new Option(e, e));
  renderBars();
  drawCircumplex();

  $("use-mood").addEventListener("click", () => {
    if (!state.smoothed) return;
    override.value = "";
    const probabilities = Object.fromEntries(state.emotions.map((e, i) => [e, state.smoothed[i]]));
    state.mood = { probabilities };
    requestPlaylist();
  });
  override.addEventListener("change", () => {
    if (!override.value) return;
    state.mood = { emotion: override.value };
    requestPlaylist();
  });
  $("strategy").addEventListener("change", requestPlaylist);
  $("upload").addEventListener("change", (event) => {
    const file = event.target.files[0];
    if (file) analysePhoto(file);
    event.target.value = "";
  });
  $("camera-toggle").addEventListener("click", () => {
    if (!state.stream) return startCamera();
    stopCamera();
    setStatus("off", "Camera off. Start it again, analyse a photo, or choose a mood yourself.");
  });
  window.addEventListener("resize", () => state.faceBox && drawOverlay());
  startCamera();
}

init();
