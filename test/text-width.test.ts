// The bundle's stand-in for string-width measures what string-width measures, on every help line and on random text.

import test from 'ava';
import fc from 'fast-check';
import stringWidth from 'string-width';
import textWidth from '../src/cli/text-width.js';
import { runCli } from './helpers/cli.js';

test('every line of every command’s --help has the width string-width gives it', async (t) => {
  let lines = 0;
  for (const command of [[], ['inspect'], ['dmesg'], ['receive']]) {
    const run = await runCli([...command, '--help']);
    t.is(run.code, 0, run.stderr);
    for (const line of run.stdout.toString().split('\n')) {
      t.is(textWidth(line), stringWidth(line), line);
      lines++;
    }
  }
  t.true(lines > 100, `${lines} lines`);
});

test('plain, accented, wide, combining, zero-width and coloured text measure as string-width measures them', (t) => {
  for (const text of ['', 'slim-core', 'Größe × 2 → 4', '日本語のテキスト', 'ｆｕｌｌ', 'e\u0301te\u0301', 'a\u200bb', '\u001b[31mred\u001b[39m', '\u001b]8;;http://x\u0007link\u001b]8;;\u0007', 'tab\there', '한국어']) {
    t.is(textWidth(text), stringWidth(text), JSON.stringify(text));
  }
  t.is(textWidth(undefined), 0);
});

test('random text without emoji measures as string-width measures it', (t) => {
  const pieces = fc.oneof(
    fc.string({ unit: 'grapheme-ascii' }),
    fc.constantFrom('é', 'ß', '→', '×', '–', '中', '文', 'ア', '가', '\u0301', '\u0308', '\u200d', '\ufeff', '\u00ad', 'Ａ'),
    fc.constantFrom('\u001b[1m', '\u001b[0m', '\u001b[38;5;196m', '\u009b32m'),
  );
  t.notThrows(() => fc.assert(fc.property(fc.array(pieces, { maxLength: 30 }), (parts) => textWidth(parts.join('')) === stringWidth(parts.join(''))), { numRuns: 2000 }));
});
