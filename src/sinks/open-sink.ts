// Chooses the sink for an -o value: stdout, a file, a device or FIFO, a receiver (tcp://, tls://), ssh:// or s3://.

import { UsageError } from '../errors.js';
import { openFileSink, openStdoutSink, type DumpSink, type SinkOptions } from './dump-sink.js';
import { S3_FLAGS, S3_URL, type S3Options } from './s3-target.js';

/** How to reach another host: TLS for tls://, ssh for ssh://. */
export interface TransportOptions {
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  sshIdentity?: string;
  sshKnownHosts?: string;
  sshOptions?: string[];
  /** s3:// only (its CA may also come from tlsCa). */
  s3?: S3Options;
}

export interface OutputSpec {
  /** What -o said: undefined or "-" for stdout. */
  output?: string;
  sync?: boolean;
  /** tcp:// and tls:// only: the dump's name on the receiver, and the shared token. */
  name?: string;
  tokenFile?: string;
  transport?: TransportOptions;
  /** The dump is written out of order (the kdump format): a receiver gets it as positioned writes. */
  positioned?: boolean;
}

const NETWORK_URL = /^(tcp|tls):\/\//i;
const SSH_URL = /^ssh:\/\//i;

type OutputKind = 'network' | 'ssh' | 's3' | 'local';
const NEEDS: Record<Exclude<OutputKind, 'local'>, string> = { network: 'a tcp:// or tls://', ssh: 'an ssh://', s3: 'an s3://' };

function refuseUnused(spec: OutputSpec, kind: OutputKind): void {
  const t = spec.transport ?? {};
  const s3 = t.s3 ?? {};
  const given: [string, unknown, Exclude<OutputKind, 'local'>][] = [
    ['--name', spec.name, 'network'],
    ['--token-file', spec.tokenFile, 'network'],
    ['--tls-ca', kind === 's3' ? undefined : t.tlsCa, 'network'],
    ['--tls-cert', t.tlsCert, 'network'],
    ['--tls-key', t.tlsKey, 'network'],
    ['--ssh-identity', t.sshIdentity, 'ssh'],
    ['--ssh-known-hosts', t.sshKnownHosts, 'ssh'],
    ['--ssh-option', t.sshOptions?.length ? t.sshOptions : undefined, 'ssh'],
    ...Object.entries(S3_FLAGS).map(([field, flag]): [string, unknown, 's3'] => [flag, s3[field as keyof S3Options], 's3']),
  ];
  const unused = given.find(([, value, applies]) => value !== undefined && applies !== kind);
  if (unused) throw new UsageError(`${unused[0]} needs ${NEEDS[unused[2]]} output`);
}

export async function openSink(spec: OutputSpec): Promise<DumpSink> {
  const { output } = spec;
  if (output !== undefined && NETWORK_URL.test(output)) {
    refuseUnused(spec, 'network');
    const t = spec.transport ?? {};
    // The transports load on demand, as S3 does: a file or stdout capture does not pay for sockets, TLS or ssh.
    const { openNetworkSink } = await import('./network-sink.js');
    return openNetworkSink(output, { name: spec.name, tokenFile: spec.tokenFile, tlsCa: t.tlsCa, tlsCert: t.tlsCert, tlsKey: t.tlsKey, positioned: spec.positioned });
  }
  if (output !== undefined && SSH_URL.test(output)) {
    refuseUnused(spec, 'ssh');
    const t = spec.transport ?? {};
    const { openSshSink } = await import('./ssh-sink.js');
    return openSshSink(output, { identity: t.sshIdentity, knownHosts: t.sshKnownHosts, options: t.sshOptions, sync: spec.sync });
  }
  if (output !== undefined && S3_URL.test(output)) {
    refuseUnused(spec, 's3');
    const t = spec.transport ?? {};
    if (t.s3?.ca && t.tlsCa && t.s3.ca !== t.tlsCa) throw new UsageError('--s3-ca and --tls-ca name different files: give one');
    // Loaded on demand: the AWS SDK costs start-up time that no other output should pay.
    const { openS3Sink } = await import('./s3-sink.js');
    return openS3Sink(output, { ...t.s3, ca: t.s3?.ca ?? t.tlsCa });
  }
  refuseUnused(spec, 'local');
  const options: SinkOptions = { sync: spec.sync };
  return output === undefined || output === '-' ? openStdoutSink() : openFileSink(output, options);
}
