// Runs ELF readers nobody here wrote (readelf, eu-readelf, pyelftools) on a file and parses what they report.

import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';

export interface ReaderSegment { type: string; offset: bigint; vaddr: bigint; paddr: bigint; filesz: bigint; memsz: bigint }

export interface ReadelfResult {
  stdout: string;
  stderr: string;
  /** Every line of stdout and stderr that mentions warning, error or corrupt, plus a non-zero exit status. */
  warnings: string[];
  header: { class: string; data: string; type: string; machine: string; phnum: number };
  segments: ReaderSegment[];
  /** owner '' for a note with n_namesz 0 (readelf prints "(NONE)"); type is readelf's description. */
  notes: { owner: string; size: number; type: string }[];
}

export interface EuReadelfResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  /** A name such as 'PRSTATUS', or the number eu-readelf prints for a type it does not know. */
  notes: { owner: string; size: number; type: number | string }[];
}

export interface EuReadelfFullResult extends EuReadelfResult { phnum: number; shnum: number; segments: ReaderSegment[] }

export interface PyElfResult {
  file: string;
  header: { class: string; data: string; type: string; machine: string; phoff: string; e_phnum: string; phnum: string; shoff: string; e_shnum: string } | null;
  segments: { type: string; p_offset: string; p_vaddr: string; p_paddr: string; p_filesz: string; p_memsz: string; p_flags: string; p_align: string }[];
  /** n_type is numeric (pyelftools' names mapped back); desc is hex, cut at 4 KiB. */
  notes: { n_name: string; n_type: number | null; n_type_name: string; n_descsz: number; n_offset: number; desc: string }[];
  /** Notes with n_namesz 0, which pyelftools 0.29 cannot parse itself; pyelf_dump.py steps over them (see there). */
  emptyNameNotes: number;
  exception?: string;
}

const PYTHON = '/usr/bin/python3';
const PYELF_DUMP = path.join(path.dirname(fileURLToPath(import.meta.url)), 'pyelf_dump.py');
// Listings of > 65535 segments run to tens of MiB.
const MAX_OUTPUT = 1 << 30;

// Core note types by the names readelf (with "NT_") and eu-readelf (without) print for them.
const CORE_NOTE_TYPES: Record<string, number> = {
  PRSTATUS: 1, FPREGSET: 2, PRPSINFO: 3, TASKSTRUCT: 4, AUXV: 6, X86_XSTATE: 0x202, PRXFPREG: 0x46e62b7f, SIGINFO: 0x53494749, FILE: 0x46494c45,
};

interface RunResult { stdout: string; stderr: string; exitCode: number }

function run(cmd: string, args: string[]): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: MAX_OUTPUT, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } }, (err, stdout, stderr) => {
      const code = (err as NodeJS.ErrnoException | null)?.code;
      if (code === 'ENOENT') reject(new Error(`${cmd} is not installed: run scripts/apt-deps.sh`));
      else if (err && typeof code !== 'number') reject(err);
      else resolve({ stdout, stderr, exitCode: typeof code === 'number' ? code : 0 });
    });
  });
}

/** Note type as a number from readelf's description or eu-readelf's type column; undefined when the name is not in the table. */
export function noteTypeNumber(type: number | string): number | undefined {
  if (typeof type === 'number') return type;
  const unknown = /Unknown note type: \(0x([0-9a-f]+)\)/i.exec(type);
  if (unknown) return parseInt(unknown[1], 16);
  const name = type.split(/\s/)[0].replace(/^NT_/, '');
  return CORE_NOTE_TYPES[name];
}

function headerField(stdout: string, label: string): string {
  const m = new RegExp(`^\\s*${label}:\\s*(.*)$`, 'm').exec(stdout);
  return m ? m[1].trim() : '';
}

// "65535 (70000)" or "65535 (70000 in [0].sh_info)" under extended numbering.
function headerCount(stdout: string, label: string): number {
  const m = /^(\d+)(?:\s*\((\d+)[^)]*\))?/.exec(headerField(stdout, label));
  return m ? Number(m[2] ?? m[1]) : NaN;
}

function parseSegments(stdout: string): ReaderSegment[] {
  const start = stdout.indexOf('\nProgram Headers:\n');
  if (start < 0) return [];
  const segments: ReaderSegment[] = [];
  for (const line of stdout.slice(start + 1).split('\n').slice(2)) {
    const m = /^\s+(\S+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)/i.exec(line);
    if (!m) break;
    const [offset, vaddr, paddr, filesz, memsz] = m.slice(2).map((hex) => BigInt(`0x${hex}`));
    segments.push({ type: m[1], offset, vaddr, paddr, filesz, memsz });
  }
  return segments;
}

export async function readelf(file: string): Promise<ReadelfResult> {
  const { stdout, stderr, exitCode } = await run('readelf', ['-W', '-h', '-l', '-n', file]);
  const warnings = `${stdout}\n${stderr}`.split('\n').filter((l) => /warning|error|corrupt/i.test(l));
  if (exitCode !== 0) warnings.push(`readelf exited with status ${exitCode}`);
  const notes: ReadelfResult['notes'] = [];
  for (const m of stdout.matchAll(/^ {2}(\S.*?)\s+0x([0-9a-f]+)\t([^\t\n]*)/gm)) {
    if (m[1] === 'Owner') continue;
    notes.push({ owner: m[1] === '(NONE)' ? '' : m[1], size: parseInt(m[2], 16), type: m[3].trim() });
  }
  const header = {
    class: headerField(stdout, 'Class'),
    data: headerField(stdout, 'Data'),
    type: headerField(stdout, 'Type'),
    machine: headerField(stdout, 'Machine'),
    phnum: headerCount(stdout, 'Number of program headers'),
  };
  return { stdout, stderr, warnings, header, segments: parseSegments(stdout), notes };
}

// eu-readelf prints a note as printf("  %-13.*s  %9d  %s"); the lines that follow it are indented further.
function parseEuNotes(stdout: string): EuReadelfResult['notes'] {
  const notes: EuReadelfResult['notes'] = [];
  let inNotes = false;
  for (const line of stdout.split('\n')) {
    if (/^Note (segment|section)/.test(line)) inNotes = true;
    else if (/^\S/.test(line)) inNotes = false;
    if (!inNotes || /^ {2}Owner\s+Data size\s+Type$/.test(line)) continue;
    const named = /^ {2}(\S+)\s+(\d+) {2}(\S.*)$/.exec(line);
    const empty = /^ {17}([ \d]{9}) {2}(\S.*)$/.exec(line);
    const m = named ? [named[1], named[2], named[3]] : empty && /\d$/.test(empty[1]) ? ['', empty[1], empty[2]] : undefined;
    if (!m) continue;
    const unknown = /^<unknown>: (\d+)$/.exec(m[2]);
    notes.push({ owner: m[0], size: Number(m[1]), type: unknown ? Number(unknown[1]) : m[2] });
  }
  return notes;
}

/** eu-readelf -n. With section headers present (e_shnum != 0) it lists SHT_NOTE sections only, never the PT_NOTE. */
export async function euReadelfNotes(file: string): Promise<EuReadelfResult> {
  const { stdout, stderr, exitCode } = await run('eu-readelf', ['-n', file]);
  return { stdout, stderr, exitCode, notes: parseEuNotes(stdout) };
}

/** eu-readelf -h -l -n: the notes plus its own reading of the program header table. */
export async function euReadelf(file: string): Promise<EuReadelfFullResult> {
  const { stdout, stderr, exitCode } = await run('eu-readelf', ['-h', '-l', '-n', file]);
  return {
    stdout, stderr, exitCode, notes: parseEuNotes(stdout), segments: parseSegments(stdout),
    phnum: headerCount(stdout, 'Number of program headers entries'),
    shnum: headerCount(stdout, 'Number of section headers entries'),
  };
}

export async function pyelftools(file: string): Promise<PyElfResult> {
  const { stdout, stderr, exitCode } = await run(PYTHON, [PYELF_DUMP, file]);
  if (exitCode !== 0) throw new Error(`${PYELF_DUMP} failed (status ${exitCode}): ${stderr.trim()}`);
  return JSON.parse(stdout) as PyElfResult;
}

// Reports only the first differing element, so lists of > 65535 entries stay cheap to compare and to print.
function assertSameList<T>(t: ExecutionContext, actual: T[], expected: T[], what: string): void {
  t.is(actual.length, expected.length, `${what}: count`);
  const i = actual.findIndex((a, k) => k < expected.length && JSON.stringify(a, bigintJson) !== JSON.stringify(expected[k], bigintJson));
  if (i >= 0) t.deepEqual(actual[i], expected[i], `${what}[${i}]`);
}

const bigintJson = (_key: string, v: unknown): unknown => (typeof v === 'bigint' ? `${v}n` : v);

/** readelf gives no warning, pyelftools raises nothing, eu-readelf succeeds; all three agree on the segment table and the notes. */
export async function assertReadersAccept(t: ExecutionContext, file: string): Promise<void> {
  const [re, eu, py] = await Promise.all([readelf(file), euReadelf(file), pyelftools(file)]);
  t.deepEqual(re.warnings, [], `readelf on ${file}`);
  t.is(py.exception, undefined, `pyelftools on ${file}`);
  t.deepEqual({ exitCode: eu.exitCode, stderr: eu.stderr }, { exitCode: 0, stderr: '' }, `eu-readelf on ${file}`);
  t.is(re.header.phnum, Number(py.header?.phnum), 'readelf and pyelftools: number of program headers');
  t.is(eu.phnum, re.header.phnum, 'eu-readelf and readelf: number of program headers');

  const pySegments: ReaderSegment[] = py.segments.map((s) => ({
    type: s.type.replace(/^PT_/, ''), offset: BigInt(s.p_offset), vaddr: BigInt(s.p_vaddr), paddr: BigInt(s.p_paddr), filesz: BigInt(s.p_filesz), memsz: BigInt(s.p_memsz),
  }));
  assertSameList(t, re.segments, pySegments, 'segments, readelf vs pyelftools');
  assertSameList(t, eu.segments, pySegments, 'segments, eu-readelf vs pyelftools');
  // No reader above checks this, but crash warns that such a dump "may be truncated".
  const fileSize = BigInt((await stat(file)).size);
  const pastEnd = re.segments.flatMap((s, i) => (s.offset + s.filesz > fileSize ? [`phdr ${i} ends at ${s.offset + s.filesz}`] : []));
  t.deepEqual(pastEnd, [], `segments within the ${fileSize} bytes of ${file}`);

  const pyNotes = py.notes.map((n) => ({ owner: n.n_name, size: n.n_descsz, type: n.n_type ?? `unmapped name: ${n.n_type_name}` }));
  t.true(pyNotes.length > 0, `pyelftools finds notes in ${file}`);
  const reNotes = re.notes.map((n) => ({ owner: n.owner, size: n.size, type: noteTypeNumber(n.type) ?? `unmapped name: ${n.type}` }));
  assertSameList(t, reNotes, pyNotes, 'notes, readelf vs pyelftools');
  if (eu.shnum === 0) {
    const euNotes = eu.notes.map((n) => ({ owner: n.owner, size: n.size, type: noteTypeNumber(n.type) ?? `unmapped name: ${n.type}` }));
    assertSameList(t, euNotes, pyNotes, 'notes, eu-readelf vs pyelftools');
  } else {
    t.deepEqual(eu.notes, [], 'eu-readelf reads SHT_NOTE sections, not the PT_NOTE, once the file has section headers');
  }
}
