// `npm run bench`: times slim-core against cat, a plain Node loop and makedumpfile, prints a markdown table and writes JSON.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { prepareHelperScripts } from './helper-scripts.js';
import { diskPlan, prepareDenseGroup, prepareFixtureGroup, prepareSparseGroup, type Environment, type Group, type Prepared } from './groups.js';
import { measureRun, runningGroups, TIME_BIN, type RunOutcome } from './measure.js';
import { formatSize, parseOptions, repoRoot, type BenchOptions } from './options.js';
import { addRatios, addSizeRatios, computeTargets, markdownTable, summarize, targetsTable, type ScenarioResult } from './report.js';
import { receiverMissingReason } from './tcp-scenario.js';
import { startupTargets } from './startup-scenarios.js';

const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

function machine(): Record<string, string | number> {
  const makedumpfile = spawnSync('makedumpfile', ['-v'], { encoding: 'utf8' }).stdout?.split('\n')[0] ?? '';
  return {
    cores: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    node: process.version,
    makedumpfile: /version ([\d.]+)/.exec(makedumpfile)?.[1] ?? 'none',
  };
}

function describeMachine(m: Record<string, string | number>): string {
  return `${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB RAM, Linux ${m.kernel}, Node ${m.node}, makedumpfile ${m.makedumpfile}`;
}

async function runGroup(group: Group, options: BenchOptions, scratchDir: string): Promise<ScenarioResult[]> {
  if (group.warmUp) spawnSync('cat', [group.warmUp], { stdio: ['ignore', 'ignore', 'inherit'] });
  const outcomes = new Map<string, RunOutcome[]>(group.scenarios.map((s) => [s.id, []]));
  // Round-robin, starting each round elsewhere: a noisy minute, or a slow first run after a pause, lands on a
  // different scenario each time and the median drops it.
  const count = group.scenarios.length;
  for (let run = 1; run <= options.runs; run++) {
    const start = Math.floor(((run - 1) * count) / options.runs);
    for (const s of [...group.scenarios.slice(start), ...group.scenarios.slice(0, start)]) {
      const done = outcomes.get(s.id) ?? [];
      if (done.some((o) => o.error)) continue;
      const outcome = await measureRun(s.spec, scratchDir, `${s.id}-${run}`, options.runTimeoutSeconds).catch(
        (err: unknown): RunOutcome => ({ seconds: 0, peakRssKiB: 0, error: (err as Error).message, stderrTail: '' }),
      );
      done.push(outcome);
      const figures = outcome.error ? `FAILED: ${outcome.error}` : `${outcome.seconds.toFixed(3)} s, ${(outcome.peakRssKiB / 1024).toFixed(1)} MiB`;
      log(`[${group.input.label}] run ${run}/${options.runs} ${s.id}: ${figures}`);
      if (outcome.error && outcome.stderrTail) process.stderr.write(outcome.stderrTail.split('\n').slice(-8).join('\n') + '\n');
      // Outside the timed span: no writeback left over from this run slows the next one.
      spawnSync('sync', ['-f', scratchDir]);
    }
  }
  const results = group.scenarios.map((s) => summarize(group.input, s, outcomes.get(s.id) ?? []));
  addRatios(results, new Map(group.scenarios.map((s) => [s.id, s.comparedWith])));
  addSizeRatios(results, new Map(group.scenarios.map((s) => [s.id, s.sizeComparedWith])));
  return results;
}

function missingTools(): string[] {
  const missing: string[] = [];
  if (!existsSync(TIME_BIN)) missing.push(`${TIME_BIN} (apt-get install time)`);
  if (!existsSync(path.join(repoRoot, 'dist/bin/slim-core.js'))) missing.push('dist/bin/slim-core.js (npm run build)');
  return missing;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const missing = missingTools();
  if (missing.length > 0) {
    log(`missing: ${missing.join(', ')}`);
    process.exit(2);
  }
  await mkdir(options.workDir, { recursive: true });
  const scratchDir = await mkdtemp(path.join(options.workDir, 'slimcore-bench-'));
  const cleanUp = () => rm(scratchDir, { recursive: true, force: true });
  process.on('SIGINT', () => {
    for (const pgid of runningGroups) process.kill(-pgid, 'SIGKILL');
    void cleanUp().finally(() => process.exit(130));
  });
  const started = new Date();
  const cli = path.join(repoRoot, 'dist/bin/slim-core.js');
  const hasMakedumpfile = spawnSync('makedumpfile', ['-v']).status === 0;
  const env: Environment = {
    options, cli, scratchDir,
    helpers: await prepareHelperScripts(path.join(repoRoot, 'bench'), scratchDir),
    receiverMissing: receiverMissingReason(cli),
    makedumpfileMissing: hasMakedumpfile ? undefined : 'makedumpfile is not installed (apt-get install makedumpfile)',
  };
  log(await diskPlan(env));
  const skipped: string[] = [];
  if (env.receiverMissing) skipped.push(`TCP scenario: ${env.receiverMissing}`);
  if (env.makedumpfileMissing) skipped.push(`makedumpfile baseline: ${env.makedumpfileMissing}`);
  log(`${options.quick ? 'quick run' : 'full run'} in ${scratchDir}: inputs ${options.denseSizes.map(formatSize).join(', ')}, sparse ${options.sparseSizes.map(formatSize).join(', ')}, ${options.runs} run(s) each`);
  const results: ScenarioResult[] = [];
  const smallest = Math.min(...options.denseSizes);
  const preparers: Array<() => Promise<Prepared>> = [
    ...(options.fixture ? [() => prepareFixtureGroup(env)] : []),
    ...(options.kdumpOnly ? [] : options.denseSizes.map((size) => () => prepareDenseGroup(env, size, size === smallest))),
    ...(options.kdumpOnly ? [] : options.sparseSizes.map((size) => () => prepareSparseGroup(env, size))),
  ];
  try {
    for (const prepare of preparers) {
      const prepared = await prepare();
      if ('skipped' in prepared) {
        log(`skipped ${prepared.skipped}`);
        skipped.push(prepared.skipped);
        continue;
      }
      if (options.only) prepared.group.scenarios = prepared.group.scenarios.filter((s) => options.only!.includes(s.id));
      try {
        if (prepared.group.scenarios.length > 0) results.push(...(await runGroup(prepared.group, options, scratchDir)));
      } finally {
        await prepared.group.dispose();
      }
    }
  } finally {
    await cleanUp();
  }
  const targets = [...computeTargets(results), ...startupTargets(results)];
  const title = `slim-core bench, ${started.toISOString()}${options.quick ? ' (QUICK RUN: small inputs, 1 run; not the issue\'s figures)' : ''}`;
  const notes = [
    'Wall time runs from spawning the pipeline to its last process exiting (node start-up included); outputs are removed before every run.',
    'slim-core runs with --no-sync on file outputs, as cat, the Node loop and makedumpfile do not fsync either. GB/s = input bytes / median wall time (none for slim runs, which stop after the notes).',
    '"Throughput vs baselines" is the baseline\'s median time over this scenario\'s, on the same input in the same bench run: above 1× is faster than the baseline.',
    'Peak RSS is /usr/bin/time -v\'s maximum resident set size of the timed process (slim-core or the baseline tool), the largest over the runs.',
  ];
  const markdown = [
    `## ${title}`, '', `Machine: ${describeMachine(machine())}.`, '', markdownTable(results), '', '### Targets', '', targetsTable(targets), '',
    '### Skipped', '', ...(skipped.length ? skipped.map((s) => `- ${s}`) : ['- nothing']), '', '### How these were measured', '', ...notes.map((n) => `- ${n}`),
  ].join('\n');
  process.stdout.write(`${markdown}\n`);
  await mkdir(options.outDir, { recursive: true });
  const jsonFile = path.join(options.outDir, `bench-${started.toISOString().replaceAll(':', '-')}.json`);
  await writeFile(jsonFile, `${JSON.stringify({ date: started.toISOString(), quick: options.quick, machine: machine(), options, results, targets, skipped }, null, 2)}\n`);
  log(`JSON written to ${jsonFile}`);
}

await main();
