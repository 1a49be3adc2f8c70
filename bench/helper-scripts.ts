// Turns the bench's helper programs into plain JavaScript before timing, so no TypeScript loader adds to their start-up.

import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import ts from 'typescript';

export interface HelperScripts {
  nodeCopyLoop: string;
  throttledReader: string;
}

async function transpile(source: string, target: string): Promise<string> {
  const { outputText } = ts.transpileModule(await readFile(source, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  await writeFile(target, outputText);
  return target;
}

export async function prepareHelperScripts(benchDir: string, scratchDir: string): Promise<HelperScripts> {
  return {
    nodeCopyLoop: await transpile(path.join(benchDir, 'node-copy-loop.ts'), path.join(scratchDir, 'node-copy-loop.mjs')),
    throttledReader: await transpile(path.join(benchDir, 'throttled-reader.ts'), path.join(scratchDir, 'throttled-reader.mjs')),
  };
}
