// The --json examples in dom0/COMMANDS.md are the documented shapes: each is parsed and compared
// with the real output of its command (over the fake system of the command tests). A key the tool
// prints that the example lacks, a documented key it never prints (unless documented as optional),
// or a value of another type fails. New commands' sections (send, verify) get their producer here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { check } from '../../../dom0/commands/check.ts';
import { importJob } from '../../../dom0/commands/import.ts';
import { calc } from '../../../dom0/commands/calc.ts';
import { snapshot } from '../../../dom0/commands/snapshot.ts';
import { verify } from '../../../dom0/commands/verify.ts';
import { verifyJson } from '../../../dom0/output/verify.ts';
import type { SendAdapters } from '../../../dom0/commands/context.ts';
import { status } from '../../../dom0/commands/status.ts';
import { checkJson } from '../../../dom0/output/check.ts';
import { calcJson } from '../../../dom0/output/calc.ts';
import { importJson } from '../../../dom0/output/import.ts';
import { snapshotJson } from '../../../dom0/output/snapshot.ts';
import { statusJson } from '../../../dom0/output/status.ts';
import { toJson } from '../../../dom0/output/json.ts';
import { qubesOf, zfsOf } from '../snapshot/fixtures.ts';
import { fakeContext, type FakeSystem } from './helpers.ts';
import { restore } from '../../../dom0/commands/restore.ts';
import { restoreJson } from '../../../dom0/output/restore.ts';
import { options as restoreOptions, setup as restoreSetup } from './restore-fixture.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Keys the documentation says appear only sometimes ("when known", "once known"). */
const OPTIONAL = new Set([
  'findings[].line', 'findings[].column', 'findings[].subject', 'findings[].details',
  'targets[].guid', 'targets[].recordedGuid', 'dir', 'discarded',
  'jobs[].targets', 'jobs[].targets[].guid', 'jobs[].targets[].snapshottedAt', 'jobs[].targets[].createdByTool',
  'jobs[].targets[].bytes', 'jobs[].targets[].sentAt', 'jobs[].targets[].receivedGuid', 'jobs[].targets[].resumed',
  'jobs[].targets[].verifiedAt', 'jobs[].targets[].contentHash', 'error.hint',
]);
/** Values whose inside is documented in prose, not by the example (free-form details, send's variants). */
const OPAQUE = new Set(['findings[].details', 'targets[].send', 'jobs[].step', 'qubes[].document']);

function kind(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

// Every difference between the documented shape and the real document.
export function shapeDiff(doc: unknown, real: unknown, at = ''): string[] {
  if (doc === null || real === null || OPAQUE.has(at)) return [];
  if (kind(doc) !== kind(real)) return [`${at || '(top)'}: documented as ${kind(doc)}, printed as ${kind(real)}`];
  if (Array.isArray(doc) && Array.isArray(real)) {
    if (doc.length === 0) return [];
    // Several example elements document one element shape together (the union of their keys).
    const element = doc.every((e) => kind(e) === 'object') ? Object.assign({}, ...doc) as unknown : doc[0];
    return real.flatMap((item) => shapeDiff(element, item, `${at}[]`));
  }
  if (kind(doc) !== 'object') return [];
  const d = doc as Record<string, unknown>;
  const r = real as Record<string, unknown>;
  const out: string[] = [];
  for (const k of Object.keys(r)) if (!(k in d)) out.push(`${at ? `${at}.` : ''}${k}: printed but not in the example`);
  for (const k of Object.keys(d)) {
    const p = at ? `${at}.${k}` : k;
    if (!(k in r)) {
      if (!OPTIONAL.has(p)) out.push(`${p}: in the example but not printed`);
      continue;
    }
    out.push(...shapeDiff(d[k], r[k], p));
  }
  return out;
}

// The ```json blocks of COMMANDS.md, by section ("check", "import", …, "Exit status").
function examples(): Map<string, unknown[]> {
  const text = readFileSync(path.join(root, 'dom0/COMMANDS.md'), 'utf8');
  const out = new Map<string, unknown[]>();
  for (const section of text.split(/^## /m).slice(1)) {
    const title = /^`([a-z-]+)/.exec(section)?.[1] ?? section.split('\n')[0]!.trim();
    const blocks = [...section.matchAll(/^```json\n([\s\S]*?)^```$/gm)].map((m) => {
      try {
        return JSON.parse(m[1]!) as unknown;
      } catch (e) {
        throw new Error(`COMMANDS.md, section ${title}: a --json example is not valid JSON (${(e as Error).message})`);
      }
    });
    if (blocks.length > 0) out.set(title, blocks);
  }
  return out;
}

function parsed(value: unknown): unknown {
  return JSON.parse(toJson(value)) as unknown;
}

function cliJson(args: string[], env: Record<string, string>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', pathToFileURL(path.join(root, 'node_modules/tsx/dist/loader.mjs')).href, path.join(root, 'dom0/cli.ts'), ...args],
      { env: { PATH: process.env.PATH ?? '', ...env } }, (_err, stdout) => {
        try {
          resolve(JSON.parse(stdout));
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      });
  });
}

// A receiver that holds nothing yet (verify's example lists a missing target).
function receiverWithNothing(): SendAdapters {
  const none = async (): Promise<never> => { throw new Error('not used'); };
  return {
    connectReceiver: () => ({
      stderrTail: () => [],
      client: {
        hello: async (root: string) => ({ protocol: 2, agent: 'a', zfsVersion: [], receiveRoot: { name: root, exists: true, type: 'filesystem', encryption: 'off', keyStatus: 'none' }, pool: { name: 'p', exists: true, features: [] }, features: new Map(), unframed: false }),
        inventory: async () => ({ root: 'backup/x', datasets: new Map() }),
        receive: none, abort: none, close: async () => {}, storeSettings: none, readSettings: none,
      },
    }),
    decodeToken: none, estimate: none, startSend: () => { throw new Error('not used'); }, createBookmark: none,
  };
}

// Real documents for each documented example, in the order of the examples.
async function realOutputs(): Promise<Map<string, unknown[]>> {
  const sys: FakeSystem = { zfs: zfsOf(), qubes: qubesOf({ work: 'Running' }), created: [] };
  const ctx = fakeContext(sys);
  writeFileSync(path.join(ctx.cwd, 'backup1.yaml'), 'name: j1\nWARN\n');
  const checked = parsed(checkJson(await check({ job: 'backup1.yaml' }, ctx)));
  sys.qubesdDown = true;
  const unreadable = parsed(checkJson(await check({ job: 'backup1.yaml' }, ctx)));
  sys.qubesdDown = false;
  await importJob({ file: 'backup1.yaml', replace: false }, ctx);
  const snapshotted = parsed(snapshotJson(await snapshot({ name: 'j1', dryRun: false }, ctx)));
  const calculated = parsed(calcJson(await calc({ name: 'j1' }, ctx)));
  const statused = parsed(statusJson(await status({ name: 'j1' }, ctx)));
  const verified = parsed(verifyJson(await verify({ name: 'j1' }, { ...ctx, send: receiverWithNothing() })));
  writeFileSync(path.join(ctx.cwd, 'backup1.yaml'), 'name: j1\nWARN\n# changed\n');
  const replaced = parsed(importJson(await importJob({ file: 'backup1.yaml', replace: true }, ctx)));
  const failure = await cliJson(['status', '--json'], { QUBES_ZFS_BACKUP_METADATA_DIR: path.join(ctx.cwd, 'absent') });
  const r = await restoreSetup();
  const restored = parsed(restoreJson(await restore(restoreOptions({ as: 'work2' }), r.ctx)));
  return new Map<string, unknown[]>([
    ['Exit status', [failure]],
    ['check', [checked, unreadable]],
    ['import', [replaced]],
    ['calc', [calculated]],
    ['snapshot', [snapshotted]],
    ['status', [statused]],
    ['verify', [verified]],
    ['restore', [restored]],
  ]);
}

test('the shape checker itself: extra, missing and retyped keys are caught; optional ones are not', () => {
  assert.deepEqual(shapeDiff({ a: 1, dir: 'x' }, { a: 2 }), []);
  assert.deepEqual(shapeDiff({ a: 1 }, { a: 1, b: 2 }), ['b: printed but not in the example']);
  assert.deepEqual(shapeDiff({ a: 1, c: 'x' }, { a: 1 }), ['c: in the example but not printed']);
  assert.deepEqual(shapeDiff({ a: [{ x: 's' }] }, { a: [{ x: 1 }] }), ['a[].x: documented as string, printed as number']);
  assert.deepEqual(shapeDiff({ a: [{ x: 's' }, { y: 1 }] }, { a: [{ x: 't', y: 2 }, { x: 'u' }] }), ['a[].y: in the example but not printed']);
});

test('every --json example in COMMANDS.md has the shape the command really prints', async () => {
  const docs = examples();
  const real = await realOutputs();
  for (const [section, outputs] of real) {
    const documented = docs.get(section) ?? [];
    assert.equal(documented.length, outputs.length, `COMMANDS.md section ${section}: ${documented.length} --json examples, expected ${outputs.length}`);
    outputs.forEach((out, i) => {
      assert.deepEqual(shapeDiff(documented[i], out), [], `COMMANDS.md section ${section}, example ${i + 1}\nprinted: ${JSON.stringify(out)}`);
    });
  }
});
