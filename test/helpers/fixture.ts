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
/** The shared real dumps (../shared/fixtures/README.md): a fatal machine check, and a sysrq panic with PG_hwpoison pages. */
export const FIXTURES = {
  mce: { name: 'vmcore-6.1-mce.elf', sha256: '30e069aec6a036c2702c5214b0535d8296fa67e6e49c80e6e91c302a6cd3af00', size: 423_288_832 },
  hwpoison: { name: 'vmcore-6.1-hwpoison.elf', sha256: 'f194ff25c5b28264a4cd886e200fcea23d74b5be98cd3f45d33f2f6b99b93c76', size: 423_288_832 },
} as const;
export type FixtureName = keyof typeof FIXTURES;
type Fixture = (typeof FIXTURES)[FixtureName];
export const FIXTURE_SHA256 = FIXTURES.mce.sha256;
export const FIXTURE_SIZE = FIXTURES.mce.size;
// A live unpacker takes seconds; a lock older than this was left by a killed process.
const STALE_LOCK_MS = 10 * 60_000;
const POLL_MS = 250;

export function sharedDir(): string {
  return process.env.SLIMCORE_SHARED_DIR ?? path.resolve(repoRoot, '../shared');
}

export function fixtureCacheDir(): string {
  return process.env.SLIMCORE_CACHE_DIR ?? path.join(repoRoot, '.cache', 'fixtures');
}

const unpacked = new Map<FixtureName, Promise<string>>();

/** Path of an unpacked real vmcore (the MCE one by default); unpacks it on first use. Throws (never skips) when it is missing. */
export function realFixturePath(which: FixtureName = 'mce'): Promise<string> {
  let p = unpacked.get(which);
  if (!p) {
    p = unpackOnce(FIXTURES[which]).catch((err: unknown) => {
      unpacked.delete(which);
      throw err;
    });
    unpacked.set(which, p);
  }
  return p;
}

/** Every real fixture, for tests that must hold on each of them. */
export const FIXTURE_NAMES = Object.keys(FIXTURES) as FixtureName[];

async function unpackOnce(fx: Fixture): Promise<string> {
  const gzPath = path.join(sharedDir(), 'fixtures', `${fx.name}.gz`);
  const target = path.join(fixtureCacheDir(), fx.name);
  if (await hasFixtureSize(target, fx)) return target;
  await stat(gzPath).catch(() => {
    throw new Error(`real fixture missing: ${gzPath} does not exist (set SLIMCORE_SHARED_DIR to the directory that holds fixtures/${fx.name}.gz)`);
  });
  await checkReadmeAgrees(path.join(path.dirname(gzPath), 'README.md'), fx);
  await mkdir(path.dirname(target), { recursive: true });
  const lock = `${target}.lock`;
  for (;;) {
    if (await hasFixtureSize(target, fx)) return target;
    if (await tryLock(lock)) break;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  try {
    if (await hasFixtureSize(target, fx)) return target;
    await gunzipVerified(gzPath, target, fx);
    return target;
  } finally {
    await rm(lock, { force: true });
  }
}

// Only a verified file is ever renamed to the target name, so a file of the right size there has passed the sha256 check.
async function hasFixtureSize(file: string, fx: Fixture): Promise<boolean> {
  const st = await stat(file).catch(() => undefined);
  return st !== undefined && st.size === fx.size;
}

/** The README's section on this fixture must give the same sha256 and size as FIXTURES. */
async function checkReadmeAgrees(readme: string, fx: Fixture): Promise<void> {
  const text = await readFile(readme, 'utf8').catch(() => '');
  const section = text.split(/^## /m).find((s) => s.startsWith(`${fx.name}.gz`)) ?? '';
  const m = /sha256 unpacked:\s*`([0-9a-f]{64})`,\s*([\d,]+) bytes/.exec(section);
  if (!m) return;
  const size = Number(m[2].replaceAll(',', ''));
  if (m[1] !== fx.sha256 || size !== fx.size) {
    throw new Error(`${readme} gives sha256 ${m[1]} and ${size} bytes for ${fx.name}, but test/helpers/fixture.ts expects ${fx.sha256} and ${fx.size}: update the helper`);
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

async function gunzipVerified(gzPath: string, target: string, fx: Fixture): Promise<void> {
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
    if (digest !== fx.sha256 || size !== fx.size) {
      throw new Error(`real fixture ${gzPath} unpacks to ${size} bytes with sha256 ${digest}, want ${fx.size} bytes with ${fx.sha256}`);
    }
    await chmod(tmp, 0o444); // tests must copy it, never write to it
    await rename(tmp, target);
  } finally {
    await rm(tmp, { force: true });
  }
}
