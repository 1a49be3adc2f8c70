// Test helper: a child process in its own process group, killed with all it started once its time is up.

import { spawn, type ChildProcessWithoutNullStreams, type SpawnOptionsWithoutStdio } from 'node:child_process';

/**
 * Long enough for the slowest single command of the suite (a capture of the program-header cap, an 858 MB download),
 * short enough that a hung one fails its test well inside CI's limit instead of holding the suite.
 */
export const DEFAULT_CHILD_TIMEOUT_MS = 15 * 60_000;

export interface BoundedChild {
  child: ChildProcessWithoutNullStreams;
  /** Resolves when the child has exited and its pipes are closed; `timedOut` when it was killed for its time. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; timedOut: boolean }>;
}

/**
 * Spawns `file args` as the leader of a new process group. When `timeoutMs` passes, SIGKILL goes to the whole group:
 * a grandchild (a shell pipeline's members, apt's download methods) would otherwise keep the pipes open, and Node waits
 * for them before 'close'.
 */
export function spawnBounded(file: string, args: readonly string[], options: SpawnOptionsWithoutStdio & { timeoutMs?: number } = {}): BoundedChild {
  const { timeoutMs = DEFAULT_CHILD_TIMEOUT_MS, ...spawnOptions } = options;
  const child = spawn(file, args, { ...spawnOptions, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  let timedOut = false;
  const killGroup = () => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // The group is gone already.
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup();
  }, timeoutMs);
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; timedOut: boolean }>((resolve, reject) => {
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, timedOut });
    });
  });
  return { child, done };
}

/** What a child printed, as the line a failed assertion shows, when it was killed for its time. */
export function timeoutNote(timedOut: boolean, timeoutMs = DEFAULT_CHILD_TIMEOUT_MS): string {
  return timedOut ? `\n[test helper: killed with its process group after ${timeoutMs / 1000} s]\n` : '';
}

/** Runs `file args` to the end like execFile, within `timeoutMs`; rejects with its stderr when it fails or is killed. */
export async function runBounded(file: string, args: readonly string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<{ stdout: string; stderr: string }> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CHILD_TIMEOUT_MS;
  const { child, done } = spawnBounded(file, args, { cwd: options.cwd, timeoutMs });
  child.stdin.end();
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  const { code, signal, timedOut } = await done;
  if (code !== 0) throw new Error(`${file} ${args.join(' ')} ${timedOut ? `took over ${timeoutMs / 1000} s` : `failed (${code ?? signal})`}: ${stderr.trim().split('\n').slice(-5).join(' | ')}`);
  return { stdout, stderr };
}

/** Kills `child` (one process, no pipeline behind it) if it has not closed within `timeoutMs`. */
export function killAfter(child: ChildProcessWithoutNullStreams, timeoutMs = DEFAULT_CHILD_TIMEOUT_MS): void {
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  child.once('close', () => clearTimeout(timer));
}
