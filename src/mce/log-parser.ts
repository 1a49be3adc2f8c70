// Kernel log text -> MCE records, from the lines the kernel's __print_mce() writes (arch/x86/kernel/cpu/mce/core.c):
//
//   CPU %d: Machine Check%s: %Lx Bank %d: %016Lx        (%s is " Exception" when MCG_STATUS.MCIP; %Lx is MCG_STATUS)
//   RIP%s %02x:<%016Lx> {%pS}                            (%s is " !INEXACT!" when MCG_STATUS.EIPV is clear)
//   TSC %llx [ADDR %llx] [MISC %llx] [PPIN %llx] [SYND %llx] [SYND1 %llx] [SYND2 %llx] [IPID %llx]
//   PROCESSOR %u:%x TIME %llu SOCKET %u APIC %x [microcode %x]
//
// each after the "mce: [Hardware Error]: " prefix. Tolerant of printk timestamps and caller ids, syslog and journal
// prefixes, log levels ("<0>"), CRLF, pr_cont() pieces split onto their own lines, missing lines, and any noise.

import { CPU_VENDOR, emptyMceRecord, mceRecordsEqual, type MceRecord } from './record.js';

export interface ParsedKernelLog {
  records: MceRecord[];
  /** The last "Kernel panic - not syncing: ..." line, from "Kernel panic" on. */
  panicLine?: string;
  /** mce_panic()'s own last words before panic(): "Machine check: SEVERITY" or "Some CPUs didn't answer in synchronization". */
  mcePanicReport?: string;
}

/**
 * What mce_panic() passes to panic() in Linux 6.1 (arch/x86/kernel/cpu/mce/core.c), and what a second CPU that enters
 * it panics with (wait_for_panic()). mce_panic() prints "Machine check: SEVERITY" first only when it has a severity
 * message: the two timeouts have none, so the panic message is all the log says.
 */
export const MCE_PANIC_MESSAGES = [
  'Fatal machine check',
  'Fatal machine check from unknown source',
  'Fatal machine check on current CPU',
  'Local fatal machine check!',
  'Failed kernel mode recovery',
  'Timeout: Not all CPUs entered broadcast exception handler',
  'Timeout: Subject CPUs unable to finish machine check processing',
  'Too many consecutive machine checks while accessing user data',
  'Consecutive machine checks to different user pages',
  'Panicing machine check CPU died',
] as const;

/**
 * Whether the log ends in a machine-check panic: its last panic is one of mce_panic()'s messages (any wording naming a
 * machine check, for other kernels), or mce_panic() reported on the machine check before it panicked.
 */
export function endsInMachineCheckPanic(log: ParsedKernelLog): boolean {
  if (log.panicLine === undefined) return false;
  const message = log.panicLine.slice(PANIC.length).trim();
  return (MCE_PANIC_MESSAGES as readonly string[]).includes(message) || /machine check/i.test(message) || log.mcePanicReport !== undefined;
}

const HW_ERR = '[Hardware Error]:';
const MCE_PANIC_REPORT = /^(Machine check: .*|Some CPUs didn't answer in synchronization)$/;
const PANIC = 'Kernel panic - not syncing:';

// A 64-bit value prints as at most 16 hex digits; a longer run is garbage (e.g. text read out of raw memory).
const CPU_LINE = /\bCPU (\d{1,10}): Machine Check( Exception)?:\s*([0-9a-fA-F]{1,16}) Bank (\d{1,3}):\s*([0-9a-fA-F]{1,16})(?![0-9a-zA-Z])/;
const RIP_LINE = /^RIP( !INEXACT!)? ([0-9a-fA-F]{1,4}):<([0-9a-fA-F]{1,16})>/;
const PROCESSOR_LINE =
  /^PROCESSOR (\d{1,3}):([0-9a-fA-F]{1,8}) TIME (\d{1,20}) SOCKET (\d{1,10}) APIC ([0-9a-fA-F]{1,8})(?: microcode ([0-9a-fA-F]{1,8}))?(?![0-9a-zA-Z])/;
/** Keys of the "TSC ..." line; a pr_cont() piece may land on a line of its own. */
const REGISTER_KEYS = new Set(['TSC', 'ADDR', 'MISC', 'PPIN', 'SYND', 'SYND1', 'SYND2', 'IPID']);

function u64(text: string): bigint {
  return BigInt.asUintN(64, BigInt('0x' + text));
}
function u32hex(text: string): number {
  return Number(BigInt.asUintN(32, BigInt('0x' + text)));
}
function u32dec(text: string): number {
  return Number(BigInt.asUintN(32, BigInt(text)));
}

/**
 * What follows the last "[Hardware Error]:" (or "mce:") on a line; else, for kernels older than the HW_ERR prefix,
 * the line less its log level and bracketed timestamp or caller id. The patterns matched on it are anchored and
 * specific, and are tried only while a record is open.
 */
function payloadOf(line: string): string {
  const hw = line.lastIndexOf(HW_ERR);
  if (hw >= 0) return line.slice(hw + HW_ERR.length).trim();
  const mce = line.search(/\bmce: /);
  if (mce >= 0) return line.slice(mce + 5).trim();
  return line.replace(/^\s*(<\d+>)?\s*(\[[^\]]*\]\s*)*/, '').trim();
}

/** Parses "KEY HEX KEY HEX ..." when every key is a register key; otherwise undefined. */
function registerPairs(payload: string): Array<[string, bigint]> | undefined {
  const words = payload.split(/\s+/).filter((w) => w.length > 0);
  if (words.length === 0 || words.length % 2 !== 0) return undefined;
  const pairs: Array<[string, bigint]> = [];
  for (let i = 0; i < words.length; i += 2) {
    const key = words[i];
    const value = words[i + 1];
    if (!REGISTER_KEYS.has(key) || !/^[0-9a-fA-F]{1,16}$/.test(value)) return undefined;
    pairs.push([key, u64(value)]);
  }
  return pairs;
}

export function parseMceLog(text: string): ParsedKernelLog {
  const records: MceRecord[] = [];
  let panicLine: string | undefined;
  let mcePanicReport: string | undefined;
  let current: MceRecord | undefined;
  let sawProcessor = false;
  let sawSmcaRegisters = false;

  const finish = () => {
    if (!current) return;
    // No PROCESSOR line (a cut-off log): SYND and IPID are printed only on SMCA, so those name AMD.
    if (!sawProcessor && sawSmcaRegisters) current.cpuvendor = CPU_VENDOR.AMD;
    // The kernel may print one record twice (e.g. by the default notifier, then by mce_panic()).
    if (!records.some((r) => mceRecordsEqual(r, current!))) records.push(current);
    current = undefined;
  };

  for (const rawLine of text.split(/\r?\n|\r/)) {
    const panicAt = rawLine.indexOf(PANIC);
    if (panicAt >= 0) panicLine = rawLine.slice(panicAt).trimEnd();
    // Only mce_panic() prints these lines, right before it calls panic().
    const hwAt = rawLine.lastIndexOf(HW_ERR);
    if (hwAt >= 0 && MCE_PANIC_REPORT.test(rawLine.slice(hwAt + HW_ERR.length).trim())) mcePanicReport = rawLine.slice(hwAt + HW_ERR.length).trim();

    const cpu = CPU_LINE.exec(rawLine);
    if (cpu) {
      finish();
      current = emptyMceRecord();
      sawProcessor = false;
      sawSmcaRegisters = false;
      current.extcpu = u32dec(cpu[1]);
      current.cpu = current.extcpu & 0xff;
      current.mcgstatus = u64(cpu[3]);
      current.bank = Number(BigInt(cpu[4]) & 0xffn);
      current.status = u64(cpu[5]);
      continue;
    }
    if (!current) continue;
    const payload = payloadOf(rawLine);

    const rip = RIP_LINE.exec(payload);
    if (rip) {
      current.cs = Number(BigInt('0x' + rip[2]) & 0xffn);
      current.ip = u64(rip[3]);
      continue;
    }
    const regs = registerPairs(payload);
    if (regs) {
      for (const [key, value] of regs) {
        switch (key) {
          case 'TSC': current.tsc = value; break;
          case 'ADDR': current.addr = value; break;
          case 'MISC': current.misc = value; break;
          case 'PPIN': current.ppin = value; break;
          case 'SYND': current.synd = value; sawSmcaRegisters = true; break;
          case 'IPID': current.ipid = value; sawSmcaRegisters = true; break;
          // SYND1 and SYND2 live outside struct mce (struct mce_hw_err); nothing to keep them in.
          default: break;
        }
      }
      continue;
    }
    const proc = PROCESSOR_LINE.exec(payload);
    if (proc) {
      current.cpuvendor = Number(BigInt(proc[1]) & 0xffn);
      current.cpuid = u32hex(proc[2]);
      current.time = BigInt.asUintN(64, BigInt(proc[3]));
      current.socketid = u32dec(proc[4]);
      current.apicid = u32hex(proc[5]);
      if (proc[6] !== undefined) current.microcode = u32hex(proc[6]);
      sawProcessor = true;
      finish();
      continue;
    }
  }
  finish();
  const result: ParsedKernelLog = { records };
  if (panicLine !== undefined) result.panicLine = panicLine;
  if (mcePanicReport !== undefined) result.mcePanicReport = mcePanicReport;
  return result;
}

/** Whether text holds at least one line of a machine-check report or a kernel panic. */
export function looksLikeKernelLog(text: string): boolean {
  return text.includes(HW_ERR) || CPU_LINE.test(text) || text.includes(PANIC);
}
