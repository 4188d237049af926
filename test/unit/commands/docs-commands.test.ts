// The docs cannot drift from the code: every command line in README.md and dom0/COMMANDS.md (code
// blocks, `qubes-zfs-backup …` spans, COMMANDS.md's headings and option table) uses only npm scripts
// that package.json has and subcommands and options that the program built by buildProgram has, so
// commands added later (send, verify) are covered as soon as they are documented.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { buildProgram } from '../../../dom0/cli.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const DOCS = ['README.md', 'dom0/COMMANDS.md'];
const scripts = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
/** npm's own commands the docs use (everything else must be a script). */
const NPM_BUILTINS = new Set(['ci', 'install', 'test']);

const program = buildProgram(() => {});

function optionNames(cmd: Command): Set<string> {
  const names = new Set(['-h', '--help']);
  for (const o of cmd.options) for (const n of [o.short, o.long]) if (n) names.add(n);
  return names;
}
const GLOBAL = optionNames(program);
/** Global options that take a value (the next word). */
const TAKES_VALUE = new Set(program.options.filter((o) => o.required || o.optional).flatMap((o) => [o.short, o.long].filter((n): n is string => !!n)));

// Code blocks, plus inline code spans that are command lines.
function commandLines(doc: string): string[] {
  const text = readFileSync(path.join(root, doc), 'utf8');
  const lines: string[] = [];
  for (const m of text.matchAll(/^```(?:sh|bash)?\n([\s\S]*?)^```$/gm)) lines.push(...m[1]!.split('\n'));
  for (const m of text.matchAll(/`((?:qubes-zfs-backup|npm) [^`]+)`/g)) lines.push(m[1]!);
  return lines;
}

// The simple commands of a shell line (comments dropped; split at ; && || | { } ( )).
function simpleCommands(line: string): string[][] {
  const code = line.replace(/(^|\s)#.*$/, '');
  return code.split(/;|&&|\|\||\||[{}()]/).map((c) => c.trim().split(/\s+/).filter((w) => w !== '')).filter((w) => w.length > 0);
}

// What is wrong with one `qubes-zfs-backup …` argument list.
function checkInvocation(args: string[]): string[] {
  const problems: string[] = [];
  let sub: Command | undefined;
  for (let i = 0; i < args.length; i++) {
    const word = args[i]!.replace(/^['"]|['"]$/g, '');
    // A synopsis placeholder (`[global options]`, `<command>`): there is no real command to check.
    if (/^[<[]/.test(word)) {
      if (!sub) return problems;
      continue;
    }
    if (word.startsWith('-')) {
      const name = word.split('=')[0]!;
      const known = GLOBAL.has(name) || (sub ? optionNames(sub).has(name) : false);
      if (!known) problems.push(`option ${name}${sub ? ` of ${sub.name()}` : ''} does not exist`);
      if (TAKES_VALUE.has(name) && !word.includes('=')) i++;
      continue;
    }
    if (!sub) {
      sub = program.commands.find((c) => c.name() === word);
      if (!sub) {
        problems.push(`subcommand ${word} does not exist`);
        return problems;
      }
    }
  }
  return problems;
}

function checkCommand(words: string[]): string[] {
  const [first, ...rest] = words as [string, ...string[]];
  if (first === 'npm') {
    const [verb, name] = rest;
    if (verb === 'run') return name && scripts[name] !== undefined ? [] : [`npm script ${name ?? '(none)'} does not exist`];
    if (verb === 'test') return scripts.test !== undefined ? [] : ['npm script test does not exist'];
    return verb && NPM_BUILTINS.has(verb) ? [] : [`npm ${verb ?? ''} is neither a script nor a known npm command`];
  }
  if (first === 'qubes-zfs-backup') return checkInvocation(rest);
  if (first === 'node' && rest[0]?.endsWith('qubes-zfs-backup.mjs')) return checkInvocation(rest.slice(1));
  if (first === 'sudo' || first === 'ZFS_SERIES=2.1') return rest.length > 0 ? checkCommand(rest) : [];
  return [];
}

test('the checker itself catches unknown scripts, subcommands and options', () => {
  assert.deepEqual(checkCommand(['npm', 'run', 'no-such-script']), ['npm script no-such-script does not exist']);
  assert.deepEqual(checkCommand(['qubes-zfs-backup', 'frobnicate', 'x']), ['subcommand frobnicate does not exist']);
  assert.deepEqual(checkCommand(['qubes-zfs-backup', 'check', '--bogus', 'x']), ['option --bogus of check does not exist']);
  assert.deepEqual(checkCommand(['qubes-zfs-backup', '--metadata-dir', '/x', 'status']), []);
  assert.deepEqual(checkCommand(['qubes-zfs-backup', 'snapshot', 'j', '--replace']), ['option --replace of snapshot does not exist']);
  assert.deepEqual(checkCommand(['qubes-zfs-backup', '[global', 'options]', '<command>']), []);
  assert.deepEqual(simpleCommands('a b ; c && { d e ; f ; } # g h'), [['a', 'b'], ['c'], ['d', 'e'], ['f']]);
});

test('every command line in README.md and COMMANDS.md uses scripts, subcommands and options that exist', () => {
  const problems: string[] = [];
  let checked = 0;
  for (const doc of DOCS) {
    for (const line of commandLines(doc)) {
      for (const words of simpleCommands(line)) {
        const p = checkCommand(words);
        if (['npm', 'qubes-zfs-backup', 'node', 'sudo'].includes(words[0]!)) checked++;
        problems.push(...p.map((x) => `${doc}: ${line.trim()}: ${x}`));
      }
    }
  }
  assert.deepEqual(problems, []);
  assert.ok(checked >= 15, `only ${checked} command lines found: is the extraction broken?`);
});

test("COMMANDS.md's headings and global option table name existing commands and options", () => {
  const text = readFileSync(path.join(root, 'dom0/COMMANDS.md'), 'utf8');
  const problems: string[] = [];
  for (const m of text.matchAll(/^## `([a-z-]+)([^`]*)`/gm)) {
    const sub = program.commands.find((c) => c.name() === m[1]);
    if (!sub) {
      problems.push(`heading: command ${m[1]} does not exist`);
      continue;
    }
    for (const o of m[2]!.matchAll(/--?[a-z][a-z-]*/g)) if (!optionNames(sub).has(o[0]) && !GLOBAL.has(o[0])) problems.push(`heading ${m[1]}: option ${o[0]} does not exist`);
  }
  const table = text.slice(text.indexOf('| global option |'), text.indexOf('\n\n', text.indexOf('| global option |')));
  for (const row of table.split('\n').slice(2)) {
    const cell = row.split('|')[1] ?? '';
    for (const o of cell.matchAll(/`(--?[a-z][a-z-]*)/g)) if (!GLOBAL.has(o[1]!)) problems.push(`global option table: ${o[1]} does not exist`);
  }
  assert.deepEqual(problems, []);
  // And the other way round: every global option and every command is documented there.
  for (const o of program.options) assert.ok(table.includes(`\`${o.long ?? ''}`), `global option ${o.long} is not in COMMANDS.md's table`);
  for (const c of program.commands) if (c.name() !== 'help') assert.match(text, new RegExp(`^## \`${c.name()}\\b`, 'm'), `command ${c.name()} has no section in COMMANDS.md`);
});
