// What is known about a dump once it is planned, before its data: for sinks that store it beside the dump (S3 metadata).

import { hex } from '../elf/byte-order.js';
import type { DumpPrefix } from '../dump/prefix.js';
import { OmitReason } from '../notes/slimcore-notes.js';
import { slimCoreVersion } from '../version.js';
import type { CapturePlan } from './plan.js';

/** How the dump is written: the format as the object holds it, the page filter's level, and the kdump file's pages. */
export interface DumpShape {
  /** `elf`, `kdump` (the plain file), or `kdump-flattened` (makedumpfile -F records: `makedumpfile -R` gives the plain file). */
  format: 'elf' | 'kdump' | 'kdump-flattened';
  dumpLevel: number;
  /** The kdump format: the pages its dumpable bitmap holds (known-bad pages are left out there, not zero-filled). */
  kdumpPages?: number;
}

export interface DumpFacts {
  mode: 'slim' | 'full';
  format: DumpShape['format'];
  dumpLevel: number;
  /** The CAUSE note as planned: read errors met later during the copy are not in it (the dump's own note has them). */
  cause: string;
  /** The record that decided the mode (or the first one), and how many there were. */
  mce?: { bank: number; status: string; addr?: string; records: number };
  /** VMCOREINFO OSRELEASE. */
  kernelRelease?: string;
  /** init_uts_ns.name.nodename, when its page is at hand. */
  hostname?: string;
  /** VMCOREINFO CRASHTIME: seconds since the epoch. */
  crashTime?: string;
  pageSize: number;
  /** Pages of memory the dump holds: ELF, PT_LOAD data copied, zero-filled ones included; kdump, the dumpable pages. */
  pagesDumped: number;
  /** Pages the plan leaves out or zero-fills (slim mode's omitted memory, machine-check and --fault pages). */
  pagesOmitted: number;
  pagesZeroFilled: number;
  slimCoreVersion: string;
}

const MCI_STATUS_ADDRV = 1n << 58n;

export function dumpFacts(prefix: DumpPrefix, plan: CapturePlan, hostname: string | undefined, shape: DumpShape): DumpFacts {
  const info = prefix.vmcoreinfo;
  const decisive = plan.records.find((r) => r.verdict.fatal) ?? plan.records[0];
  const pages = (bytes: bigint | number) => Math.ceil(Number(bytes) / prefix.pageSize);
  const omittedBy = (keep: (reason: number) => boolean) => {
    let sum = 0;
    for (let i = 0; i < plan.omitted.count; i++) if (keep(plan.omitted.reason(i))) sum += pages(plan.omitted.sizeNumber(i));
    return sum;
  };
  const crashTime = info?.get('CRASHTIME');
  return {
    mode: plan.mode,
    format: shape.format,
    dumpLevel: shape.dumpLevel,
    cause: plan.cause,
    mce: decisive && {
      bank: decisive.record.bank,
      status: hex(decisive.record.status),
      addr: decisive.record.status & MCI_STATUS_ADDRV ? hex(decisive.record.addr) : undefined,
      records: plan.records.length,
    },
    kernelRelease: info?.get('OSRELEASE'),
    hostname,
    crashTime: crashTime && /^\d+$/.test(crashTime) ? crashTime : undefined,
    pageSize: prefix.pageSize,
    pagesDumped: shape.kdumpPages ?? plan.copySegments.sumOfSizes(pages),
    pagesOmitted: omittedBy(() => true),
    pagesZeroFilled: omittedBy((reason) => reason !== OmitReason.SLIM),
    slimCoreVersion: slimCoreVersion(),
  };
}
