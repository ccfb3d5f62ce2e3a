// mp4box.js (GPAC's JavaScript port) reads a DASH on-demand file and prints what its sidx
// says, so that a test can hold cmafeng's indexing against an independent reader:
//
//   node sidx_check.mjs FILE...
//
// One JSON line per file: { file, size, sidx: { start, size, timescale, ept, references,
// sizes_sum, durations_sum, all_sap1 }, track: { timescale, samples, ticks }, moofs }.
// Exits 1 when a file has no sidx or mp4box.js reports an error.
import { readFileSync } from 'node:fs';
import { createFile } from 'mp4box';

let bad = 0;
for (const file of process.argv.slice(2)) {
  const data = readFileSync(file);
  const ab = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  ab.fileStart = 0;
  const f = createFile();
  let info = null, error = null;
  f.onReady = (i) => { info = i; };
  f.onError = (e) => { error = e; };
  f.appendBuffer(ab);
  f.flush();
  const sidx = f.sidx || (f.boxes || []).find((b) => b.type === 'sidx');
  if (error || !info || !sidx) {
    console.log(JSON.stringify({ file, error: String(error || (!info ? 'not ready' : 'no sidx')) }));
    bad++;
    continue;
  }
  const t = info.tracks[0];
  const samples = f.getTrackById(t.id).samples || [];
  let ticks = 0;
  for (const s of samples) ticks += s.duration;
  const refs = sidx.references;
  console.log(JSON.stringify({
    file, size: data.length,
    sidx: { start: sidx.start, size: sidx.size, timescale: sidx.timescale,
      ept: Number(sidx.earliest_presentation_time), references: refs.length,
      sizes_sum: refs.reduce((a, r) => a + r.referenced_size, 0),
      durations_sum: refs.reduce((a, r) => a + r.subsegment_duration, 0),
      all_sap1: refs.every((r) => r.reference_type === 0 && r.starts_with_SAP === 1 && r.SAP_type === 1) },
    track: { timescale: t.timescale, samples: samples.length, ticks },
    moofs: (f.moofs || []).length,
  }));
}
process.exit(bad ? 1 : 0);
