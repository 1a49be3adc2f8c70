// One group per input: checks free disk, makes the input, and lists the scenarios that run on it.

import { spawnSync } from 'node:child_process';
import { rm, statfs } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { HelperScripts } from './helper-scripts.js';
import { formatSize, GiB, type BenchOptions } from './options.js';
import { cachedFixture, FIXTURE_SIZE, loadBytes, unpackFixtureInto } from './real-fixture.js';
import type { InputInfo } from './report.js';
import { copyBaselines, faultScenario, fullScenarios, makedumpfileBaseline, filterScenarios, readerScenarios, slimScenarios, slowSinkScenario, type Scenario, type ScenarioContext } from './scenarios.js';
import { writeBenchInput, writeFaultsFile, type BenchInput } from './synthetic-inputs.js';
import { tcpScenario } from './tcp-scenario.js';
import { kdumpScenarios } from './kdump-scenarios.js';
import { startupScenarios } from './startup-scenarios.js';

export interface Group {
  input: InputInfo;
  scenarios: Scenario[];
  /** Read once before timing, so that cached inputs are cached for the first run too. */
  warmUp: string | undefined;
  dispose(): Promise<void>;
}

export interface Environment {
  options: BenchOptions;
  cli: string;
  helpers: HelperScripts;
  scratchDir: string;
  /** Why the TCP scenario cannot run, if it cannot. */
  receiverMissing: string | undefined;
  makedumpfileMissing: string | undefined;
}

export type Prepared = { group: Group } | { skipped: string };

const DISK_MARGIN = GiB;

async function freeBytes(dir: string): Promise<number> {
  const fs = await statfs(dir);
  return fs.bavail * fs.bsize;
}

/** The most disk any one group holds at a time: inputs are deleted once their group is done. */
export async function diskPlan(env: Environment): Promise<string> {
  const fixtureNeed = (await cachedFixture()) ? FIXTURE_SIZE : 2 * FIXTURE_SIZE;
  const need = Math.max(fixtureNeed, ...env.options.denseSizes.map((s) => 2 * s)) + DISK_MARGIN;
  const free = await freeBytes(env.scratchDir);
  const verdict = free >= need ? 'enough' : 'not enough: the largest inputs will be skipped';
  return `free disk in ${env.scratchDir}: ${formatSize(free)}; the largest input with its output and 1 GiB spare needs ${formatSize(need)}: ${verdict}`;
}

async function diskShortfall(env: Environment, needed: number): Promise<string | undefined> {
  const free = await freeBytes(env.scratchDir);
  if (free >= needed + DISK_MARGIN) return undefined;
  return `needs ${formatSize(needed + DISK_MARGIN)} free in ${env.scratchDir} (input, one output, 1 GiB spare), has ${formatSize(free)}`;
}

/** An input and its output must both fit in half the RAM to stay in the page cache between runs. */
function diskBound(bytes: number): boolean {
  return 2 * bytes > os.totalmem() / 2;
}

function context(env: Environment, inputPath: string, inputBytes: number, dataBytes: number): ScenarioContext {
  return { cli: env.cli, helpers: env.helpers, scratchDir: env.scratchDir, inputPath, inputBytes, dataBytes };
}

// Written data must reach the disk before timing starts, else its writeback competes with the runs.
function syncDisk(env: Environment): void {
  spawnSync('sync', ['-f', env.scratchDir]);
}

export async function prepareFixtureGroup(env: Environment): Promise<Prepared> {
  let fixture = await cachedFixture();
  const shortfall = await diskShortfall(env, fixture ? FIXTURE_SIZE : 2 * FIXTURE_SIZE);
  if (shortfall) return { skipped: `real fixture: ${shortfall}` };
  const unpackedHere = fixture === undefined;
  fixture ??= await unpackFixtureInto(path.join(env.scratchDir, 'fixture'));
  syncDisk(env);
  const ctx = context(env, fixture, FIXTURE_SIZE, await loadBytes(fixture));
  const baselines = copyBaselines(ctx).filter((s) => s.id.endsWith('devnull') || s.id.endsWith('file'));
  const ours = [...fullScenarios(ctx).filter((s) => s.id !== 'full-pipe'), ...readerScenarios(ctx)];
  if (env.makedumpfileMissing === undefined) {
    baselines.push(makedumpfileBaseline(ctx));
    ours.find((s) => s.id === 'full-file')?.comparedWith.unshift('makedumpfile');
    for (const s of filterScenarios(ctx)) (s.tool === 'baseline' ? baselines : ours).push(s);
  }
  return {
    group: {
      input: { label: `real fixture, ${Math.round(FIXTURE_SIZE / 1e6)} MB`, bytes: FIXTURE_SIZE, kind: 'fixture', diskBound: false },
      scenarios: [...(env.options.kdumpOnly ? [] : [...baselines, ...ours, ...startupScenarios(ctx)]), ...kdumpScenarios(ctx, env.makedumpfileMissing === undefined)],
      warmUp: fixture,
      dispose: async () => {
        if (unpackedHere) await rm(path.dirname(fixture), { recursive: true, force: true });
      },
    },
  };
}

export async function prepareDenseGroup(env: Environment, bytes: number, isSmallest: boolean): Promise<Prepared> {
  const label = formatSize(bytes);
  const shortfall = await diskShortfall(env, 2 * bytes);
  if (shortfall) return { skipped: `${label} input: ${shortfall}` };
  const file = path.join(env.scratchDir, `synthetic-${bytes}.vmcore`);
  const faultsFile = `${file}.faults`;
  const removeInput = () => Promise.all([rm(file, { force: true }), rm(faultsFile, { force: true })]).then(() => undefined);
  process.stderr.write(`bench: writing the ${label} input ...\n`);
  let input: BenchInput;
  let faultCount: number;
  try {
    input = await writeBenchInput(file, bytes, false);
    faultCount = await writeFaultsFile(faultsFile, input, env.options.faultCount);
  } catch (err) {
    await removeInput();
    return { skipped: `${label} input: could not be written (${(err as Error).message})` };
  }
  syncDisk(env);
  const ctx = context(env, file, bytes, input.segments.reduce((n, s) => n + s.size, 0));
  const scenarios = [...copyBaselines(ctx), ...fullScenarios(ctx), ...readerScenarios(ctx), faultScenario(ctx, faultsFile, faultCount, env.options.faultCount), ...slimScenarios(ctx)];
  if (env.receiverMissing === undefined) scenarios.push(tcpScenario(ctx));
  // 20 MB/s takes 54 s a GiB: one input, the smallest, shows whether memory stays flat under backpressure.
  if (isSmallest) scenarios.push(slowSinkScenario(ctx, env.options.slowSinkBytesPerSecond));
  const cached = !diskBound(bytes);
  return {
    group: {
      input: { label, bytes, kind: 'dense', diskBound: !cached },
      scenarios,
      warmUp: cached ? file : undefined,
      dispose: removeInput,
    },
  };
}

export async function prepareSparseGroup(env: Environment, bytes: number): Promise<Prepared> {
  const label = `${formatSize(bytes)} sparse`;
  const shortfall = await diskShortfall(env, 0);
  if (shortfall) return { skipped: `${label} input: ${shortfall}` };
  const file = path.join(env.scratchDir, `sparse-${bytes}.vmcore`);
  try {
    await writeBenchInput(file, bytes, true);
  } catch (err) {
    await rm(file, { force: true });
    return { skipped: `${label} input: the file system refused it (${(err as Error).message})` };
  }
  const ctx = context(env, file, bytes, 0);
  return {
    group: {
      input: { label, bytes, kind: 'sparse', diskBound: false },
      scenarios: slimScenarios(ctx),
      warmUp: undefined,
      dispose: () => rm(file, { force: true }),
    },
  };
}
