// The crashed kernel's host name: init_uts_ns.name.nodename, found through VMCOREINFO and the dump's own mappings.

import type { DumpPrefix } from '../dump/prefix.js';
import { buildAddressMap, parseVmcoreinfoNumber } from './address-map.js';
import { memoryFromSegments } from './physical-memory.js';

/** struct new_utsname: six fields of __NEW_UTS_LEN + 1 bytes; nodename is the second. */
const UTS_FIELD_BYTES = 65;
const NODENAME_INDEX = 1;

/**
 * The host name, or undefined when VMCOREINFO lacks the symbol or its bytes are not at hand (beyond a pipe's
 * look-ahead): the name is a nicety, never a reason to fail. `readAt` may return short.
 */
export function crashedNodename(prefix: DumpPrefix, readAt: (fileOffset: number, length: number) => Buffer): string | undefined {
  const info = prefix.vmcoreinfo;
  const symbol = info?.get('SYMBOL(init_uts_ns)');
  if (!info || !symbol || !/^[0-9a-f]+$/i.test(symbol)) return undefined;
  const nameOffset = parseVmcoreinfoNumber(info.get('OFFSET(uts_namespace.name)'));
  if (nameOffset === undefined) return undefined;
  const vaddr = BigInt(`0x${symbol}`) + nameOffset + BigInt(NODENAME_INDEX * UTS_FIELD_BYTES);
  try {
    const paddr = buildAddressMap(prefix.phdrs, info, prefix.header.machine).toPhysical(vaddr);
    if (paddr === undefined) return undefined;
    const bytes = memoryFromSegments(prefix.phdrs, readAt).read(paddr, UTS_FIELD_BYTES);
    if (!bytes) return undefined;
    const end = bytes.indexOf(0);
    const name = bytes.subarray(0, end < 0 ? bytes.length : end).toString('latin1');
    return /^[\x21-\x7e]{1,64}$/.test(name) ? name : undefined;
  } catch {
    return undefined;
  }
}
