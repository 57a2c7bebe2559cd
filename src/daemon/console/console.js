// jamflowd web console: polls /api/status once a second, shows the MJPEG preview, plots the history as SVG.
// Everything is same-origin; with control.token set the token goes in the Authorization header and in the
// `jamflow_token` cookie (SameSite=Strict) so the preview <img> can load too.
"use strict";
const SVG_NS = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("jamflow_token") || "";
let signedIn = false;

function setCookie() {
  document.cookie = "jamflow_token=" + encodeURIComponent(token) + "; path=/; SameSite=Strict";
}
if (token) setCookie();

function headers(json) {
  const h = {};
  if (token) h["Authorization"] = "Bearer " + token;
  if (json) h["Content-Type"] = "application/json";
  return h;
}

async function api(path, body) {
  const init = body === undefined
    ? { headers: headers(false) }
    : { method: "POST", headers: headers(true), body: JSON.stringify(body) };
  const r = await fetch(path, init);
  if (r.status === 401) { needLogin(); throw new Error("token required"); }
  const text = await r.text();
  let data = null;
  try { data = JSON.parse(text); } catch (e) { data = { text }; }
  return { status: r.status, data };
}

function needLogin() {
  signedIn = false;
  $("login").hidden = false;
}

function startPreview() {
  $("preview").src = "/preview.mjpeg?t=" + Date.now();
}

function fmt(v, digits) {
  return v === null || v === undefined ? "–" : Number(v).toFixed(digits);
}

function plot(svg, series, colors, fixedMax) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const w = svg.clientWidth || 360, h = svg.clientHeight || 90;
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  const n = Math.max(...series.map((s) => s.length), 2);
  const max = Math.max(fixedMax || 0, ...series.flat(), 1e-9);
  series.forEach((s, k) => {
    const line = document.createElementNS(SVG_NS, "polyline");
    line.setAttribute("points", s.map((v, i) => `${(i / (n - 1)) * w},${h - 4 - (v / max) * (h - 16)}`).join(" "));
    line.setAttribute("stroke", colors[k]);
    svg.appendChild(line);
  });
  const label = document.createElementNS(SVG_NS, "text");
  label.setAttribute("x", 4);
  label.setAttribute("y", 11);
  label.textContent = `max ${max.toFixed(max < 10 ? 2 : 0)} · last ${n} s`;
  svg.appendChild(label);
}

function show(s) {
  const hl = s.health || {};
  $("health").textContent = hl.status || "?";
  $("health").className = "badge " + (hl.status === "ok" ? "ok" : "bad");
  $("uptime").textContent = hl.uptime_s !== undefined ? `up ${Math.round(hl.uptime_s)} s` : "";
  const st = s.stream || {};
  $("level").textContent = fmt(st.level_dbfs, 1);
  $("level-bar").style.width = Math.max(0, Math.min(100, (st.level_dbfs + 60) / 60 * 100)) + "%";
  $("frames-out").textContent = st.frames_out;
  $("rtsp-clients").textContent = st.rtsp_clients;
  $("restarts").textContent = st.pipeline_restarts;
  const live = s.live || {};
  $("rtf").textContent = fmt(live.rtf, 3);
  $("latency").textContent = `${fmt(live.latency_p50_ms, 0)} / ${fmt(live.latency_p95_ms, 0)} ms`;
  $("late-frames").textContent = (st.late_frames || 0) + (live.late_frames || 0);
  $("speech-frames").textContent = live.speech_frames || 0;
  $("speaking").textContent = s.speaking ? "yes" : "no";
  $("say-button").disabled = !s.text_mode;
  const hist = s.history || [];
  plot($("plot-rtf"), [hist.map((x) => x.rtf)], ["#64b5f6"], 1);
  plot($("plot-latency"), [hist.map((x) => x.latency_ms)], ["#ffb74d"]);
  plot($("plot-late"), [hist.map((x) => x.late_frames), hist.map((x) => x.late_chunks)], ["#e57373", "#ba68c8"]);
}

async function refresh() {
  try {
    const r = await api("/api/status");
    if (r.status === 200) {
      if (!signedIn) { signedIn = true; $("login").hidden = true; await loadOnce(); }
      show(r.data);
    }
  } catch (e) { /* shown by the login form or the next poll */ }
}

async function loadOnce() {
  startPreview();
  const c = await api("/api/config");
  $("config").textContent = JSON.stringify(c.data, null, 2);
  const v = await api("/voices");
  const sel = $("say-voice");
  for (const name of (v.data && v.data.voices) || []) {
    const o = document.createElement("option");
    o.value = o.textContent = name;
    sel.appendChild(o);
  }
}

$("login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  token = $("token").value.trim();
  sessionStorage.setItem("jamflow_token", token);
  setCookie();
  refresh();
});

// An uploaded reference voice travels as base64 WAV bytes (the daemon never opens a path from a request).
function readBase64(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result).split(",", 2)[1] || "");
    r.onerror = () => reject(r.error);
    r.readAsDataURL(file);
  });
}

$("say-voice").addEventListener("change", () => { $("upload").hidden = $("say-voice").value !== "@upload"; });

$("say-button").addEventListener("click", async () => {
  const body = { text: $("say-text").value };
  const voice = $("say-voice").value;
  if (voice === "@upload") {
    const file = $("say-file").files[0];
    if (!file) { $("say-result").textContent = "choose a WAV file to upload"; return; }
    body.reference_wav_base64 = await readBase64(file);
    body.reference_text = $("say-ref-text").value;
  } else if (voice) {
    body.reference_voice = voice;
  }
  const r = await api("/say", body);
  $("say-result").textContent = r.status === 202 ? `queued (#${r.data.id})` : `refused: ${r.data.error}`;
});

$("interrupt-button").addEventListener("click", async () => {
  const r = await api("/interrupt", {});
  $("say-result").textContent = r.status === 200 ? (r.data.interrupted ? "interrupted" : "nothing to stop")
    : `refused: ${r.data.error}`;
});

refresh();
setInterval(refresh, 1000);
