// A progress line on stderr: bytes done, total, rate and ETA; redrawn in place on a terminal, one line at a time elsewhere.

import { formatBytes } from './format.js';

const TERMINAL_INTERVAL_MS = 200;
const LOG_INTERVAL_MS = 2000;

export interface ProgressReporter {
  update(done: number, total: number): void;
  finish(): void;
}

export function progressReporter(stream: NodeJS.WriteStream = process.stderr): ProgressReporter {
  const terminal = Boolean(stream.isTTY);
  const interval = terminal ? TERMINAL_INTERVAL_MS : LOG_INTERVAL_MS;
  const started = Date.now();
  let last = 0;
  let drawn = false;
  let latest = { done: 0, total: 0 };
  const draw = () => {
    const seconds = (Date.now() - started) / 1000;
    const rate = seconds > 0 ? latest.done / seconds : 0;
    const percent = latest.total > 0 ? Math.min(100, (100 * latest.done) / latest.total) : 0;
    const eta = rate > 0 && latest.total > latest.done ? `${Math.ceil((latest.total - latest.done) / rate)} s` : '-';
    const line = `slim-core: ${percent.toFixed(1).padStart(5)}% ${formatBytes(latest.done)} of ${formatBytes(latest.total)}, ${formatBytes(rate)}/s, ETA ${eta}`;
    stream.write(terminal ? `\r${line}\x1b[K` : `${line}\n`);
    drawn = true;
  };
  return {
    update(done, total) {
      latest = { done, total };
      const now = Date.now();
      if (now - last >= interval) {
        last = now;
        draw();
      }
    },
    finish() {
      if (!drawn) return;
      draw();
      if (terminal) stream.write('\n');
    },
  };
}
