// Command-line options of `npm run bench`: the full set by default, `--quick` for development.

import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const GiB = 1024 ** 3;
export const MiB = 1024 ** 2;

export interface BenchOptions {
  quick: boolean;
  /** Only the kdump-format scenarios on the real fixture. */
  kdumpOnly: boolean;
  /** Inputs filled with data, for every scenario. */
  denseSizes: number[];
  /** Sparse inputs, for slim runs only. */
  sparseSizes: number[];
  runs: number;
  outDir: string;
  /** Where inputs and outputs go; a fresh directory under it is removed at the end. */
  workDir: string;
  faultCount: number;
  slowSinkBytesPerSecond: number;
  /** A run that takes longer is killed and reported as failed. */
  runTimeoutSeconds: number;
  /** Scenario ids to run (baselines included); undefined runs every scenario. */
  only?: string[];
  /** Run the real fixture's group (default true). */
  fixture: boolean;
}

const benchDir = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(benchDir, '..');

const USAGE = `usage: npm run bench -- [--quick] [--sizes 1,4,16] [--runs N] [--out DIR] [--work DIR]
  --quick      64 MiB input, sparse 64 GiB and 1 TiB slim inputs, 1 run (for development)
  --kdump-only only --format kdump against makedumpfile -c and -l, on the real fixture
  --sizes LIST sizes in GiB of the data-filled inputs (default 1,4,16; fractions allowed, e.g. 0.25)
  --runs N     timed runs of every scenario (default 3; --quick: 1)
  --out DIR    where the JSON goes (default bench/results)
  --work DIR   where inputs are generated (default: the system temp directory)
  --only IDS   run only these scenario ids, e.g. cat-devnull,full-mmap-devnull,full-read-devnull (groups left empty are skipped)
  --no-sparse  skip the sparse inputs; --no-fixture skips the real fixture`;

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function parseSizes(text: string): number[] {
  const sizes = text.split(',').map((s) => Number(s.trim()));
  if (sizes.length === 0 || sizes.some((s) => !Number.isFinite(s) || s <= 0)) fail(`--sizes ${text}: expected GiB numbers like 1,4,16`);
  // Whole pages, so that segments and faults stay page-aligned.
  return [...new Set(sizes.map((s) => Math.round((s * GiB) / 4096) * 4096))].sort((a, b) => a - b);
}

export function parseOptions(argv: string[]): BenchOptions {
  let quick = false;
  let kdumpOnly = false;
  let sizes: number[] | undefined;
  let runs: number | undefined;
  let outDir = path.join(benchDir, 'results');
  let workDir: string | undefined;
  let only: string[] | undefined;
  let sparse = true;
  let fixture = true;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => argv[++i] ?? fail(`${arg} needs a value`);
    if (arg === '--quick') quick = true;
    else if (arg === '--kdump-only') kdumpOnly = true;
    else if (arg === '--sizes') sizes = parseSizes(value());
    else if (arg === '--runs') {
      runs = Number(value());
      if (!Number.isInteger(runs) || runs < 1) fail('--runs needs a whole number ≥ 1');
    } else if (arg === '--out') outDir = path.resolve(value());
    else if (arg === '--work') workDir = path.resolve(value());
    else if (arg === '--only') only = value().split(',').map((id) => id.trim()).filter(Boolean);
    else if (arg === '--no-sparse') sparse = false;
    else if (arg === '--no-fixture') fixture = false;
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else fail(`unknown option ${arg}`);
  }
  return {
    quick,
    kdumpOnly,
    denseSizes: sizes ?? (quick ? [64 * MiB] : [1 * GiB, 4 * GiB, 16 * GiB]),
    sparseSizes: sparse ? [64 * GiB, 1024 * GiB] : [],
    runs: runs ?? (quick ? 1 : 3),
    outDir,
    workDir: workDir ?? (process.env.TMPDIR || '/tmp'),
    faultCount: 100_000,
    slowSinkBytesPerSecond: 20_000_000,
    runTimeoutSeconds: quick ? 120 : 3600,
    only,
    fixture,
  };
}

export function formatSize(bytes: number): string {
  if (bytes >= GiB && bytes % GiB === 0) return bytes >= 1024 * GiB ? `${bytes / (1024 * GiB)} TiB` : `${bytes / GiB} GiB`;
  if (bytes >= GiB) return `${(bytes / GiB).toFixed(2)} GiB`;
  return `${Math.round(bytes / MiB)} MiB`;
}
