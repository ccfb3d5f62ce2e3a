#!/usr/bin/env node
// Plays a cmafeng output directory in real players in headless Debian Chromium:
// Shaka Player (HLS and DASH), hls.js (HLS) and dash.js (DASH).
//
//   node run_players.mjs --media OUT_DIR --sizes 640x360,320x180 [--timeout 30] [--only shaka-hls,...]
//                        [--cue TEXT] [--ondemand]
//
// OUT_DIR is served at /media/ and the players' dist builds at /players/, by a static HTTP
// server on 127.0.0.1 (random free port). For each player + format, player.html loads the
// stream into a muted <video> and the runner polls it until currentTime passes 3 s (or the
// stream ends), then checks that no player error event fired, that the picture size is a
// ladder size, that the player parsed every rendition, and that no media request failed.
// With --cue, Shaka Player turns its first text track on and must show a cue containing
// TEXT (a cue of the subtitle rendition, read from video.textTracks) by then. With
// --ondemand, Shaka Player and dash.js also play OUT/ondemand/manifest.mpd (the DASH
// on-demand profile: one sidx-indexed file per rendition, fetched by byte ranges).
// Prints one "ok - " / "not ok - " line per check and a "# N passed, N failed" summary;
// exits 1 when any check failed. Nothing is skipped: a missing browser, a browser that cannot
// play AV1 in MSE, or a player that cannot start is a failure with its reason.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CHROMIUM = process.env.CME_CHROMIUM || '/usr/bin/chromium';
const PLAY_TARGET_S = 3;

function usage(msg) {
  console.error(`${msg}\nusage: node run_players.mjs --media OUT_DIR --sizes WxH,WxH [--timeout S] [--only NAME,...]`);
  process.exit(2);
}

const opts = { timeout: Number(process.env.CME_PLAYER_TIMEOUT_S || 30) };
for (let i = 2; i < process.argv.length; i += 2) {
  const [k, v] = [process.argv[i], process.argv[i + 1]];
  if (v === undefined) usage(`missing value for ${k}`);
  if (k === '--media') opts.media = path.resolve(v);
  else if (k === '--sizes') opts.sizes = v.split(',').filter(Boolean);
  else if (k === '--timeout') opts.timeout = Number(v);
  else if (k === '--only') opts.only = v.split(',');
  else if (k === '--cue') opts.cue = v;
  else if (k === '--ondemand') { opts.ondemand = true; i--; }
  else usage(`unknown option ${k}`);
}
if (!opts.media || !opts.sizes) usage('--media and --sizes are required');
for (const f of ['master.m3u8', 'manifest.mpd']) {
  if (!fs.existsSync(path.join(opts.media, f))) usage(`${opts.media}/${f} does not exist`);
}

let passed = 0;
let failed = 0;
function report(good, desc, reasons = []) {
  if (good) passed++; else failed++;
  console.log(`${good ? 'ok' : 'not ok'} - ${desc}`);
  const counts = new Map();
  for (const r of reasons) counts.set(r, (counts.get(r) || 0) + 1);
  for (const [r, n] of counts) console.log(`  # ${r}${n > 1 ? ` (x${n})` : ''}`);
}

// ---- static server -------------------------------------------------------------------------

const MIME = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.mpd': 'application/dash+xml',
  '.mp4': 'video/mp4',
  '.m4s': 'video/mp4',
  '.m4a': 'audio/mp4',
  '.vtt': 'text/vtt',
  '.json': 'application/json',
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
};

// The players' dist builds, by the name the page asks for.
const nm = path.join(HERE, 'node_modules');
const PLAYER_FILES = {
  'shaka-player.compiled.js': path.join(nm, 'shaka-player/dist/shaka-player.compiled.js'),
  'hls.min.js': path.join(nm, 'hls.js/dist/hls.min.js'),
  'dash.all.min.js': path.join(nm, 'dashjs/dist/modern/umd/dash.all.min.js'),
};
for (const file of Object.values(PLAYER_FILES)) {
  if (!fs.existsSync(file)) {
    console.error(`FATAL: ${file} is missing (run npm ci in ${HERE})`);
    process.exit(1);
  }
}

const requests = []; // { url, status } of every request, for the current run's report

function resolveFile(urlPath) {
  if (urlPath === '/player.html') return path.join(HERE, 'player.html');
  if (urlPath.startsWith('/players/')) {
    const name = urlPath.slice('/players/'.length);
    if (PLAYER_FILES[name]) return PLAYER_FILES[name];
    if (name.endsWith('.map') && PLAYER_FILES[name.slice(0, -4)]) return PLAYER_FILES[name.slice(0, -4)] + '.map';
    return null;
  }
  if (urlPath.startsWith('/media/')) {
    const rel = path.normalize(urlPath.slice('/media/'.length));
    if (rel.startsWith('..') || path.isAbsolute(rel)) return null;
    return path.join(opts.media, rel);
  }
  return null;
}

const server = http.createServer((req, res) => {
  let urlPath;
  try {
    urlPath = decodeURIComponent(new URL(req.url, 'http://127.0.0.1').pathname);
  } catch {
    urlPath = '';
  }
  if (urlPath === '/favicon.ico') { res.writeHead(204); res.end(); return; }
  const file = resolveFile(urlPath);
  let st = null;
  try { st = file && fs.statSync(file); } catch { st = null; }
  if (!st || !st.isFile()) {
    requests.push({ url: urlPath, status: 404 });
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found\n');
    return;
  }
  const type = MIME[path.extname(file)] || 'application/octet-stream';
  const headers = { 'Content-Type': type, 'Cache-Control': 'no-store', 'Accept-Ranges': 'bytes' };
  let start = 0;
  let end = st.size - 1;
  let status = 200;
  const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range || '');
  if (range && (range[1] || range[2])) {
    if (range[1]) { start = Number(range[1]); if (range[2]) end = Math.min(Number(range[2]), end); }
    else { start = Math.max(0, st.size - Number(range[2])); }
    if (start > end) {
      requests.push({ url: urlPath, status: 416 });
      res.writeHead(416, { 'Content-Range': `bytes */${st.size}` });
      res.end();
      return;
    }
    status = 206;
    headers['Content-Range'] = `bytes ${start}-${end}/${st.size}`;
  }
  headers['Content-Length'] = end - start + 1;
  requests.push({ url: urlPath, status });
  res.writeHead(status, headers);
  if (req.method === 'HEAD') { res.end(); return; }
  fs.createReadStream(file, { start, end }).pipe(res);
});

// ---- the codecs the stream declares ---------------------------------------------------------

function streamCodecs() {
  const master = fs.readFileSync(path.join(opts.media, 'master.m3u8'), 'utf8');
  const mpd = fs.readFileSync(path.join(opts.media, 'manifest.mpd'), 'utf8');
  const set = new Set();
  for (const m of master.matchAll(/CODECS="([^"]+)"/g)) m[1].split(',').forEach((c) => set.add(c.trim()));
  for (const m of mpd.matchAll(/codecs="([^"]+)"/g)) m[1].split(',').forEach((c) => set.add(c.trim()));
  const audio = /TYPE=AUDIO/.test(master) || /contentType="audio"|mimeType="audio\//.test(mpd);
  return { codecs: [...set], audio };
}
function mseType(codec) {
  return /^(av01|avc|hvc|hev|vp09|dvh)/.test(codec) ? `video/mp4; codecs="${codec}"` : `audio/mp4; codecs="${codec}"`;
}

// ---- one player on one stream ---------------------------------------------------------------

async function playOne(context, base, player, format) {
  const src = format === 'HLS' ? '/media/master.m3u8'
    : format === 'DASH on demand' ? '/media/ondemand/manifest.mpd' : '/media/manifest.mpd';
  const name = `${player.label} ${format}`;
  const reasons = [];
  const consoleErrors = [];
  requests.length = 0;
  const page = await context.newPage();
  page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
  // "Failed to load resource" repeats a failed request, which is reported with its URL below.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) consoleErrors.push(`console.error: ${m.text()}`);
  });
  const t0 = Date.now();
  let st = null;
  try {
    await page.goto(`${base}/player.html?player=${player.id}&src=${encodeURIComponent(src)}`);
    const deadline = t0 + opts.timeout * 1000;
    for (;;) {
      st = await page.evaluate(() => {
        const v = document.getElementById('v');
        const buf = [];
        for (let i = 0; i < v.buffered.length; i++) buf.push(`${v.buffered.start(i).toFixed(2)}-${v.buffered.end(i).toFixed(2)}`);
        return { ...window.cme, t: v.currentTime, duration: v.duration, readyState: v.readyState,
          networkState: v.networkState, paused: v.paused, w: v.videoWidth, h: v.videoHeight,
          buffered: buf.join(' '), dropped: v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality().droppedVideoFrames : -1,
          decoded: v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality().totalVideoFrames : -1,
          cues: Array.from(v.textTracks).flatMap((t) => (t.cues ? Array.from(t.cues).map((c) => c.text) : [])) };
      });
      if (st.errors.length) { await page.waitForTimeout(300); st.errors = await page.evaluate(() => window.cme.errors); break; }
      if (st.t >= PLAY_TARGET_S || st.ended) break;
      if (Date.now() > deadline) {
        reasons.push(`timed out after ${opts.timeout} s: currentTime ${st.t.toFixed(2)} s, readyState ${st.readyState}, ` +
          `networkState ${st.networkState}, paused ${st.paused}, buffered [${st.buffered}], duration ${st.duration}`);
        break;
      }
      await page.waitForTimeout(200);
    }
  } catch (e) {
    reasons.push(`runner: ${e.message.split('\n')[0]}`);
  }
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  await page.close().catch(() => {});

  if (st) {
    for (const e of st.errors) reasons.push(`player error: ${e}`);
    const size = `${st.w}x${st.h}`;
    if (!opts.sizes.includes(size)) reasons.push(`videoWidth x videoHeight ${size} is not a ladder size (${opts.sizes.join(', ')})`);
    const seen = st.sizes.filter((s) => !opts.sizes.includes(s));
    if (seen.length) reasons.push(`the element reported sizes outside the ladder: ${seen.join(', ')}`);
    const missing = opts.sizes.filter((s) => !st.variants.includes(s));
    if (missing.length) reasons.push(`the player's variant list [${st.variants.join(', ')}] lacks ${missing.join(', ')}`);
    if (opts.cue && player.id === 'shaka' && !st.cues.some((c) => c.includes(opts.cue))) {
      reasons.push(`no cue containing "${opts.cue}" shown (text tracks [${(st.text || []).join(', ')}], ` +
        `cues [${st.cues.join(' | ')}])`);
    }
  } else {
    reasons.push('no state read from the page');
  }
  const bad = requests.filter((r) => r.status >= 400);
  for (const r of bad) reasons.push(`HTTP ${r.status} for ${r.url}`);
  for (const c of consoleErrors) reasons.push(c);

  const mediaReqs = requests.filter((r) => r.url.startsWith('/media/')).length;
  const summary = st
    ? `${st.ended ? 'played to the end' : 'played'} to ${st.t.toFixed(2)} s in ${secs} s, ${st.w}x${st.h}` +
      ` (sizes seen: ${st.sizes.join(', ') || 'none'}), variants [${st.variants.join(', ')}]` +
      `${st.audio.length ? `, audio [${st.audio.join(', ')}]` : ''}` +
      `${opts.cue && player.id === 'shaka' ? `, text [${(st.text || []).join(', ')}], ${st.cues.length} cues shown` : ''}` +
      `, ${st.decoded} frames decoded, ${mediaReqs} media requests`
    : `in ${secs} s`;
  report(reasons.length === 0, `${name}: ${summary}`, reasons);
  if (st) for (const n of st.notes) console.log(`  # note: ${n}`);
}

// ---- main -----------------------------------------------------------------------------------

let playwright;
try {
  playwright = await import('playwright-core');
} catch (e) {
  console.error(`FATAL: playwright-core is not installed (run npm ci in ${HERE}): ${e.message}`);
  process.exit(1);
}
if (!fs.existsSync(CHROMIUM)) {
  console.error(`FATAL: ${CHROMIUM} is missing: install Debian's chromium package (make deps)`);
  process.exit(1);
}
let chromiumVersion = '';
try { chromiumVersion = execFileSync(CHROMIUM, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { /* reported below */ }

await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${server.address().port}`;
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmafeng-chromium-'));
let context;
let exitCode = 1;
try {
  context = await playwright.chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required'],
  });
  console.log(`# ${chromiumVersion || CHROMIUM}, serving ${opts.media} at ${base}/media/`);

  // AV1 in MSE: the generic Main-profile string and every codec the stream itself declares.
  const { codecs, audio } = streamCodecs();
  const page = await context.newPage();
  await page.goto(`${base}/player.html?player=none`);
  const probe = await page.evaluate((types) => ({
    mse: typeof MediaSource !== 'undefined',
    ua: navigator.userAgent,
    support: Object.fromEntries(types.map((t) => [t, typeof MediaSource !== 'undefined' && MediaSource.isTypeSupported(t)])),
  }), ['video/mp4; codecs="av01.0.04M.08"', ...codecs.map(mseType)]);
  await page.close();
  const generic = probe.support['video/mp4; codecs="av01.0.04M.08"'];
  report(generic, `Chromium plays AV1 in MSE: MediaSource.isTypeSupported('video/mp4; codecs="av01.0.04M.08"') = ${generic}`,
    generic ? [] : [`this Chromium (${probe.ua}) cannot play AV1 through Media Source Extensions, so no player can play cmafeng's output in it`]);
  const unsupported = codecs.filter((c) => !probe.support[mseType(c)]);
  report(codecs.length > 0 && unsupported.length === 0,
    `MSE supports every codec the manifests declare: ${codecs.map((c) => `${c}=${probe.support[mseType(c)]}`).join(', ')}` +
    `${audio ? ' (the stream has an audio rendition)' : ' (video only)'}`,
    unsupported.length ? [`not supported: ${unsupported.map(mseType).join('; ')}`] : codecs.length ? [] : ['no codecs found in the manifests']);

  const players = [
    { id: 'shaka', label: 'Shaka Player', formats: ['HLS', 'DASH'] },
    { id: 'hlsjs', label: 'hls.js', formats: ['HLS'] },
    { id: 'dashjs', label: 'dash.js', formats: ['DASH'] },
  ];
  // --ondemand: OUT/ondemand/manifest.mpd (isoff-on-demand, SegmentBase + sidx) as well.
  if (opts.ondemand) {
    players[0].formats.push('DASH on demand');
    players[2].formats.push('DASH on demand');
  }
  for (const p of players) {
    for (const f of p.formats) {
      if (opts.only && !opts.only.includes(`${p.id}-${f.toLowerCase()}`)) continue;
      await playOne(context, base, p, f);
    }
  }
  exitCode = failed === 0 ? 0 : 1;
} catch (e) {
  report(false, `headless Chromium runs the players`, [String(e.stack || e).split('\n').slice(0, 6).join(' | ')]);
} finally {
  if (context) await context.close().catch(() => {});
  server.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
console.log(`# ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? exitCode : 1);
