// Unpacks the shared real kdump vmcore once into a cache, checked against its published sha256, for tests that need it.

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createGunzip } from 'node:zlib';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const FIXTURE_SHA256 = '30e069aec6a036c2702c5214b0535d8296fa67e6e49c80e6e91c302a6cd3af00';
export const FIXTURE_SIZE = 423_288_832;
const FIXTURE_NAME = 'vmcore-6.1-mce.elf';
// A live unpacker takes seconds; a lock older than this was left by a killed process.
const STALE_LOCK_MS = 10 * 60_000;
const POLL_MS = 250;

export function sharedDir(): string {
  return process.env.SLIMCORE_SHARED_DIR ?? path.resolve(repoRoot, '../shared');
}

export function fixtureCacheDir(): string {
  return process.env.SLIMCORE_CACHE_DIR ?? path.join(repoRoot, '.cache', 'fixtures');
}

let unpacked: Promise<string> | undefined;

/** Path of the unpacked real vmcore; unpacks it on first use. Throws (never skips) when the shared fixture is missing. */
export function realFixturePath(): Promise<string> {
  unpacked ??= unpackOnce().catch((err: unknown) => {
    unpacked = undefined;
    throw err;
  });
  return unpacked;
}

async function unpackOnce(): Promise<string> {
  const gzPath = path.join(sharedDir(), 'fixtures', `${FIXTURE_NAME}.gz`);
  const target = path.join(fixtureCacheDir(), FIXTURE_NAME);
  if (await hasFixtureSize(target)) return target;
  await stat(gzPath).catch(() => {
    throw new Error(`real fixture missing: ${gzPath} does not exist (set SLIMCORE_SHARED_DIR to the directory that holds fixtures/${FIXTURE_NAME}.gz)`);
  });
  await checkReadmeAgrees(path.join(path.dirname(gzPath), 'README.md'));
  await mkdir(path.dirname(target), { recursive: true });
  const lock = `${target}.lock`;
  for (;;) {
    if (await hasFixtureSize(target)) return target;
    if (await tryLock(lock)) break;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  try {
    if (await hasFixtureSize(target)) return target;
    await gunzipVerified(gzPath, target);
    return target;
  } finally {
    await rm(lock, { force: true });
  }
}

// Only a verified file is ever renamed to the target name, so a file of the right size there has passed the sha256 check.
async function hasFixtureSize(file: string): Promise<boolean> {
  const st = await stat(file).catch(() => undefined);
  return st !== undefined && st.size === FIXTURE_SIZE;
}

async function checkReadmeAgrees(readme: string): Promise<void> {
  const text = await readFile(readme, 'utf8').catch(() => '');
  const m = /sha256 unpacked:\s*`([0-9a-f]{64})`,\s*([\d,]+) bytes/.exec(text);
  if (!m) return;
  const size = Number(m[2].replaceAll(',', ''));
  if (m[1] !== FIXTURE_SHA256 || size !== FIXTURE_SIZE) {
    throw new Error(`${readme} gives sha256 ${m[1]} and ${size} bytes, but test/helpers/fixture.ts expects ${FIXTURE_SHA256} and ${FIXTURE_SIZE}: update the helper`);
  }
}

async function tryLock(lock: string): Promise<boolean> {
  try {
    const fh = await open(lock, 'wx');
    await fh.writeFile(String(process.pid));
    await fh.close();
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const [owner, st] = await Promise.all([readFile(lock, 'utf8').catch(() => ''), stat(lock).catch(() => undefined)]);
  if (st && (!processAlive(Number(owner)) || Date.now() - st.mtimeMs > STALE_LOCK_MS)) await rm(lock, { force: true });
  return false;
}

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return true; // lock just created, pid not yet written
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function gunzipVerified(gzPath: string, target: string): Promise<void> {
  const tmp = `${target}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const hash = createHash('sha256');
  let size = 0;
  const measure = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  try {
    await pipeline(createReadStream(gzPath), createGunzip(), measure, createWriteStream(tmp));
    const digest = hash.digest('hex');
    if (digest !== FIXTURE_SHA256 || size !== FIXTURE_SIZE) {
      throw new Error(`real fixture ${gzPath} unpacks to ${size} bytes with sha256 ${digest}, want ${FIXTURE_SIZE} bytes with ${FIXTURE_SHA256}`);
    }
    await chmod(tmp, 0o444); // tests must copy it, never write to it
    await rename(tmp, target);
  } finally {
    await rm(tmp, { force: true });
  }
}
