// The bundled CLI (dist/bin/) as a child process: it runs on its own, and --version and --help load no command's code.

import test from 'ava';
import path from 'node:path';
import { readFile, writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { CLI, runCli } from './helpers/cli.js';
import { repoRoot } from './helpers/fixture.js';
import { makeSyntheticVmcore } from './helpers/synthetic-vmcore.js';
import { tempDir } from './helpers/tmp.js';

interface Metafile {
  outputs: Record<string, { inputs: Record<string, unknown> }>;
}

// A module hook, in its own thread, appends every file URL that Node loads: the trace of what a command really loaded.
const TRACE_HOOKS = `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  if (url.startsWith('file:')) appendFileSync(process.env.SLIMCORE_TEST_TRACE, url + '\\n');
  return next(url, context);
}`;
const TRACE_PRELOAD = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(TRACE_HOOKS)}`)});`;

/** Runs the bundle with the trace on; returns the run and the source files (per the build's metafile) of what loaded. */
async function tracedRun(t: import('ava').ExecutionContext, args: string[]) {
  const dir = await tempDir(t, 'bundle-trace');
  const trace = path.join(dir, 'trace');
  await writeFile(trace, '');
  const run = await runCli(args, { nodeArgs: [`--import=data:text/javascript,${encodeURIComponent(TRACE_PRELOAD)}`], env: { SLIMCORE_TEST_TRACE: trace } });
  const meta = JSON.parse(await readFile(path.join(repoRoot, 'dist', 'bin-meta.json'), 'utf8')) as Metafile;
  const loadedFiles = (await readFile(trace, 'utf8')).split('\n').filter(Boolean);
  const sources = new Set<string>();
  for (const [output, { inputs }] of Object.entries(meta.outputs)) {
    if (loadedFiles.includes(pathToFileURL(path.join(repoRoot, output)).href)) for (const input of Object.keys(inputs)) sources.add(input);
  }
  return { run, loadedFiles, sources: [...sources] };
}

const COMMAND_CODE = ['src/pipeline/capture.ts', 'src/inspect/inspect.ts', 'src/net/receiver.ts', 'src/pipeline/kernel-log-source.ts', 'src/sinks/open-sink.ts'];

test('--version prints the package version and loads only the entry and the version module', async (t) => {
  const pkg = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> };
  t.is(path.join(repoRoot, pkg.bin['slim-core']), CLI, 'package.json bin names the bundle');
  const { run, loadedFiles, sources } = await tracedRun(t, ['--version']);
  t.is(run.code, 0, run.stderr);
  t.is(run.stdout.toString(), `${pkg.version}\n`);
  t.deepEqual(sources.sort(), ['src/cli/main.ts', 'src/version.ts']);
  t.deepEqual(loadedFiles.filter((f) => f.includes('/node_modules/')), [], 'nothing from node_modules, not even yargs');
});

test('--help lists the commands and options from yargs without loading any command code', async (t) => {
  const { run, sources } = await tracedRun(t, ['--help']);
  t.is(run.code, 0, run.stderr);
  const help = run.stdout.toString();
  for (const expected of ['slim-core inspect <file>', 'slim-core dmesg <file>', 'slim-core receive', '--mode', '--format', 'Exit codes:']) t.true(help.includes(expected), expected);
  t.true(sources.includes('src/cli/commands.ts'));
  t.true(sources.some((s) => s.startsWith('node_modules/yargs/')), 'yargs is inside the bundle');
  for (const code of COMMAND_CODE) t.false(sources.includes(code), `${code} is not loaded`);
});

test('string-width is replaced by text-width in the bundle: no Intl.Segmenter is built at start-up', async (t) => {
  const meta = JSON.parse(await readFile(path.join(repoRoot, 'dist', 'bin-meta.json'), 'utf8')) as Metafile;
  const inputs = Object.values(meta.outputs).flatMap(({ inputs }) => Object.keys(inputs));
  t.true(inputs.includes('src/cli/text-width.ts'));
  t.deepEqual(inputs.filter((input) => input.includes('/string-width/')), []);
  for (const output of Object.keys(meta.outputs).filter((name) => name.endsWith('.js'))) {
    t.false((await readFile(path.join(repoRoot, output), 'utf8')).includes('Intl.Segmenter'), output);
  }
});

test('a capture by the bundle writes a slim dump, loading the pipeline only then', async (t) => {
  const dir = await tempDir(t, 'bundle-capture');
  const input = path.join(dir, 'in.elf');
  const output = path.join(dir, 'out.elf');
  await writeFile(input, makeSyntheticVmcore({ segments: [{ paddr: 0x100000n, size: 1 << 20 }] }).bytes);
  const { run, sources } = await tracedRun(t, [input, '--mode', 'slim', '-o', output, '--no-sync', '--json']);
  t.is(run.code, 0, run.stderr);
  const summary = JSON.parse(run.stderr.trim().split('\n').pop()!) as { result: string; mode: string; bytes: number };
  t.like(summary, { result: 'ok', mode: 'slim' });
  const written = await readFile(output);
  t.is(written.length, summary.bytes);
  t.deepEqual([...written.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], 'an ELF file');
  t.true(sources.includes('src/pipeline/capture.ts'), 'the trace sees code loaded on demand');
  t.false(sources.includes('src/net/receiver.ts'), 'a file capture does not load the receiver');
});
