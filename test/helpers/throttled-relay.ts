// For backpressure tests: a TCP relay on 127.0.0.1 passing client bytes upstream at one rate shared by all its
// connections (and counting them), and a process's resident memory.

import { readFile } from 'node:fs/promises';
import net from 'node:net';

export interface ThrottledRelay {
  port: number;
  /** Client bytes passed upstream so far. */
  forwarded(): number;
  close(): Promise<void>;
}

export async function startThrottledRelay(targetPort: number, bytesPerSecond: number): Promise<ThrottledRelay> {
  const started = Date.now();
  let forwarded = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    sockets.add(client).add(upstream);
    client.on('data', (chunk: Buffer) => {
      forwarded += chunk.length;
      upstream.write(chunk);
      // Every connection waits for the shared budget: parallel part uploads do not multiply the rate.
      const wait = started + (forwarded / bytesPerSecond) * 1000 - Date.now();
      if (wait > 0) {
        client.pause();
        setTimeout(() => client.resume(), wait);
      }
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => sockets.delete(client));
    upstream.on('close', () => sockets.delete(upstream));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    forwarded: () => forwarded,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export async function rssOf(pid: number): Promise<number | undefined> {
  try {
    const kib = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
    return kib ? Number(kib[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
