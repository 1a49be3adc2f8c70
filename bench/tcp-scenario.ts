// Full mode over TCP to `slim-core receive` on 127.0.0.1, timed until the receiver holds the whole dump; skipped until `receive` exists.

import { spawn, spawnSync } from 'node:child_process';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { runningGroups, shellQuote as q, TIME_BIN, type RunHooks } from './measure.js';
import { expectSummary, slimCore, type Scenario, type ScenarioContext } from './scenarios.js';

const POLL_MS = 10;
const LISTEN_TIMEOUT_MS = 10_000;
const SAVE_TIMEOUT_MS = 120_000;
const TCP_LISTEN_STATE = '0A';
/** Names of dumps still being written: the receiver renames NAME.incomplete to NAME once it has fsynced it. */
const IN_FLIGHT = /^\.|\.(incomplete|partial)$/;

/** `receive --help` alone is no proof: the default command takes "receive" as its input path and prints its own help. */
export function receiverMissingReason(cli: string): string | undefined {
  const help = spawnSync(process.execPath, [cli, 'receive', '--help'], { encoding: 'utf8' });
  if (help.status !== 0) return `\`slim-core receive --help\` exits with ${help.status}: the receive command has not landed`;
  if (!help.stdout.includes('--listen')) return '`slim-core receive --help` shows no --listen option: the receive command has not landed';
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

// Read from /proc, because a probing connection would reach the receiver as a client.
async function isListening(port: number): Promise<boolean> {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const table = await readFile('/proc/net/tcp', 'utf8');
  return table.split('\n').some((line) => {
    const cols = line.trim().split(/\s+/);
    return cols[1] === local && cols[3] === TCP_LISTEN_STATE;
  });
}

async function largestSavedFile(dir: string): Promise<number> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  let largest = 0;
  for (const e of entries) {
    if (!e.isFile() || IN_FLIGHT.test(e.name)) continue;
    const size = (await stat(path.join(e.parentPath, e.name)).catch(() => undefined))?.size ?? 0;
    largest = Math.max(largest, size);
  }
  return largest;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function childPid(pid: number): number | undefined {
  const text = spawnSync('cat', [`/proc/${pid}/task/${pid}/children`], { encoding: 'utf8' }).stdout ?? '';
  const first = Number(text.trim().split(/\s+/)[0]);
  return Number.isInteger(first) && first > 0 ? first : undefined;
}

let runs = 0;

export function tcpScenario(ctx: ScenarioContext): Scenario {
  let port = 0;
  const prepare = async (): Promise<RunHooks> => {
    port = await freePort();
    const tag = String(++runs);
    const dir = path.join(ctx.scratchDir, `receive-${tag}`);
    const rssFile = path.join(ctx.scratchDir, `receive-${tag}.time`);
    await mkdir(dir, { recursive: true });
    const receiver = spawn(TIME_BIN, ['-v', '-o', rssFile, process.execPath, ctx.cli, 'receive', '--listen', `127.0.0.1:${port}`, '--dir', dir, '--insecure'], { stdio: 'ignore', detached: true });
    if (receiver.pid !== undefined) runningGroups.add(receiver.pid);
    const exited = new Promise<void>((resolve) => receiver.on('close', () => resolve()));
    const stop = async (): Promise<number | undefined> => {
      // SIGTERM to the receiver itself: GNU time dies on it without writing its report.
      const node = receiver.pid === undefined ? undefined : childPid(receiver.pid);
      if (node !== undefined) process.kill(node, 'SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (receiver.exitCode === null && receiver.signalCode === null && receiver.pid !== undefined) process.kill(-receiver.pid, 'SIGKILL');
      if (receiver.pid !== undefined) runningGroups.delete(receiver.pid);
      const text = await readFile(rssFile, 'utf8').catch(() => '');
      await rm(dir, { recursive: true, force: true });
      await rm(rssFile, { force: true });
      const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(text);
      return m ? Number(m[1]) : undefined;
    };
    for (let waited = 0; !(await isListening(port)); waited += POLL_MS) {
      if (waited > LISTEN_TIMEOUT_MS || receiver.exitCode !== null) {
        await stop();
        throw new Error(`slim-core receive did not listen on 127.0.0.1:${port} within ${LISTEN_TIMEOUT_MS / 1000} s`);
      }
      await sleep(POLL_MS);
    }
    return {
      waitDone: async () => {
        for (let waited = 0; (await largestSavedFile(dir)) < ctx.dataBytes; waited += POLL_MS) {
          if (waited > SAVE_TIMEOUT_MS) return `the receiver saved no file of ${ctx.dataBytes} bytes or more within ${SAVE_TIMEOUT_MS / 1000} s`;
          await sleep(POLL_MS);
        }
        return undefined;
      },
      teardown: stop,
    };
  };
  return {
    id: 'full-tcp', label: 'full → `tcp://127.0.0.1` receiver (which fsyncs; RSS: sender or receiver, the larger)', tool: 'slim-core', readsWholeInput: true, comparedWith: ['node-file', 'cat-file'],
    spec: { script: (t) => t(slimCore(ctx, `${q(ctx.inputPath)} --mode full -o tcp://127.0.0.1:${port}`)), outputs: [], check: expectSummary('full', ctx.dataBytes), prepare },
  };
}
