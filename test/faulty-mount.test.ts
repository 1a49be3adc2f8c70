// Proves the faulty FUSE mount: real kernel EIO on bad pages, honest per-page read counts, slow reads, and no mount left behind.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { cleanStaleMounts, isMounted, mountFaulty, mountPoints, processAlive, type FaultyMountOptions } from './helpers/faulty-mount.js';
import { repoRoot } from './helpers/fixture.js';
import { tempDir } from './helpers/tmp.js';

const PAGE = 4096;
const MiB = 1 << 20;
const MAX_FUSE_REQUEST = 128 * 1024;
const FILE_SIZE = 4 * MiB;

async function backingFile(t: ExecutionContext): Promise<{ backing: string; bytes: Buffer }> {
  const bytes = randomBytes(FILE_SIZE);
  const backing = path.join(await tempDir(t, 'faulty-backing'), 'backing.bin');
  writeFileSync(backing, bytes);
  return { backing, bytes };
}

async function mounted(t: ExecutionContext, opts: Omit<FaultyMountOptions, 'backing'> = {}) {
  const { backing, bytes } = await backingFile(t);
  const mount = await mountFaulty(t, { backing, ...opts });
  const fd = openSync(mount.file, 'r');
  let open = true;
  // Idempotent: a second close could hit a descriptor number that a concurrent test has opened since.
  const close = () => {
    if (open) closeSync(fd);
    open = false;
  };
  t.teardown(close);
  return { mount, bytes, fd, close };
}

function pread(fd: number, length: number, position: number): Buffer {
  const buf = Buffer.alloc(length);
  return buf.subarray(0, readSync(fd, buf, 0, length, position));
}

// Buffer.equals, because t.deepEqual walks a MiB-sized buffer byte by byte for seconds.
function sameBytes(t: ExecutionContext, got: Buffer, want: Buffer): void {
  t.is(got.length, want.length);
  t.true(got.equals(want), 'bytes read through the mount differ from the backing file');
}

function expectEio(t: ExecutionContext, fd: number, length: number, position: number): void {
  const err = t.throws(() => pread(fd, length, position), undefined, `read of ${length} at ${position}`) as NodeJS.ErrnoException;
  t.is(err?.code, 'EIO');
  t.is(err?.errno, -5);
}

test('serves the backing file read-only: size, mode 0444, directory listing, bytes of a good range', async (t) => {
  const { mount, bytes, fd } = await mounted(t, { name: 'vmcore', badPages: [PAGE * 100] });
  t.deepEqual(readdirSync(mount.mountpoint), ['vmcore']);
  const st = statSync(mount.file);
  t.is(st.size, FILE_SIZE);
  t.true(st.isFile());
  t.is(st.mode & 0o777, 0o444);
  sameBytes(t, pread(fd, 3 * PAGE + 17, 5 * PAGE - 9), bytes.subarray(5 * PAGE - 9, 8 * PAGE + 8));
  sameBytes(t, pread(fd, 2 * MiB, 2 * MiB), bytes.subarray(2 * MiB));
  t.is(pread(fd, PAGE, FILE_SIZE).length, 0);
  t.throws(() => openSync(mount.file, 'r+'), { code: 'EROFS' });
});

test('a read overlapping a bad page fails with a real EIO; the pages around it read fine', async (t) => {
  const bad = 10 * PAGE;
  const { bytes, fd } = await mounted(t, { badPages: [bad] });
  expectEio(t, fd, PAGE, bad);
  expectEio(t, fd, 1, bad + PAGE - 1);
  expectEio(t, fd, 2 * PAGE, bad - PAGE + 100);
  sameBytes(t, pread(fd, PAGE, bad - PAGE), bytes.subarray(bad - PAGE, bad));
  sameBytes(t, pread(fd, PAGE, bad + PAGE), bytes.subarray(bad + PAGE, bad + 2 * PAGE));
});

test('read counts: each page a request overlaps counts once, failed requests too', async (t) => {
  const bad = 20 * PAGE;
  const { mount, fd } = await mounted(t, { badPages: [bad, 30 * PAGE] });
  pread(fd, PAGE, 3 * PAGE);
  pread(fd, 10, 3 * PAGE + 100);
  pread(fd, PAGE, 5 * PAGE);
  expectEio(t, fd, PAGE, bad);
  const c = await mount.readCounts();
  t.is(c.maxReads, 2);
  t.deepEqual(c.counts, { [3 * PAGE]: 2, [bad]: 1, [30 * PAGE]: 0 });
  t.is(c.pagesRead, 3);
  t.is(c.requests, 4);
  pread(fd, PAGE, 5 * PAGE);
  pread(fd, PAGE, 5 * PAGE);
  const again = await mount.readCounts();
  t.is(again.maxReads, 3);
  t.is(again.counts[5 * PAGE], 3);
});

test('one 1 MiB read(2): the kernel splits it into requests of at most 128 KiB, and each page counts once', async (t) => {
  const { mount, bytes, fd } = await mounted(t);
  sameBytes(t, pread(fd, MiB, PAGE), bytes.subarray(PAGE, PAGE + MiB));
  const c = await mount.readCounts();
  t.log('request sizes of one 1 MiB read(2):', c.requestSizes);
  t.true(c.requests >= MiB / MAX_FUSE_REQUEST, `${c.requests} requests`);
  t.true(Object.keys(c.requestSizes).every((size) => Number(size) <= MAX_FUSE_REQUEST), JSON.stringify(c.requestSizes));
  t.is(c.maxReads, 1);
  t.is(c.pagesRead, MiB / PAGE);
});

test('a 1 MiB pread starting at a bad page, or whose 3rd page is bad, fails with EIO as a whole', async (t) => {
  const bad = MiB;
  const { mount, fd } = await mounted(t, { badPages: [bad] });
  expectEio(t, fd, MiB, bad);
  expectEio(t, fd, MiB, bad - 2 * PAGE);
  const c = await mount.readCounts();
  t.is(c.counts[bad], 2);
  t.is(c.requests, 2, 'the first request of each read fails, and the kernel sends no more');
});

test('a 1 MiB pread with a bad page in the middle returns a short read that ends before the bad page', async (t) => {
  const start = MiB + MiB / 2;
  const bad = start + MiB / 2;
  const { mount, bytes, fd } = await mounted(t, { badPages: [bad] });
  const got = pread(fd, MiB, start);
  t.log(`short read: ${got.length} of ${MiB} bytes, the bad page starts ${bad - start} bytes in`);
  t.true(got.length > 0 && got.length <= bad - start, `${got.length}`);
  t.true(got.length > bad - start - MAX_FUSE_REQUEST, 'only the failed request is missing');
  sameBytes(t, got, bytes.subarray(start, start + got.length));
  // Recovery that reads the rest page by page (not one more big read) reads no page more than twice.
  for (let page = Math.floor((start + got.length) / PAGE) * PAGE; page < start + MiB; page += PAGE) {
    if (page === bad) expectEio(t, fd, PAGE, page);
    else sameBytes(t, pread(fd, PAGE, page), bytes.subarray(page, page + PAGE));
  }
  const c = await mount.readCounts();
  t.is(c.maxReads, 2);
  t.is(c.counts[bad], 2);
});

test('slow reads: a read whose requests sleep still completes with the right bytes', async (t) => {
  const { mount, bytes, fd } = await mounted(t, { slowReads: { everyNth: 2, sleepMs: 150 } });
  const began = Date.now();
  sameBytes(t, pread(fd, MiB, 0), bytes.subarray(0, MiB));
  const elapsed = Date.now() - began;
  const c = await mount.readCounts();
  t.true(elapsed >= Math.floor(c.requests / 2) * 150 - 50, `${elapsed} ms for ${c.requests} requests`);
});

test('unmount leaves nothing in mountinfo, is idempotent, and the final counts stay readable', async (t) => {
  const { mount, fd, close } = await mounted(t);
  pread(fd, PAGE, 0);
  pread(fd, PAGE, 0);
  close();
  await mount.unmount();
  await mount.unmount();
  t.false(mountPoints().some((mp) => mp.startsWith(mount.mountpoint)));
  t.false(existsSync(mount.file));
  t.is((await mount.readCounts()).counts[0], 2);
  t.throws(() => process.kill(mount.serverPid, 0), { code: 'ESRCH' });
});

test('a mount that cannot start fails with the server stderr', async (t) => {
  const dir = await tempDir(t, 'faulty-missing');
  const err = await t.throwsAsync(mountFaulty(t, { backing: path.join(dir, 'no-such-file') }));
  t.regex(err!.message, /faulty FUSE mount of .*no-such-file.* failed: server exited/);
  t.regex(err!.message, /No such file or directory/);
});

// A separate Node process mounts, so the test can kill it the hard way.
async function mountInChild(t: ExecutionContext): Promise<{ child: ReturnType<typeof spawn>; mountpoint: string; serverPid: number }> {
  const { backing } = await backingFile(t);
  const helper = pathToFileURL(path.join(repoRoot, 'test', 'helpers', 'faulty-mount.js')).href;
  const code = `import { mountFaulty } from ${JSON.stringify(helper)};
    const m = await mountFaulty({ teardown() {} }, { backing: process.argv[1] });
    console.log(JSON.stringify({ mountpoint: m.mountpoint, serverPid: m.serverPid }));
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--import=tsx', '--input-type=module', '-e', code, backing], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => { child.kill('SIGKILL'); });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d; });
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      if (out.includes('\n')) resolve(out.split('\n')[0]);
    });
    child.once('close', (code) => reject(new Error(`mounting child exited with ${code}: ${err}`)));
  });
  return { child, ...(JSON.parse(line) as { mountpoint: string; serverPid: number }) };
}

async function waitUntil(predicate: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

test.serial('a test process killed with SIGKILL leaves no mount: the server unmounts itself', async (t) => {
  const { child, mountpoint, serverPid } = await mountInChild(t);
  t.true(isMounted(mountpoint));
  child.kill('SIGKILL');
  t.true(await waitUntil(() => !isMounted(mountpoint), 10_000), `${mountpoint} still mounted`);
  t.true(await waitUntil(() => !processAlive(serverPid), 10_000), `server ${serverPid} still running`);
  cleanStaleMounts();
  t.false(existsSync(path.dirname(mountpoint)));
});

test.serial('a mount whose test process and server were both killed is cleaned up as stale', async (t) => {
  const { child, mountpoint, serverPid } = await mountInChild(t);
  process.kill(serverPid, 'SIGKILL');
  t.true(await waitUntil(() => !processAlive(serverPid), 10_000));
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('close', resolve));
  // Another process's mountFaulty may clean it up first, so a left-behind mount is not asserted here.
  cleanStaleMounts();
  t.false(isMounted(mountpoint));
  t.false(existsSync(path.dirname(mountpoint)));
});
