// Runs one timed shell pipeline in fresh processes: wall time from spawn to the last process's exit, peak RSS via /usr/bin/time -v.

import { spawn } from 'node:child_process';
import { readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';

export const TIME_BIN = '/usr/bin/time';

/** What a scenario does around a timed run, for servers that must be up before it starts. */
export interface RunHooks {
  /** Awaited inside the timed span, after the pipeline exits: whatever else the user waits for. Returns what went wrong. */
  waitDone(): Promise<string | undefined>;
  /** Outside the timed span. Returns the peak RSS of processes it ran, in KiB, if known. */
  teardown(): Promise<number | undefined>;
}

export interface RunSpec {
  /**
   * Builds a bash pipeline. `time(cmd)` wraps the command whose peak RSS is reported; use it once or more.
   */
  script: (time: (cmd: string) => string) => string;
  /** Removed before and after every run, for every tool alike: overwriting costs more than creating. */
  outputs: string[];
  /** Exit statuses allowed per pipeline stage; default: only 0. */
  allowedStatus?: (stage: number, code: number) => boolean;
  /** Checks the captured stderr; returns what is wrong, if anything. */
  check?: (stderr: string) => string | undefined;
  prepare?: () => Promise<RunHooks>;
  /** outputs[0] must hold at least this many bytes once the run is over. */
  minOutputBytes?: number;
}

export interface RunOutcome {
  seconds: number;
  peakRssKiB: number;
  /** Size of outputs[0] after the run, when it is a file. */
  outputBytes?: number;
  error?: string;
  stderrTail: string;
}

const STDERR_KEEP = 16 * 1024;

/** Process groups of the pipelines and servers running now, to be killed if the bench is interrupted. */
export const runningGroups = new Set<number>();

export const shellQuote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;

function parseMaxRss(text: string): number | undefined {
  const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(text);
  return m ? Number(m[1]) : undefined;
}

async function removeAll(paths: string[]): Promise<void> {
  await Promise.all(paths.map((p) => rm(p, { force: true, recursive: true })));
}

async function checkOutputSize(spec: RunSpec): Promise<string | undefined> {
  if (spec.minOutputBytes === undefined) return undefined;
  const size = (await stat(spec.outputs[0]).catch(() => undefined))?.size;
  if (size === undefined) return `no output at ${spec.outputs[0]}`;
  return size < spec.minOutputBytes ? `output holds ${size} bytes, expected at least ${spec.minOutputBytes}` : undefined;
}

interface ShellExit {
  code: number | null;
  stderr: string;
  timedOut: boolean;
}

function runShell(script: string, timeoutSeconds: number): { exited: Promise<ShellExit> } {
  // Own process group, so that a timed-out pipeline can be killed whole by its id.
  const child = spawn('bash', ['-c', script], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  if (child.pid !== undefined) runningGroups.add(child.pid);
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => {
    stderr = (stderr + b.toString('latin1')).slice(-STDERR_KEEP);
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  }, timeoutSeconds * 1000);
  const exited = new Promise<ShellExit>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (child.pid !== undefined) runningGroups.delete(child.pid);
      resolve({ code, stderr, timedOut });
    });
  });
  return { exited };
}

export async function measureRun(spec: RunSpec, scratchDir: string, runId: string, timeoutSeconds: number): Promise<RunOutcome> {
  const rssFiles: string[] = [];
  const time = (cmd: string): string => {
    const file = path.join(scratchDir, `${runId}.time${rssFiles.length}`);
    rssFiles.push(file);
    return `${TIME_BIN} -v -o ${shellQuote(file)} ${cmd}`;
  };
  const statusFile = path.join(scratchDir, `${runId}.status`);
  await removeAll([...spec.outputs, statusFile]);
  // Before the script is built: a server started here decides the port the script uses.
  const hooks = await spec.prepare?.();
  let outcome: RunOutcome | undefined;
  try {
    const script = `${spec.script(time)}\necho "\${PIPESTATUS[@]}" > ${shellQuote(statusFile)}`;
    await removeAll(rssFiles);
    const started = process.hrtime.bigint();
    const exit = await runShell(script, timeoutSeconds).exited;
    let elapsed = process.hrtime.bigint() - started;
    const statuses = (await readFile(statusFile, 'utf8').catch(() => '')).trim().split(/\s+/).filter(Boolean).map(Number);
    const allowed = spec.allowedStatus ?? ((_stage: number, code: number) => code === 0);
    const bad = statuses.findIndex((code, stage) => !allowed(stage, code));
    let error: string | undefined;
    if (exit.timedOut) error = `killed after ${timeoutSeconds} s`;
    else if (statuses.length === 0) error = `shell exited with ${exit.code} before the pipeline finished`;
    else if (bad >= 0) error = `pipeline stage ${bad + 1} exited with status ${statuses[bad]} (all stages: ${statuses.join(' | ')})`;
    else if (hooks) {
      // Timed apart from the status read above, which the user would not wait for.
      const waitStarted = process.hrtime.bigint();
      error = await hooks.waitDone();
      elapsed += process.hrtime.bigint() - waitStarted;
    }
    outcome = { seconds: Number(elapsed) / 1e9, peakRssKiB: 0, stderrTail: exit.stderr };
    outcome.error = error ?? spec.check?.(exit.stderr) ?? (await checkOutputSize(spec));
    if (spec.outputs[0]) outcome.outputBytes = (await stat(spec.outputs[0]).catch(() => undefined))?.size;
    for (const file of rssFiles) {
      const rss = parseMaxRss(await readFile(file, 'utf8').catch(() => ''));
      if (rss === undefined) outcome.error ??= `no RSS figure from ${TIME_BIN}`;
      else outcome.peakRssKiB = Math.max(outcome.peakRssKiB, rss);
    }
  } finally {
    const serverRss = await hooks?.teardown();
    await removeAll([...spec.outputs, ...rssFiles, statusFile]);
    if (outcome && serverRss !== undefined) outcome.peakRssKiB = Math.max(outcome.peakRssKiB, serverRss);
  }
  return outcome;
}
