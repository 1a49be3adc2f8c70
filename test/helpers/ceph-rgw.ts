// A real S3 store for tests and the bench: a one-node Ceph cluster (mon, memstore OSD, RGW) on 127.0.0.1, in a temp dir.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface RgwCluster {
  endpoint: string;
  port: number;
  accessKey: string;
  secretKey: string;
  dir: string;
  /** An AWS shared credentials file holding the user's keys. */
  credentialsFile: string;
  rgwPid(): number;
  /** SIGKILLs RGW and waits until it is gone. */
  killRgw(): Promise<void>;
  /** Starts RGW again (after killRgw) and waits until it answers. */
  startRgw(): Promise<void>;
  signalRgw(signal: 'SIGSTOP' | 'SIGCONT'): void;
  stop(): Promise<void>;
}

const BINARIES = ['ceph-authtool', 'monmaptool', 'ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'ceph'];
const STEP_TIMEOUT_MS = 60_000;
const POLL_MS = 100;

function run(file: string, args: string[], timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')} failed: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

/** A free port below the kernel's ephemeral range (32768 on), where the cluster's own outgoing connections cannot take it. */
async function freePort(): Promise<number> {
  for (;;) {
    const port = 13_000 + Math.floor(Math.random() * 7_000);
    const server = net.createServer();
    const free = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (free) {
      await new Promise((resolve) => server.close(resolve));
      return port;
    }
  }
}

function httpAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', timeout: 2000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

interface Daemon {
  name: string;
  child: ChildProcess;
  exited: Promise<void>;
  done: boolean;
}

function config(dir: string, fsid: string, monPort: number, rgwPort: number, osdPortBase: number): string {
  return `[global]
fsid = ${fsid}
mon host = v2:127.0.0.1:${monPort}
public addr = 127.0.0.1
cluster addr = 127.0.0.1
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = ${dir}/keyring
run dir = ${dir}/run
admin socket = ${dir}/run/$name.asok
pid file = ${dir}/run/$name.pid
log file = ${dir}/log/$name.log
crash dir = ${dir}/crash
log to stderr = false
err to stderr = false
ms bind port min = ${osdPortBase}
ms bind port max = ${osdPortBase + 200}
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 2
mon data avail crit = 1
auth allow insecure global id reclaim = false
paxos propose interval = 0.05
paxos min wait = 0.01

[mon]
mon data = ${dir}/mon.$id

[osd]
osd data = ${dir}/osd.$id
osd objectstore = memstore
memstore device bytes = 8589934592

[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}
rgw data = ${dir}/rgw.a
rgw enable usage log = false
rgw gc obj min wait = 10
rgw gc processor period = 15
`;
}

/** Starts a fresh cluster; throws (never skips) with the reason when it cannot. */
export async function startCephRgw(): Promise<RgwCluster> {
  const missing = BINARIES.filter((b) => !['/usr/bin', '/usr/sbin'].some((d) => existsSync(path.join(d, b))));
  if (missing.length) throw new Error(`Ceph RGW for the s3:// tests: ${missing.join(', ')} missing: run scripts/apt-deps.sh (installs ceph-mon ceph-osd radosgw)`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'slimcore-ceph-'));
  const conf = path.join(dir, 'ceph.conf');
  const daemons: Daemon[] = [];
  let rgw: Daemon | undefined;

  const logTail = (name: string) => {
    try {
      return readFileSync(path.join(dir, 'log', `${name}.log`), 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      return '(no log)';
    }
  };
  const startDaemon = (name: string, file: string, args: string[]): Daemon => {
    const child = spawn(file, ['-c', conf, ...args, '-f'], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    const daemon: Daemon = { name, child, done: false, exited: new Promise((resolve) => child.on('exit', () => resolve())) };
    void daemon.exited.then(() => (daemon.done = true));
    child.stderr!.resume();
    daemons.push(daemon);
    appendFileSync(pidFile, `${child.pid}\n`);
    return daemon;
  };
  const waitUntil = async (what: string, watched: Daemon[], check: () => Promise<boolean>) => {
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    for (;;) {
      const dead = watched.find((d) => d.done);
      if (dead) throw new Error(`Ceph bring-up: ${dead.name} exited while waiting for ${what}:\n${logTail(dead.name)}`);
      if (await check().catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(`Ceph bring-up: no ${what} within ${STEP_TIMEOUT_MS / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  };
  const stopDaemon = async (d: Daemon, signal: NodeJS.Signals) => {
    if (d.done) return;
    d.child.kill(signal);
    const forced = setTimeout(() => d.child.kill('SIGKILL'), 5000);
    await d.exited;
    clearTimeout(forced);
  };
  const killAllNow = () => {
    for (const d of daemons) if (!d.done) d.child.kill('SIGKILL');
  };
  process.once('exit', killAllNow);
  // A test process killed outright (ava's timeout) runs no hooks: a watchdog then stops the daemons by their PIDs.
  const pidFile = path.join(dir, 'pids');
  writeFileSync(pidFile, '');
  const watchdog = spawn('bash', ['-c', 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; xargs -r kill -9 < "$2" 2>/dev/null; rm -rf "$3"', 'watchdog', String(process.pid), pidFile, dir], {
    detached: true,
    stdio: 'ignore',
  });
  watchdog.unref();

  const stop = async () => {
    process.off('exit', killAllNow);
    for (const d of [...daemons].reverse()) {
      if (d.name === 'client.rgw.a') d.child.kill('SIGCONT');
      await stopDaemon(d, 'SIGTERM');
    }
    watchdog.kill();
    await rm(dir, { recursive: true, force: true });
  };

  try {
    for (const sub of ['run', 'log', 'crash', 'osd.0', 'rgw.a']) await mkdir(path.join(dir, sub), { recursive: true });
    const [monPort, rgwPort] = [await freePort(), await freePort()];
    const osdPortBase = 20_000 + Math.floor(Math.random() * 12_000);
    const fsid = randomUUID();
    await writeFile(conf, config(dir, fsid, monPort, rgwPort, osdPortBase));
    const keyring = path.join(dir, 'keyring');
    await run('ceph-authtool', ['--create-keyring', keyring, '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *']);
    await run('ceph-authtool', [keyring, '--gen-key', '-n', 'client.admin', '--cap', 'mon', 'allow *', '--cap', 'osd', 'allow *', '--cap', 'mgr', 'allow *', '--cap', 'mds', 'allow *']);
    await run('ceph-authtool', [keyring, '--gen-key', '-n', 'osd.0', '--cap', 'mon', 'allow profile osd', '--cap', 'mgr', 'allow profile osd', '--cap', 'osd', 'allow *']);
    await run('ceph-authtool', [keyring, '--gen-key', '-n', 'client.rgw.a', '--cap', 'mon', 'allow rw', '--cap', 'osd', 'allow rwx', '--cap', 'mgr', 'allow rw']);
    await run('monmaptool', ['--create', '--fsid', fsid, '--addv', 'a', `[v2:127.0.0.1:${monPort}]`, path.join(dir, 'monmap')]);
    await run('ceph-mon', ['-c', conf, '-i', 'a', '--mkfs', '--monmap', path.join(dir, 'monmap'), '--keyring', keyring]);
    const ceph = (args: string[]) => run('ceph', ['-c', conf, '-n', 'client.admin', '--connect-timeout', '5', ...args], 10_000);
    const mon = startDaemon('mon.a', 'ceph-mon', ['-i', 'a']);
    await waitUntil('monitor', [mon], async () => (await ceph(['mon', 'stat']), true));
    const osdUuid = randomUUID();
    const id = (await ceph(['osd', 'new', osdUuid])).trim();
    if (id !== '0') throw new Error(`Ceph bring-up: ceph osd new answered ${JSON.stringify(id)}, not 0`);
    await run('ceph-osd', ['-c', conf, '-i', '0', '--mkfs', '--osd-uuid', osdUuid], 60_000);
    const osd = startDaemon('osd.0', 'ceph-osd', ['-i', '0']);
    await waitUntil('OSD up', [mon, osd], async () => /"up":\s*1/.test(await ceph(['osd', 'dump', '-f', 'json'])));
    const startRgw = async () => {
      rgw = startDaemon('client.rgw.a', 'radosgw', ['-n', 'client.rgw.a']);
      await waitUntil('RGW answering', [mon, osd, rgw], () => httpAnswers(rgwPort));
    };
    await startRgw();
    const accessKey = randomBytes(10).toString('hex').toUpperCase();
    const secretKey = randomBytes(20).toString('hex');
    await run('radosgw-admin', ['-c', conf, '-n', 'client.admin', 'user', 'create', '--uid=slimcore', '--display-name=slim-core tests', `--access-key=${accessKey}`, `--secret-key=${secretKey}`], 30_000);
    const credentialsFile = path.join(dir, 'credentials');
    await writeFile(credentialsFile, `[default]\naws_access_key_id = ${accessKey}\naws_secret_access_key = ${secretKey}\n`, { mode: 0o600 });
    return {
      endpoint: `http://127.0.0.1:${rgwPort}`,
      port: rgwPort,
      accessKey,
      secretKey,
      dir,
      credentialsFile,
      rgwPid: () => rgw!.child.pid!,
      async killRgw() {
        await stopDaemon(rgw!, 'SIGKILL');
      },
      startRgw,
      signalRgw(signal) {
        rgw!.child.kill(signal);
      },
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

/** The log of one daemon, for a failing test's message. */
export function rgwLog(cluster: RgwCluster): Promise<string> {
  return readFile(path.join(cluster.dir, 'log', 'client.rgw.a.log'), 'utf8').catch(() => '');
}
