// Interop check: every init segment and every media segment (read with its init segment, as
// a player does) of a cmafeng output directory, and every single-file MP4 in it (and in its
// ondemand/ directory), is read by
// three independent ISO BMFF readers:
// `cmafeng inspect` (engine/mux/mp4_reader.c), mp4box.js (GPAC's JavaScript port, the reader
// web players use) and MediaInfo. They must agree on the codecs string, the picture size or
// the channel count and sample rate, the sample count, the duration and the bytes of sample
// data; any disagreement is a "not ok" line with every reading shown.
//
//   node interop.mjs --cmafeng build/cmafeng --media OUT_DIR [--work DIR]
//
// Prints TAP-style lines ("ok - ...", "not ok - ..."); exits 1 when any check failed.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, existsSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFile } from 'mp4box';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => {
    if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
    return acc;
  }, []));
if (!args.cmafeng || !args.media) {
  console.error('usage: node interop.mjs --cmafeng BIN --media DIR [--work DIR]');
  process.exit(2);
}
const work = args.work || mkdtempSync(join(tmpdir(), 'cmafeng-interop-'));
let failed = 0, passed = 0;
const ok = (m) => { passed++; console.log(`ok - ${m}`); };
const notOk = (m) => { failed++; console.log(`not ok - ${m}`); };

// ---- the three readings, each normalised to { codec, width, height, channels,
// sample_rate, samples, duration (s), bytes } -------------------------------------------

function ours(file) {
  const j = JSON.parse(execFileSync(args.cmafeng, ['inspect', '--json', file], { encoding: 'utf8' }));
  let bytes = 0, ticks = 0;
  for (const s of j.samples) { bytes += s.size; ticks += s.duration || 0; }
  return {
    codec: j.codec_string, width: j.width, height: j.height, channels: j.channels,
    sample_rate: j.sample_rate, samples: j.samples.length,
    duration: j.timescale ? ticks / j.timescale : undefined, bytes,
  };
}

function mp4box(file) {
  const data = readFileSync(file);
  const ab = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  ab.fileStart = 0;
  const f = createFile();
  let info = null, error = null;
  f.onReady = (i) => { info = i; };
  f.onError = (e) => { error = e; };
  f.appendBuffer(ab);
  f.flush();
  if (error || !info || !info.tracks.length) throw new Error(`mp4box.js: ${error || 'no track'}`);
  const t = info.tracks[0];
  const samples = f.getTrackById(t.id).samples || [];
  let bytes = 0, ticks = 0;
  for (const s of samples) { bytes += s.size; ticks += s.duration; }
  return {
    // mp4box.js reports an Opus track by its sample entry type; RFC 6381 says "opus".
    codec: t.codec === 'Opus' ? 'opus' : t.codec,
    width: t.video ? t.video.width : undefined, height: t.video ? t.video.height : undefined,
    channels: t.audio ? t.audio.channel_count : undefined,
    sample_rate: t.audio ? t.audio.sample_rate : undefined,
    samples: samples.length, duration: ticks / t.timescale, bytes,
  };
}

// AV1 level "X.Y" to seq_level_idx (AV1 spec annex A.3): (X - 2) * 4 + Y.
const levelIdx = (l) => { const [x, y] = l.split('.').map(Number); return (x - 2) * 4 + y; };
const PROFILES = { Main: 0, High: 1, Professional: 2 };
// MediaInfo's names of the ISO/IEC 23091-2 code points AV1 uses.
const PRIMARIES = { 'BT.709': 1, 'BT.470 System M': 4, 'BT.601 PAL': 5, 'BT.601 NTSC': 6,
  'SMPTE 240M': 7, 'Generic film': 8, 'BT.2020': 9, 'XYZ': 10, 'DCI P3': 11, 'Display P3': 12,
  'EBU Tech 3213': 22 };
const TRANSFER = { 'BT.709': 1, 'BT.470 System M': 4, 'BT.470 System B/G': 5, 'BT.601': 6,
  'SMPTE 240M': 7, 'Linear': 8, 'sRGB/sYCC': 13, 'BT.2020 (10-bit)': 14, 'BT.2020 (12-bit)': 15,
  'PQ': 16, 'SMPTE 428M': 17, 'HLG': 18 };
const MATRIX = { 'Identity': 0, 'BT.709': 1, 'FCC 73.682': 4, 'BT.470 System B/G': 5,
  'BT.601': 6, 'SMPTE 240M': 7, 'YCgCo': 8, 'BT.2020 non-constant': 9, 'BT.2020 constant': 10,
  'Chromaticity-derived non-constant': 12, 'Chromaticity-derived constant': 13, 'ICtCp': 14 };

function mediainfo(file) {
  const j = JSON.parse(execFileSync('mediainfo', ['--Output=JSON', file], { encoding: 'utf8' }));
  const t = j.media.track.find((x) => x['@type'] === 'Video' || x['@type'] === 'Audio');
  if (!t) throw new Error('MediaInfo: no audio or video track');
  let codec;
  if (t.Format === 'AV1') {
    // The codecs string from what MediaInfo reads out of av1C / the sequence header.
    const tier = t.Format_Tier === 'High' ? 'H' : 'M';
    codec = `av01.${PROFILES[t.Format_Profile]}.${String(levelIdx(t.Format_Level)).padStart(2, '0')}` +
      `${tier}.${String(t.BitDepth).padStart(2, '0')}`;
    // The optional fields (AV1-ISOBMFF annex A) from MediaInfo's colour description:
    // monochrome, subsampling + chroma sample position (MediaInfo does not report the
    // position: 0, unknown, as cmafeng's encoders signal), primaries, transfer, matrix, range.
    const code = (table, name) => (name in table ? String(table[name]).padStart(2, '0') : '??');
    if (t.colour_primaries || t.transfer_characteristics || t.matrix_coefficients) {
      const sub = { '4:2:0': '110', '4:2:2': '100', '4:4:4': '000' }[t.ChromaSubsampling] || '???';
      codec += `.${t.ColorSpace === 'Y' ? 1 : 0}.${sub}.${code(PRIMARIES, t.colour_primaries)}` +
        `.${code(TRANSFER, t.transfer_characteristics)}.${code(MATRIX, t.matrix_coefficients)}` +
        `.${t.colour_range === 'Full' ? 1 : 0}`;
    }
  } else if (t.Format === 'Opus') {
    codec = 'opus';
  } else {
    codec = (t.CodecID || '').replace(/-/g, '.');
  }
  const num = (v) => (v === undefined ? undefined : Number(v));
  return {
    codec, width: num(t.Width), height: num(t.Height), channels: num(t.Channels),
    sample_rate: num(t.SamplingRate), samples: num(t.FrameCount) || 0,
    duration: num(t.Duration), bytes: num(t.StreamSize) || 0,
  };
}

// ---- comparing -------------------------------------------------------------------------

const FIELDS = ['codec', 'width', 'height', 'channels', 'sample_rate', 'samples', 'duration', 'bytes'];

// What a reader is known not to report, so its absence is no disagreement: MediaInfo 23.04
// reads no channel count from an Opus sample entry (dOps), not even in FFmpeg's own files.
const KNOWN_GAPS = [{ reader: 'MediaInfo', codec: 'opus', field: 'channels' }];
const gap = (reader, codec, k) =>
  KNOWN_GAPS.some((g) => g.reader === reader && g.codec === codec && g.field === k);

// Durations agree within 1 ms (MediaInfo prints milliseconds); everything else exactly.
// An init segment has no samples: its duration and size are not compared.
function disagree(a, b, isInit, reader) {
  const out = [];
  for (const k of FIELDS) {
    if (a[k] === undefined && b[k] === undefined) continue;
    if (isInit && (k === 'duration' || k === 'bytes')) continue;
    if (b[k] === undefined && gap(reader, a.codec, k)) continue;
    // AV1-ISOBMFF annex A: the optional fields may be left out when they are the defaults
    // (4:2:0, unknown position, BT.709, limited range); compare both in the short form then.
    if (k === 'codec' && /^av01\./.test(a.codec || '') && reader === 'MediaInfo') {
      const norm = (c) => (c || '').replace(/\.0\.110\.01\.01\.01\.0$/, '');
      if (norm(a.codec) !== norm(b.codec)) out.push(k);
      continue;
    }
    // mp4box.js writes the short AV1 codecs string only (profile, level, tier, depth):
    // it is compared with the same leading fields of cmafeng's full form.
    if (k === 'codec' && reader === 'mp4box.js' && /^av01\./.test(a.codec || '')) {
      if (a.codec.split('.').slice(0, 4).join('.') !== b.codec) out.push(k);
      continue;
    }
    if (k === 'duration') {
      if (a[k] === undefined || b[k] === undefined || Math.abs(a[k] - b[k]) > 0.001 + 1e-9) out.push(k);
    } else if (a[k] !== b[k]) {
      out.push(k);
    }
  }
  return out;
}

const dirs = readdirSync(args.media, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(args.media, d.name, 'init.mp4')))
  .map((d) => d.name).sort();
if (!dirs.length) notOk(`${args.media} holds renditions (a directory with init.mp4)`);
// Single-file MP4s (output_mode = "both") are read whole: their first (video) track.
const singles = readdirSync(args.media).filter((n) => /\.mp4$/.test(n)).sort()
  .map((n) => ({ name: n, path: join(args.media, n), isInit: false }));
// DASH on-demand files (dash_ondemand = true): init + sidx + fragments, read whole.
const odDir = join(args.media, 'ondemand');
if (existsSync(odDir)) {
  for (const n of readdirSync(odDir).filter((x) => /\.mp4$/.test(x)).sort()) {
    singles.push({ name: `ondemand/${n}`, path: join(odDir, n), isInit: false });
  }
}
const groups = dirs.map((dir) => ({ dir }));
if (singles.length) groups.push({ files: singles });
for (const g of groups) {
  const dir = g.dir;
  const init = dir && join(args.media, dir, 'init.mp4');
  const segs = dir ? readdirSync(join(args.media, dir)).filter((n) => /^seg_\d+\.m4s$/.test(n)).sort() : [];
  const files = g.files || [{ name: `${dir}/init.mp4`, path: init, isInit: true }];
  for (const s of segs) {
    const path = join(work, `${dir}_${s}.mp4`);
    writeFileSync(path, Buffer.concat([readFileSync(init), readFileSync(join(args.media, dir, s))]));
    files.push({ name: `${dir}/${s}`, path, isInit: false });
  }
  for (const f of files) {
    let r;
    try {
      r = { cmafeng: ours(f.path), 'mp4box.js': mp4box(f.path), MediaInfo: mediainfo(f.path) };
    } catch (e) {
      notOk(`${f.name}: every reader reads it (${e.message})`);
      continue;
    }
    const bad = new Set([...disagree(r.cmafeng, r['mp4box.js'], f.isInit, 'mp4box.js'),
      ...disagree(r.cmafeng, r.MediaInfo, f.isInit, 'MediaInfo')]);
    const what = r.cmafeng.channels ? `${r.cmafeng.codec} ${r.cmafeng.channels} ch ${r.cmafeng.sample_rate} Hz`
      : `${r.cmafeng.codec} ${r.cmafeng.width}x${r.cmafeng.height}`;
    if (bad.size === 0) {
      ok(`${f.name}: cmafeng, mp4box.js and MediaInfo agree (${what}, ${r.cmafeng.samples} samples` +
        (f.isInit ? ')' : `, ${r.cmafeng.duration.toFixed(3)} s, ${r.cmafeng.bytes} bytes)`));
    } else {
      notOk(`${f.name}: readers disagree on ${[...bad].join(', ')}:\n` +
        Object.entries(r).map(([k, v]) => `  # ${k}: ${JSON.stringify(v)}`).join('\n'));
    }
  }
}
if (!args.work) rmSync(work, { recursive: true, force: true });
console.log(`# ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
