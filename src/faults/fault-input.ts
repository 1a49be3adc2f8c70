// The user's fault list: --fault arguments, and faults files in three forms (addresses, JSON MCE records, kernel log).

import { UsageError } from '../errors.js';
import { hex } from '../elf/byte-order.js';
import { looksLikeKernelLog, parseMceLog } from '../mce/log-parser.js';
import { mceRecordFromJson, type MceRecord } from '../mce/record.js';
import { OmitReason } from '../notes/slimcore-notes.js';
import { FaultList } from './fault-list.js';

export interface UserFault {
  paddr: bigint;
  /** Bytes from paddr; 0n means "the page holding paddr", decided once the page size is known. */
  length: bigint;
  /** Where it came from, e.g. "--fault 0x345000" or "faults.txt line 3". */
  origin: string;
}

export interface FaultFileContents {
  /** Address lines, as user faults (reason 2), each named by the file and its line. */
  faults: FaultList;
  records: MceRecord[];
  panicLine?: string;
}

const U64_LIMIT = 1n << 64n;
const FAULT_FORM = 'expected PADDR[+LEN], each hex (0x...) or decimal';

function parseNumber(text: string): bigint | undefined {
  if (/^0x[0-9a-f]+$/i.test(text)) return BigInt(text);
  if (/^[0-9]+$/.test(text)) return BigInt(text);
  return undefined;
}

/** Parses "PADDR[+LEN]"; on error returns the reason. */
function parseFaultText(text: string): { paddr: bigint; length: bigint } | string {
  const t = text.trim();
  if (t === '') return `empty; ${FAULT_FORM}`;
  const plus = t.indexOf('+');
  const addrText = (plus >= 0 ? t.slice(0, plus) : t).trim();
  const lenText = plus >= 0 ? t.slice(plus + 1).trim() : undefined;
  const paddr = parseNumber(addrText);
  if (paddr === undefined) return `address "${addrText}" is not a number; ${FAULT_FORM}`;
  if (paddr >= U64_LIMIT) return `address ${hex(paddr)} does not fit in 64 bits`;
  if (lenText === undefined) return { paddr, length: 0n };
  const length = parseNumber(lenText);
  if (length === undefined) return `length "${lenText}" is not a number; ${FAULT_FORM}`;
  if (length === 0n) return 'length 0 covers nothing; leave out "+LEN" to mean the page holding the address';
  if (paddr + length > U64_LIMIT) return `${hex(paddr)}+${hex(length)} runs past the end of the 64-bit address space`;
  return { paddr, length };
}

/** Parses one --fault argument. */
export function parseFaultArg(arg: string): UserFault {
  const parsed = parseFaultText(arg);
  if (typeof parsed === 'string') throw new UsageError(`--fault ${JSON.stringify(arg)}: ${parsed}`);
  return { ...parsed, origin: `--fault ${arg.trim()}` };
}

function lineOfOffset(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * Where the elements of a top-level JSON array begin and end, found by tracking strings and nesting only, so that
 * it also works on text JSON.parse refused; errors can then name a line.
 */
function arrayElementSpans(text: string): Array<{ start: number; end: number }> {
  const spans: Array<{ start: number; end: number }> = [];
  let depth = 0;
  let inString = false;
  let open: number | undefined;
  let expectElement = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') continue;
    if (depth === 1 && (c === ',' || c === ']')) {
      if (open !== undefined) spans.push({ start: open, end: i });
      open = undefined;
      expectElement = c === ',';
      if (c === ']') depth--;
      continue;
    }
    if (depth === 1 && expectElement) {
      open = i;
      expectElement = false;
    }
    if (c === '"') inString = true;
    else if (c === '[' || c === '{') {
      depth++;
      if (depth === 1) expectElement = true;
    } else if (c === ']' || c === '}') depth--;
  }
  if (open !== undefined) spans.push({ start: open, end: text.length });
  return spans;
}

function parseJsonRecords(text: string, fileName: string): FaultFileContents {
  const spans = arrayElementSpans(text);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // Name the line of the first element that does not parse alone; else V8's position, if it gave one.
    const bad = spans.find(({ start, end }) => !isJson(text.slice(start, end)));
    const pos = /position (\d+)/.exec(message);
    const at = bad ? bad.start : pos ? Number(pos[1]) : undefined;
    const where = at !== undefined ? `${fileName} line ${lineOfOffset(text, at)}` : fileName;
    throw new UsageError(`${where}: not valid JSON (${message.split('\n')[0]})`);
  }
  if (!Array.isArray(data)) throw new UsageError(`${fileName}: a JSON faults file must be an array of MCE records`);
  const records = data.map((obj, i) => {
    const line = spans.length === data.length ? ` line ${lineOfOffset(text, spans[i].start)}` : '';
    return mceRecordFromJson(obj, `${fileName}${line} (record ${i + 1})`);
  });
  return { faults: new FaultList(), records };
}

const LF = 10;
const CR = 13;
const HASH = 35;

const SPACE = 32;
const TAB = 9;
/** Hex digits that keep an address exact as a double. */
const EXACT_HEX_DIGITS = 13;

/** Where the line read by the last plainHexLine() ends (its \n, its \r, or the end of the text). */
let plainLineEnd = 0;

/**
 * The value of a line `[ \t]*0x<hex>[ \t]*` starting at `from`, or -1 for anything else (the general parser's
 * job). The line's end goes in plainLineEnd: a plain line's characters are scanned once, not once to find its end and
 * again to read it.
 */
function plainHexLine(text: string, from: number): number {
  const to = text.length;
  let at = from;
  while (at < to && (text.charCodeAt(at) === SPACE || text.charCodeAt(at) === TAB)) at++;
  if (to - at < 3 || text.charCodeAt(at) !== 48 || (text.charCodeAt(at + 1) | 32) !== 120) return -1;
  at += 2;
  let value = 0;
  let digits = 0;
  for (; at < to; at++, digits++) {
    const c = text.charCodeAt(at) | 32;
    const digit = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
    if (digit < 0) break;
    value = value * 16 + digit;
  }
  if (digits === 0 || digits > EXACT_HEX_DIGITS) return -1;
  while (at < to && (text.charCodeAt(at) === SPACE || text.charCodeAt(at) === TAB)) at++;
  if (at < to && text.charCodeAt(at) !== LF && text.charCodeAt(at) !== CR) return -1;
  plainLineEnd = at;
  return value;
}

/** The start of the line after the one that ends at `end` (a \n, \r, \r\n, or the end of the text). */
function nextLine(text: string, end: number): number {
  return text.charCodeAt(end) === CR && text.charCodeAt(end + 1) === LF ? end + 2 : end + 1;
}

/** Lines of text (an upper bound on its faults), counted without a string each. */
function lineCount(text: string): number {
  let lines = 1;
  for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', at + 1)) lines++;
  return lines;
}

/**
 * One pass over the lines, without an array of them or an object per line: 100,000 addresses cost a few MiB. Plain
 * hex addresses (most lists) are read from the characters, without a string each.
 */
function parseAddressLines(text: string, fileName: string, faults: FaultList): FaultFileContents {
  const label = faults.labelId(fileName);
  faults.reserve(lineCount(text));
  let line = 1;
  for (let at = 0; at < text.length; line++) {
    const plain = plainHexLine(text, at);
    if (plain >= 0) {
      faults.addPage(plain, OmitReason.USER, label, line);
      at = nextLine(text, plainLineEnd);
      continue;
    }
    let end = at;
    let hash = -1;
    for (let c = text.charCodeAt(end); end < text.length && c !== LF && c !== CR; c = text.charCodeAt(++end)) {
      if (c === HASH && hash < 0) hash = end;
    }
    const bodyEnd = hash >= 0 ? hash : end;
    const lineStart = at;
    // A line ends at \n, \r or \r\n.
    at = nextLine(text, end);
    const body = text.slice(lineStart, bodyEnd).trim();
    if (body === '') continue;
    const parsed = parseFaultText(body);
    if (typeof parsed === 'string') throw new UsageError(`${fileName} line ${line}: ${JSON.stringify(body)}: ${parsed}`);
    faults.addLabelled(parsed.paddr, parsed.length, OmitReason.USER, label, line);
  }
  return { faults, records: [] };
}

/**
 * Reads a faults file. The form is detected:
 * 1. text starting with "[" that parses as JSON: an array of MCE records (mceRecordFromJson);
 * 2. text holding machine-check report lines ("[Hardware Error]:", "CPU N: Machine Check...") or a kernel panic
 *    line: a kernel log (parseMceLog), which must yield at least one record;
 * 3. otherwise lines of PADDR[+LEN], with '#' comments and blank lines.
 * Errors are UsageErrors naming the file and, where there is one, the line. Address lines are added to `into`.
 */
export function parseFaultsFile(text: string, fileName: string, into = new FaultList()): FaultFileContents {
  const body = text.replace(/^\uFEFF/, '');
  const trimmed = body.trimStart();
  // Comment lines do not count: an address list may quote a log line in a comment.
  const isLog = looksLikeKernelLog(body.replace(/^[ \t]*#.*$/gm, ''));
  if (trimmed.startsWith('[') && !(isLog && !isJson(trimmed))) return parseJsonRecords(body, fileName);
  if (isLog) {
    const parsed = parseMceLog(body);
    if (parsed.records.length === 0) {
      throw new UsageError(`${fileName}: reads as a kernel log, but holds no "mce: [Hardware Error]: CPU N: Machine Check ..." line`);
    }
    const out: FaultFileContents = { faults: new FaultList(), records: parsed.records };
    if (parsed.panicLine !== undefined) out.panicLine = parsed.panicLine;
    return out;
  }
  return parseAddressLines(body, fileName, into);
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
