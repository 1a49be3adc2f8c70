// Gathers the user's fault sources (--fault arguments and --faults files) into one list.

import { readFile } from 'node:fs/promises';
import { IoError, UsageError } from '../errors.js';
import type { SourcedRecord } from '../pipeline/plan.js';
import { OmitReason } from '../notes/slimcore-notes.js';
import { parseFaultArg, parseFaultsFile } from './fault-input.js';
import { FaultList } from './fault-list.js';

/** A fault file is a list, not a dump: anything larger is a mistake. */
export const MAX_FAULTS_FILE = 64 << 20;

export interface UserFaultSources {
  userFaults: FaultList;
  extraRecords: SourcedRecord[];
  panicLine?: string;
}

export async function loadFaultSources(faultArgs: readonly string[], faultFiles: readonly string[]): Promise<UserFaultSources> {
  const userFaults = new FaultList();
  for (const f of faultArgs.map(parseFaultArg)) userFaults.add(f.paddr, f.length, OmitReason.USER, f.origin);
  const extraRecords: SourcedRecord[] = [];
  let panicLine: string | undefined;
  for (const file of faultFiles) {
    let text: string;
    try {
      const buf = await readFile(file);
      if (buf.length > MAX_FAULTS_FILE) throw new UsageError(`--faults ${file}: ${buf.length} bytes is more than the ${MAX_FAULTS_FILE}-byte limit for a fault list`);
      text = buf.toString('utf8');
    } catch (err) {
      if (err instanceof UsageError) throw err;
      throw new IoError(`cannot read --faults ${file}: ${(err as Error).message}`, { cause: err });
    }
    // Added in place: a second list of 100,000 faults would cost a copy.
    const contents = parseFaultsFile(text, file, userFaults);
    extraRecords.push(...contents.records.map((record) => ({ record, origin: 'user-records' as const, from: file })));
    panicLine = contents.panicLine ?? panicLine;
  }
  return { userFaults, extraRecords, panicLine };
}
