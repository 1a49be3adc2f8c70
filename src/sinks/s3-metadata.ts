// The dump's facts as S3 user metadata (x-amz-meta-slimcore-*): printable ASCII, within S3's 2 KB for all of it.

import type { DumpFacts } from '../pipeline/dump-facts.js';

/** S3 counts the UTF-8 bytes of every key and value; the x-amz-meta- prefix is counted too, to leave a margin. */
export const METADATA_LIMIT = 2048;
const HEADER_PREFIX = 'x-amz-meta-';

function printable(value: string): string {
  return value.replace(/[^\x20-\x7e]/g, '?').trim();
}

/** Keys (without the x-amz-meta- prefix) in the order they are kept when space runs out: the cause is cut first. */
export function s3Metadata(facts: DumpFacts | undefined, version: string): Record<string, string> {
  const fields: [string, string | number | undefined][] = [
    ['slimcore-version', facts?.slimCoreVersion ?? version],
    ['slimcore-mode', facts?.mode],
    ['slimcore-format', facts?.format],
    ['slimcore-dump-level', facts?.dumpLevel],
    ['slimcore-kernel-release', facts?.kernelRelease],
    ['slimcore-hostname', facts?.hostname],
    ['slimcore-crash-time', facts?.crashTime],
    ['slimcore-mce-bank', facts?.mce?.bank],
    ['slimcore-mce-status', facts?.mce?.status],
    ['slimcore-mce-addr', facts?.mce?.addr],
    ['slimcore-mce-records', facts?.mce?.records],
    ['slimcore-page-size', facts?.pageSize],
    ['slimcore-pages-dumped', facts?.pagesDumped],
    ['slimcore-pages-omitted', facts?.pagesOmitted],
    ['slimcore-pages-zero-filled', facts?.pagesZeroFilled],
  ];
  const metadata: Record<string, string> = {};
  let used = 0;
  for (const [key, raw] of fields) {
    if (raw === undefined) continue;
    const value = printable(String(raw)).slice(0, 128);
    const size = HEADER_PREFIX.length + key.length + value.length;
    if (used + size > METADATA_LIMIT) continue;
    metadata[key] = value;
    used += size;
  }
  if (facts) {
    const key = 'slimcore-cause';
    const room = METADATA_LIMIT - used - HEADER_PREFIX.length - key.length;
    const cause = printable(facts.cause);
    if (room > 3) metadata[key] = cause.length <= room ? cause : `${cause.slice(0, room - 3)}...`;
  }
  return metadata;
}

export function metadataBytes(metadata: Record<string, string>): number {
  return Object.entries(metadata).reduce((sum, [k, v]) => sum + HEADER_PREFIX.length + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
}
