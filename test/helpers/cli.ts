// Test helper: runs the built CLI (dist/bin/) as a child process, alone or inside a shell pipeline.

import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
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

/** Runs `node [nodeArgs] CLI ...args`. */
export function runCli(args: readonly string[], options: { input?: Buffer; env?: NodeJS.ProcessEnv; nodeArgs?: readonly string[] } = {}): Promise<RunResult> {
  assertBuilt();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), CLI, ...args], { env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => undefined);
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() }));
    child.stdin.end(options.input);
  });
}

/** Runs a bash script with $CLI set to `node dist/bin/slim-core.js`, for real pipes between processes. */
export function runShell(script: string, args: readonly string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  assertBuilt();
  return new Promise((resolve) => {
    execFile(
      'bash',
      ['-c', script, 'bash', ...args],
      { env: { ...process.env, CLI: `${process.execPath} ${CLI}` }, maxBuffer: 64 << 20 },
      (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
