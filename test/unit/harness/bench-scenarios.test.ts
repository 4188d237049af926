// The benchmarks' generated scenarios are valid scenario files (a bench that cannot parse its own
// scenario would only fail after a VM boot).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseScenarioText } from '../../harness/scenario.ts';
import * as contentHash from '../../bench/content-hash.bench.ts';
import * as restore from '../../bench/restore.bench.ts';
import * as send from '../../bench/send.bench.ts';

test('every benchmark scenario parses, and its measured steps exist', () => {
  for (const [name, bench] of Object.entries({ contentHash, restore, send })) {
    const { text, at } = bench.scenario();
    const s = parseScenarioText(`${name}.yaml`, text);
    for (const [what, step] of Object.entries(at)) {
      for (const n of Array.isArray(step) ? step : [step]) assert.ok(n >= 1 && n <= s.steps.length, `${name}: ${what} is step ${n} of ${s.steps.length}`);
    }
  }
});

test('send bench: a bookmark counts for the step that sent its snapshot, wherever --verbose prints it', () => {
  const stderr = [
    'zfs list -H -p -t filesystem,volume',
    'zfs send -n -v -P -L -c -e mainpool/small@s001',
    'zfs send -L -c -e mainpool/small@s001',
    'zfs send -L -c -e -i mainpool/small@s001 mainpool/small@s002',
    "zfs bookmark mainpool/small@s001 'mainpool/small#s001'",
    'zfs send -L -c -e -i mainpool/small@s002 mainpool/small@s003',
    "zfs bookmark mainpool/small@s002 'mainpool/small#s002'",
    "zfs bookmark mainpool/small@s003 'mainpool/small#s003'",
    'progress lines and other output are not calls',
  ].join('\n');
  assert.deepEqual(send.zfsCallsPerStep(stderr), { startup: 2, perStep: [2, 2, 2] });
});
