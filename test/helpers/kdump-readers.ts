// Test helper: what readers nobody here wrote (libkdumpfile, crash, makedumpfile) see in a kdump file, and the input's own pages.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { openFileMemory } from '../../src/klog/physical-memory.js';
import { repoRoot } from './fixture.js';

const run = promisify(execFile);
const SCRIPT = path.join(repoRoot, 'test', 'helpers', 'kdump_read.py');

export interface LibkdumpfileView {
  format: string;
  page_size: number;
  osrelease: string;
  crashtime?: string;
  /** pfn (hex) to the page's SHA-256, or "nodata: ..." for an excluded page. */
  pages: Record<string, string>;
}

export async function libkdumpfileRead(file: string, pfns: readonly number[]): Promise<LibkdumpfileView> {
  const { stdout } = await run('/usr/bin/python3', [SCRIPT, file, ...pfns.map((p) => `0x${p.toString(16)}`)], { maxBuffer: 16 << 20 });
  return JSON.parse(stdout) as LibkdumpfileView;
}

/** SHA-256 of each page of an ELF vmcore, read through its PT_LOADs. */
export async function elfPageHashes(file: string, pfns: readonly number[], pageSize = 4096): Promise<Record<string, string>> {
  const opened = await openFileMemory(file);
  try {
    const out: Record<string, string> = {};
    for (const pfn of pfns) {
      const bytes = opened.memory.read(BigInt(pfn) * BigInt(pageSize), pageSize);
      out[`0x${pfn.toString(16)}`] = bytes ? createHash('sha256').update(bytes).digest('hex') : 'missing';
    }
    return out;
  } finally {
    await opened.close();
  }
}

/** crash's answers to `commands`, with the lines that name the dump file dropped, so two dumps compare equal. */
export async function crashSays(vmlinux: string, dump: string, commands: readonly string[]): Promise<string> {
  const script = [...commands, 'exit'].join('\n') + '\n';
  const { stdout } = await run('bash', ['-c', 'printf "%s" "$3" | crash -s "$1" "$2"', 'bash', vmlinux, dump, script], { maxBuffer: 64 << 20, timeout: 300_000 });
  return stdout
    .split('\n')
    .filter((line) => !/DUMPFILE:/.test(line))
    .join('\n');
}

/** Runs makedumpfile (Debian's 1.7.2) with `args`; its chatter goes to a string, not the test's output. */
export async function makedumpfile(args: readonly string[]): Promise<string> {
  const { stdout, stderr } = await run('makedumpfile', [...args], { maxBuffer: 16 << 20, timeout: 300_000 });
  return stdout + stderr;
}

/** Every `step`-th member of a sorted list, and its last one. */
export function sample(sorted: readonly number[], step: number): number[] {
  const out = sorted.filter((_, i) => i % step === 0);
  if (sorted.length > 0 && out[out.length - 1] !== sorted[sorted.length - 1]) out.push(sorted[sorted.length - 1]);
  return out;
}
