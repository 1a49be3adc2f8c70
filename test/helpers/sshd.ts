// Test helper: a private sshd (Debian's openssh-server) on a spare port of 127.0.0.1, with keys made for the test.

import { execFile, spawn } from 'node:child_process';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ExecutionContext } from 'ava';
import { tempDir } from './tmp.js';

const run = promisify(execFile);
const SSHD = '/usr/sbin/sshd';
const START_TIMEOUT_MS = 15_000;

export interface TestSshd {
  port: number;
  user: string;
  /** The client's private key, for --ssh-identity. */
  identity: string;
  /** Holds the server's host key, for --ssh-known-hosts. */
  knownHosts: string;
  /** A known_hosts file that does not know this server. */
  emptyKnownHosts: string;
  /** A directory the remote side writes into (the same machine). */
  remoteDir: string;
}

async function spareport(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function keygen(file: string): Promise<void> {
  try {
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'slim-core test', '-f', file]);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('the ssh tests need ssh-keygen (Debian package openssh-client; scripts/apt-deps.sh installs it)');
    throw err;
  }
}

/** Starts sshd -D on 127.0.0.1 with its own config, host key and authorized_keys; never the system's config or ~/.ssh. */
export async function startTestSshd(t: ExecutionContext): Promise<TestSshd> {
  try {
    await access(SSHD);
  } catch {
    throw new Error(`the ssh tests need ${SSHD} (Debian package openssh-server; scripts/apt-deps.sh installs it)`);
  }
  const dir = await tempDir(t, 'sshd');
  const hostKey = path.join(dir, 'host_ed25519');
  const identity = path.join(dir, 'id_ed25519');
  await Promise.all([keygen(hostKey), keygen(identity)]);
  await writeFile(path.join(dir, 'authorized_keys'), await readFile(`${identity}.pub`), { mode: 0o600 });
  const port = await spareport();
  const hostPub = (await readFile(`${hostKey}.pub`, 'utf8')).trim().split(' ').slice(0, 2).join(' ');
  const knownHosts = path.join(dir, 'known_hosts');
  await writeFile(knownHosts, `[127.0.0.1]:${port} ${hostPub}\n`);
  const emptyKnownHosts = path.join(dir, 'known_hosts.empty');
  await writeFile(emptyKnownHosts, '');
  const user = os.userInfo().username;
  const config = path.join(dir, 'sshd_config');
  await writeFile(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      // The temporary directory's parents (/tmp) are world-writable, which StrictModes refuses.
      'StrictModes no',
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      `AllowUsers ${user}`,
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
  );
  // Privilege separation needs this directory; a system without a running sshd may not have it.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => (log += text));
  t.teardown(() => {
    child.kill('SIGTERM');
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sshd did not start listening on 127.0.0.1:${port} within ${START_TIMEOUT_MS} ms:\n${log}`)), START_TIMEOUT_MS);
    const check = () => {
      if (!/Server listening on 127\.0\.0\.1 port/.test(log)) return;
      clearTimeout(timer);
      resolve();
    };
    child.stderr.on('data', check);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${SSHD}: ${err.message}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sshd exited with status ${code} before listening:\n${log}`));
    });
  });
  t.teardown(() => {
    if (t.passed) return;
    t.log(`sshd log:\n${log}`);
  });
  const remoteDir = path.join(dir, 'remote');
  await mkdir(remoteDir, { mode: 0o700 });
  return { port, user, identity, knownHosts, emptyKnownHosts, remoteDir };
}
