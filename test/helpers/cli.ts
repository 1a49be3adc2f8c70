// Test helper: runs the built CLI (dist/bin/) as a child process, alone or inside a shell pipeline.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_CHILD_TIMEOUT_MS, spawnBounded, timeoutNote } from './bounded-child.js';
import { repoRoot } from './fixture.js';

/** The bundled CLI, as package.json's `bin` names it. */
export const CLI = path.join(repoRoot, 'dist', 'bin', 'slim-core.js');

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

function assertBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" (npm test does it)`);
}

/** Runs `node [nodeArgs] CLI ...args`; killed after `timeoutMs` (then `signal` is SIGKILL and stderr says so). */
export function runCli(
  args: readonly string[],
  options: { input?: Buffer; env?: NodeJS.ProcessEnv; nodeArgs?: readonly string[]; timeoutMs?: number } = {},
): Promise<RunResult> {
  assertBuilt();
  const timeoutMs = options.timeoutMs ?? DEFAULT_CHILD_TIMEOUT_MS;
  const { child, done } = spawnBounded(process.execPath, [...(options.nodeArgs ?? []), CLI, ...args], { env: { ...process.env, ...options.env }, timeoutMs });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  child.stdin.on('error', () => undefined);
  child.stdin.end(options.input);
  return done.then(({ code, signal, timedOut }) => ({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() + timeoutNote(timedOut, timeoutMs) }));
}

const SHELL_OUTPUT_CAP = 64 << 20;

/**
 * Runs a bash script with $CLI set to `node dist/bin/slim-core.js`, for real pipes between processes. The whole
 * pipeline is killed after `timeoutMs`; then `code` is 1 and stderr says so.
 */
export function runShell(script: string, args: readonly string[] = [], timeoutMs = DEFAULT_CHILD_TIMEOUT_MS): Promise<{ code: number; stdout: string; stderr: string }> {
  assertBuilt();
  const { child, done } = spawnBounded('bash', ['-c', script, 'bash', ...args], { env: { ...process.env, CLI: `${process.execPath} ${CLI}` }, timeoutMs });
  child.stdin.end();
  const collect = (stream: NodeJS.ReadableStream) => {
    const parts: Buffer[] = [];
    let bytes = 0;
    stream.on('data', (b: Buffer) => {
      bytes += b.length;
      if (bytes > SHELL_OUTPUT_CAP) process.kill(-child.pid!, 'SIGKILL');
      else parts.push(b);
    });
    return () => Buffer.concat(parts).toString();
  };
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  return done.then(({ code, timedOut }) => ({ code: code ?? 1, stdout: stdout(), stderr: stderr() + timeoutNote(timedOut, timeoutMs) }));
}
