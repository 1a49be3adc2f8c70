// Chooses the sink for an -o value: stdout, a file, a device or FIFO, a receiver (tcp://, tls://) or ssh://.

import { UsageError } from '../errors.js';
import { openFileSink, openStdoutSink, type DumpSink, type SinkOptions } from './dump-sink.js';
import { openNetworkSink } from './network-sink.js';
import { openSshSink } from './ssh-sink.js';

/** How to reach another host: TLS for tls://, ssh for ssh://. */
export interface TransportOptions {
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  sshIdentity?: string;
  sshKnownHosts?: string;
  sshOptions?: string[];
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

function refuseUnused(spec: OutputSpec, kind: 'network' | 'ssh' | 'local'): void {
  const t = spec.transport ?? {};
  const given: [string, unknown, 'network' | 'ssh'][] = [
    ['--name', spec.name, 'network'],
    ['--token-file', spec.tokenFile, 'network'],
    ['--tls-ca', t.tlsCa, 'network'],
    ['--tls-cert', t.tlsCert, 'network'],
    ['--tls-key', t.tlsKey, 'network'],
    ['--ssh-identity', t.sshIdentity, 'ssh'],
    ['--ssh-known-hosts', t.sshKnownHosts, 'ssh'],
    ['--ssh-option', t.sshOptions?.length ? t.sshOptions : undefined, 'ssh'],
  ];
  const unused = given.find(([, value, applies]) => value !== undefined && applies !== kind);
  if (unused) throw new UsageError(`${unused[0]} needs ${unused[2] === 'network' ? 'a tcp:// or tls://' : 'an ssh://'} output`);
}

export async function openSink(spec: OutputSpec): Promise<DumpSink> {
  const { output } = spec;
  if (output !== undefined && NETWORK_URL.test(output)) {
    refuseUnused(spec, 'network');
    const t = spec.transport ?? {};
    return openNetworkSink(output, { name: spec.name, tokenFile: spec.tokenFile, tlsCa: t.tlsCa, tlsCert: t.tlsCert, tlsKey: t.tlsKey, positioned: spec.positioned });
  }
  if (output !== undefined && SSH_URL.test(output)) {
    refuseUnused(spec, 'ssh');
    const t = spec.transport ?? {};
    return openSshSink(output, { identity: t.sshIdentity, knownHosts: t.sshKnownHosts, options: t.sshOptions, sync: spec.sync });
  }
  refuseUnused(spec, 'local');
  const options: SinkOptions = { sync: spec.sync };
  return output === undefined || output === '-' ? openStdoutSink() : openFileSink(output, options);
}
