// Compression on worker threads: the same file whatever the thread count, zlib pages that decompress alone, worker failures that leave nothing.

import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { deflateSync, inflateSync } from 'node:zlib';
import { zlibPageCodec } from '../src/kdump/zlib-page.js';
import { dumpableRuns, pageBatches } from '../src/kdump/writer.js';
import { workerCompressor } from '../src/kdump/compress-pool.js';
import { batchPacker, inlineCompressor, type PackedBatch, type PackJob, type PageCompressor } from '../src/kdump/page-pack.js';
import { FIXTURE_NAMES, repoRoot, realFixturePath } from './helpers/fixture.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

const sha256 = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');
const FAILING_WORKER = path.join(repoRoot, 'test/helpers/failing-compress-worker.mjs');

for (const name of FIXTURE_NAMES) {
  test.serial(`${name}: -d 31 (zlib) is the same file with 0, 1, 2 and 5 compression threads`, async (t) => {
    const input = await realFixturePath(name);
    const dir = await tempDir(t, `kdump-threads-${name}`);
    const hashes: string[] = [];
    for (const threads of [1, 5, 2, 0]) {
      const out = path.join(dir, `t${threads}.kdump`);
      const r = await runCli([input, '--mode', 'full', '--format', 'kdump', '-d', '31', '--threads', String(threads), '-o', out, '--no-sync', '-q']);
      t.is(r.code, 0, r.stderr);
      hashes.push(await sha256(out));
    }
    t.is(new Set(hashes).size, 1, hashes.join(' '));
  });
}

test.serial('mce: -d 0 with zstd and with snappy is the same file with 1 and 3 threads', async (t) => {
  const input = await realFixturePath('mce');
  const dir = await tempDir(t, 'kdump-threads-codecs');
  for (const codec of ['zstd', 'snappy']) {
    const hashes: string[] = [];
    for (const threads of [1, 3]) {
      const out = path.join(dir, `${codec}-t${threads}.kdump`);
      const r = await runCli([input, '--mode', 'full', '--format', 'kdump', '--compress', codec, '--threads', String(threads), '-o', out, '--no-sync', '-q']);
      t.is(r.code, 0, r.stderr);
      hashes.push(await sha256(out));
    }
    t.is(hashes[0], hashes[1], codec);
  }
});

for (const failAs of ['exit', 'codec'] as const) {
  test.serial(`a compression worker that fails (${failAs}) gives one line, exit 4, and nothing under the target name`, async (t) => {
    const input = await realFixturePath('mce');
    const dir = await tempDir(t, `kdump-worker-${failAs}`);
    const out = path.join(dir, 'dump.kdump');
    const r = await runCli([input, '--mode', 'full', '--format', 'kdump', '-d', '31', '--threads', '2', '-o', out, '--no-sync', '-q'], {
      env: { SLIMCORE_COMPRESS_WORKER: FAILING_WORKER, SLIMCORE_FAIL_AS: failAs },
    });
    t.is(r.code, 4, r.stderr);
    const lines = r.stderr.trim().split('\n');
    t.is(lines.length, 1, r.stderr);
    t.regex(lines[0], failAs === 'exit' ? /^slim-core: compression worker [12] of 2 stopped: exit code 7$/ : /^slim-core: compressing pages with zlib in worker [12]: deflate: insufficient memory$/);
    t.deepEqual(await readdir(dir), []);
  });
}

test('--threads needs --format kdump and a whole number in 0..256', async (t) => {
  const input = await realFixturePath('mce');
  const elf = await runCli([input, '--threads', '2', '-o', '/dev/null']);
  t.is(elf.code, 2);
  t.regex(elf.stderr, /--threads needs --format kdump/);
  const bad = await runCli([input, '--format', 'kdump', '--threads', '1.5', '-o', '/dev/null']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--threads must be a whole number from 0 to 256/);
});

test('the pool refuses further batches once a worker stopped, and closes', async (t) => {
  const pool = await workerCompressor({ method: 'zlib', threads: 1, workerUrl: new URL(`file://${FAILING_WORKER}`) });
  await pool.ready;
  const job = () => ({ pages: new ArrayBuffer(4096), out: new ArrayBuffer(4096), count: 1, pageSize: 4096, findZeroPages: false });
  await t.throwsAsync(pool.pack(job()), { message: /compression worker 1 of 1 stopped: exit code 7/ });
  await t.throwsAsync(pool.pack(job()), { message: /stopped/ });
  await pool.close();
});

test('the pool packs a batch like deflateSync per page, zero pages and incompressible pages apart, and hands the buffers back', async (t) => {
  const pool = await workerCompressor({ method: 'zlib', threads: 2 });
  t.teardown(() => pool.close());
  await pool.ready;
  const ps = 4096;
  const pages = Buffer.alloc(4 * ps);
  pages.fill('slim-core ', 0, ps);
  randomBytes(ps).copy(pages, 2 * ps);
  pages.fill(7, 3 * ps);
  const source = Buffer.from(pages);
  const packed = await pool.pack({ pages: pages.buffer, out: new ArrayBuffer(4 * ps), count: 4, pageSize: ps, findZeroPages: true });
  t.is(pages.buffer.byteLength, 0, 'transferred, not copied');
  const first = deflateSync(source.subarray(0, ps), { level: 1 });
  const last = deflateSync(source.subarray(3 * ps), { level: 1 });
  t.deepEqual([...packed.sizes], [first.length, 0, ps, last.length]);
  const out = Buffer.from(packed.out, 0, packed.total);
  t.deepEqual(out.subarray(0, first.length), first);
  t.deepEqual(out.subarray(first.length, first.length + ps), source.subarray(2 * ps, 3 * ps));
  t.deepEqual(out.subarray(first.length + ps), last);
  t.deepEqual(Buffer.from(packed.pages), source);
});

test('pages of one repeated byte pack as the codec packs them alone, whichever byte, in any order and batch', async (t) => {
  const ps = 4096;
  const pack = batchPacker('zlib');
  await fc.assert(
    fc.asyncProperty(fc.array(fc.oneof(fc.constantFrom(0, 0xcc, 0xff), fc.integer({ min: 0, max: 255 }), fc.constant(-1)), { minLength: 1, maxLength: 12 }), fc.boolean(), async (fills, findZeroPages) => {
      const pages = Buffer.alloc(fills.length * ps);
      fills.forEach((fill, i) => (fill < 0 ? randomBytes(ps).copy(pages, i * ps) : pages.fill(fill, i * ps, (i + 1) * ps)));
      const source = Buffer.from(pages);
      const packed = pack({ pages: pages.buffer, out: new ArrayBuffer(pages.length), count: fills.length, pageSize: ps, findZeroPages });
      const out = Buffer.from(packed.out);
      let at = 0;
      fills.forEach((fill, i) => {
        const page = source.subarray(i * ps, (i + 1) * ps);
        const alone = deflateSync(page, { level: 1 });
        const expected = fill === 0 && findZeroPages ? Buffer.alloc(0) : alone.length < ps ? alone : page;
        t.is(packed.sizes[i], expected.length, `page ${i} (fill ${fill})`);
        t.deepEqual(out.subarray(at, at + expected.length), expected);
        at += expected.length;
      });
      t.is(packed.total, at);
    }),
    { numRuns: 40 },
  );
});

test('a pool packs on the calling thread until its workers are ready, so that the capture never waits for them to start', async (t) => {
  const pool = await workerCompressor({ method: 'zlib', threads: 1 });
  t.teardown(() => pool.close());
  const ps = 4096;
  const pages = Buffer.alloc(2 * ps, 'kdump ');
  const packed = await pool.pack({ pages: pages.buffer, out: new ArrayBuffer(2 * ps), count: 2, pageSize: ps, findZeroPages: true });
  t.is(pages.buffer.byteLength, 2 * ps, 'packed here, not transferred');
  const alone = deflateSync(pages.subarray(0, ps), { level: 1 });
  t.deepEqual([...packed.sizes], [alone.length, alone.length]);
  await pool.ready;
  const later = Buffer.alloc(ps, 'kdump ');
  await pool.pack({ pages: later.buffer, out: new ArrayBuffer(ps), count: 1, pageSize: ps, findZeroPages: true });
  t.is(later.buffer.byteLength, 0, 'once ready, sent to the worker');
});

/** A ready one-worker pool and the inline packer to compare it with. */
async function readyPool(t: ExecutionContext) {
  const pool = await workerCompressor({ method: 'zlib', threads: 1 });
  t.teardown(() => pool.close());
  await pool.ready;
  return { pool, inline: await inlineCompressor('zlib') };
}

/** Each batch as the inline packer packs a fresh copy of its job. */
async function sameAsInline(t: ExecutionContext, inline: PageCompressor, results: PackedBatch[], job: (i: number) => PackJob): Promise<void> {
  for (const [i, packed] of results.entries()) {
    const expected = await inline.pack(job(i));
    t.deepEqual([...packed.sizes], [...expected.sizes], `batch ${i}`);
    t.deepEqual(Buffer.from(packed.out, 0, packed.total), Buffer.from(expected.out, 0, expected.total), `batch ${i}`);
  }
}

test('a pool whose workers are all busy packs on the calling thread, with the bytes the inline packer makes', async (t) => {
  const { pool, inline } = await readyPool(t);
  const ps = 4096;
  const job = (seed: number) => {
    const pages = Buffer.alloc(8 * ps);
    for (let i = 0; i < pages.length; i += 64) pages.writeUInt32LE((seed * 7919 + i) >>> 0, i);
    return { pages: pages.buffer, out: new ArrayBuffer(8 * ps), count: 8, pageSize: ps, findZeroPages: true };
  };
  // One worker holds two batches; the rest are packed here, before pack() returns: their pages stay with this thread.
  const jobs = Array.from({ length: 6 }, (_, i) => job(i));
  const results = await Promise.all(jobs.map((j) => pool.pack(j)));
  t.deepEqual(jobs.map((j) => j.pages.byteLength === 0), [true, true, false, false, false, false]);
  await sameAsInline(t, inline, results, job);
});

test('a batch of shared buffers that no worker has started is packed by the calling thread when it asks, once, with the same bytes', async (t) => {
  const { pool, inline } = await readyPool(t);
  const ps = 4096;
  const count = 32;
  const job = (seed: number) => {
    const pages = Buffer.from(new SharedArrayBuffer(count * ps));
    for (let i = 0; i < pages.length; i += 16) pages.writeUInt32LE((seed * 2654435761 + i * 40503) >>> 0, i);
    return { pages: pages.buffer, out: new SharedArrayBuffer(count * ps), count, pageSize: ps, findZeroPages: true };
  };
  const jobs = [job(1), job(2)];
  // Both go to the worker, which packs one at a time: the second (at least) is not started yet.
  const packing = jobs.map((j) => pool.pack(j));
  t.true(pool.packWaiting!());
  const results = await Promise.all(packing);
  t.false(pool.packWaiting!(), 'nothing left to take');
  await sameAsInline(t, inline, results, (i) => job(i + 1));
  // The worker, coming to the batch taken from it, only says so: the pool still takes batches and packs them.
  const after = await pool.pack(job(3));
  t.is(after.total, (await inline.pack(job(3))).total);
});

test('the reused zlib handle gives deflateSync\'s bytes, each page a stream of its own, and raw when not strictly smaller', (t) => {
  const codec = zlibPageCodec();
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 256 }), fc.uint8Array({ minLength: 512, maxLength: 512 })), { minLength: 1, maxLength: 6 }), (specs) => {
      for (const [fill, period, noise] of specs) {
        const page = Buffer.alloc(4096, fill);
        for (let i = 0; i < 4096; i += period) page[i] = noise[i % 512];
        const out = Buffer.alloc(4096);
        const size = codec(page, out, 0);
        const expected = deflateSync(page, { level: 1 });
        if (expected.length < 4096) {
          t.is(size, expected.length);
          t.deepEqual(out.subarray(0, size), expected);
          t.deepEqual(inflateSync(out.subarray(0, size)), page);
        } else t.is(size, 0);
      }
    }),
  );
});

test('batches cover the dumpable pages once, in order, each at most the cap', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 1000 }), (bitmap, max, base) => {
      const fromBatches: number[] = [];
      const batches = [...pageBatches(bitmap, base, max)];
      for (const [i, runs] of batches.entries()) {
        const count = runs.reduce((n, [, c]) => n + c, 0);
        if (count > max || count === 0 || (i < batches.length - 1 && count !== max)) return false;
        for (const [first, c] of runs) for (let p = first; p < first + c; p++) fromBatches.push(p);
      }
      const fromRuns: number[] = [];
      for (const [first, c] of dumpableRuns(bitmap, base, 1 << 30)) for (let p = first; p < first + c; p++) fromRuns.push(p);
      t.deepEqual(fromBatches, fromRuns);
      return true;
    }),
  );
});
