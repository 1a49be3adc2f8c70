// Per-test temporary directories that are removed when the test ends.

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ExecutionContext } from 'ava';

export async function tempDir(t: ExecutionContext, prefix = 'test'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `slimcore-${prefix}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
