// Mounts test/fuse/faulty_fs.py over a backing file so tests read through real kernel EIO, and never leaves a mount behind.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { repoRoot } from './fixture.js';

export interface FaultyMountOptions {
  backing: string;
  name?: string;
  pageSize?: number;
  /** File offsets, page aligned: any read request overlapping one fails with EIO. */
  badPages?: number[];
  /** Sleeps sleepMs in every everyNth read request. */
  slowReads?: { everyNth: number; sleepMs: number };
  /** Default true. False serves through the page cache: a failing page then makes a fault on a mapping of it fail (SIGBUS). */
  directIo?: boolean;
}

export interface FaultyReadCounts {
  /** Most reads of any one page (a FUSE request counts once for every page it overlaps; failed requests count too). */
  maxReads: number;
  /** Page file offset (decimal string) -> reads, for pages read more than once and for every bad page. */
  counts: Record<string, number>;
  pagesRead: number;
  requests: number;
  /** FUSE read request size (decimal string) -> how many requests had it. */
  requestSizes: Record<string, number>;
}

export interface FaultyMount {
  /** Path of the served file. */
  file: string;
  mountpoint: string;
  serverPid: number;
  readCounts(): Promise<FaultyReadCounts>;
  unmount(): Promise<void>;
}

const PYTHON = '/usr/bin/python3';
const SERVER_SCRIPT = path.join(repoRoot, 'test', 'fuse', 'faulty_fs.py');
const DIR_PREFIX = 'slimcore-faulty-';
const MOUNT_TIMEOUT_MS = 15_000;
const COUNTS_TIMEOUT_MS = 10_000;
const EXIT_WAIT_MS = 5_000;
const POLL_MS = 20;
const STDERR_KEPT = 16_384;

interface LiveMount { base: string; mountpoint: string; server: ChildProcess }
const liveMounts = new Map<string, LiveMount>();
let exitHookInstalled = false;
let staleCleaned = false;

export async function mountFaulty(t: Pick<ExecutionContext, 'teardown'>, opts: FaultyMountOptions): Promise<FaultyMount> {
  ensureFuseDevice();
  const tmp = realpathSync(os.tmpdir());
  if (!staleCleaned) {
    staleCleaned = true;
    cleanStaleMounts(tmp);
  }
  const base = await mkdtemp(path.join(tmp, `${DIR_PREFIX}${process.pid}-`));
  const mountpoint = path.join(base, 'mnt');
  const name = opts.name ?? 'vmcore';
  const countsFile = path.join(base, 'counts.json');
  const configFile = path.join(base, 'config.json');
  await mkdir(mountpoint);
  const config = { backing: path.resolve(opts.backing), name, pageSize: opts.pageSize ?? 4096, badPages: opts.badPages ?? [], slowReads: opts.slowReads ?? { everyNth: 0, sleepMs: 0 }, directIo: opts.directIo ?? true, countsFile };
  await writeFile(configFile, JSON.stringify(config));

  // stdin stays open as a lifeline: the server unmounts itself when it reads EOF, i.e. when this process dies.
  const server = spawn(PYTHON, [SERVER_SCRIPT, configFile, mountpoint], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  server.stderr!.setEncoding('utf8').on('data', (s: string) => { stderr = (stderr + s).slice(-STDERR_KEPT); });
  const spawnError = new Promise<Error>((resolve) => server.once('error', resolve));
  const exited = new Promise<void>((resolve) => server.once('close', () => resolve()));
  const live: LiveMount = { base, mountpoint, server };
  liveMounts.set(mountpoint, live);
  installExitHook();

  let unmounting: Promise<void> | undefined;
  const unmount = () => (unmounting ??= unmountAndStop(live, exited));
  t.teardown(async () => {
    await unmount();
    if (!isMounted(mountpoint)) await rm(base, { recursive: true, force: true });
  });

  const file = path.join(mountpoint, name);
  const deadline = Date.now() + MOUNT_TIMEOUT_MS;
  for (;;) {
    if (isMounted(mountpoint) && (await stat(file).then(() => true, () => false))) break;
    const failure = await Promise.race([spawnError, exited.then(() => 'exited' as const), sleep(POLL_MS).then(() => undefined)]);
    if (failure !== undefined || Date.now() > deadline) {
      await unmount();
      const why = failure instanceof Error ? `could not start ${PYTHON}: ${failure.message}`
        : failure === 'exited' ? `server exited with ${server.exitCode ?? server.signalCode}` : `not mounted after ${MOUNT_TIMEOUT_MS} ms`;
      throw new Error(`faulty FUSE mount of ${opts.backing} at ${mountpoint} failed: ${why}; stderr of ${SERVER_SCRIPT}:\n${stderr.trim() || '(empty)'}\n` +
        '(needs fuse3 and python3-fusepy: scripts/apt-deps.sh installs them)');
    }
  }

  return {
    file,
    mountpoint,
    serverPid: server.pid!,
    unmount,
    readCounts: () => readCounts(server, countsFile),
  };
}

async function readCounts(server: ChildProcess, countsFile: string): Promise<FaultyReadCounts> {
  const read = async () => JSON.parse(await readFile(countsFile, 'utf8')) as FaultyReadCounts & { generation: number };
  if (!running(server)) return pick(await read());
  const before = (await read()).generation;
  server.kill('SIGUSR1');
  const deadline = Date.now() + COUNTS_TIMEOUT_MS;
  for (;;) {
    const report = await read();
    if (report.generation > before) return pick(report);
    if (!running(server)) return pick(await read());
    if (Date.now() > deadline) throw new Error(`faulty FUSE server ${server.pid} did not write ${countsFile} within ${COUNTS_TIMEOUT_MS} ms of SIGUSR1`);
    await sleep(POLL_MS);
  }
}

function pick(r: FaultyReadCounts): FaultyReadCounts {
  return { maxReads: r.maxReads, counts: r.counts, pagesRead: r.pagesRead, requests: r.requests, requestSizes: r.requestSizes };
}

// fusermount3 -u lets the server see the unmount and write its final counts; a busy mount falls back to a lazy umount.
async function unmountAndStop(live: LiveMount, exited: Promise<void>): Promise<void> {
  const { mountpoint, server } = live;
  if (isMounted(mountpoint)) {
    const r = spawnSync('fusermount3', ['-u', mountpoint], { encoding: 'utf8' });
    if (r.status !== 0 || isMounted(mountpoint)) spawnSync('umount', ['-l', mountpoint]);
  }
  for (const signal of [undefined, 'SIGTERM', 'SIGKILL'] as const) {
    if (!running(server)) break;
    if (signal) server.kill(signal);
    await Promise.race([exited, sleep(EXIT_WAIT_MS)]);
  }
  server.stdin?.destroy();
  if (isMounted(mountpoint)) spawnSync('umount', ['-l', mountpoint]);
  liveMounts.delete(mountpoint);
  if (isMounted(mountpoint)) throw new Error(`could not unmount faulty FUSE mount ${mountpoint}`);
}

function running(server: ChildProcess): boolean {
  return server.exitCode === null && server.signalCode === null;
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const { base, mountpoint, server } of liveMounts.values()) {
      if (isMounted(mountpoint)) spawnSync('umount', ['-l', mountpoint]);
      if (running(server)) server.kill('SIGKILL');
      if (!isMounted(mountpoint)) rmSync(base, { recursive: true, force: true });
    }
  });
}

/** Lazily unmounts and removes the mounts and directories of earlier runs whose process is gone. */
export function cleanStaleMounts(tmp = realpathSync(os.tmpdir())): void {
  const ownerPid = (dir: string) => Number(/^slimcore-faulty-(\d+)-/.exec(dir)?.[1]);
  const stale = (dir: string) => {
    const pid = ownerPid(dir);
    return Number.isInteger(pid) && pid !== process.pid && !processAlive(pid);
  };
  for (const mountpoint of mountPoints()) {
    const rel = path.relative(tmp, mountpoint).split(path.sep);
    if (rel.length === 2 && rel[0].startsWith(DIR_PREFIX) && rel[1] === 'mnt' && stale(rel[0])) spawnSync('umount', ['-l', mountpoint]);
  }
  for (const dir of readdirSync(tmp)) {
    const base = path.join(tmp, dir);
    if (dir.startsWith(DIR_PREFIX) && stale(dir) && !isMounted(path.join(base, 'mnt'))) rmSync(base, { recursive: true, force: true });
  }
}

function ensureFuseDevice(): void {
  if (existsSync('/dev/fuse')) return;
  const r = spawnSync('modprobe', ['fuse'], { encoding: 'utf8' });
  if (!existsSync('/dev/fuse')) {
    throw new Error(`faulty FUSE mount: /dev/fuse does not exist and "modprobe fuse" did not create it (${r.error?.message ?? (r.stderr.trim() || `exit ${r.status}`)})`);
  }
}

export function mountPoints(): string[] {
  // Field 5 of each mountinfo line is the mount point, with space, tab, newline and backslash as octal escapes.
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean)
    .map((line) => line.split(' ')[4].replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8))));
}

export function isMounted(mountpoint: string): boolean {
  return mountPoints().includes(mountpoint);
}

/** False for a zombie too: a killed server whose parent died may wait a while to be reaped. */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
