// store-settings / read-settings against a hostile or buggy dom0: names outside the receive root
// and chunks that do not match their hash are refused before any zfs call; oversized or
// non-ASCII chunks fail the schema. ZFS is faked; real ZFS is verified in real-zfs.vm.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { pack } from 'msgpackr';
import { FakeZfs } from './fake-zfs.ts';
import { encodeFrame, FrameType } from '../../../shared/protocol/frame.ts';
import { HELLO, startAgent } from './hostile-dom0.ts';
import type { Request } from '../../../shared/protocol/schemas/requests.ts';
import { chunkSettings, joinSettings, MAX_SETTINGS_CHUNK } from '../../../shared/protocol/settings-props.ts';

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

test('settings requests outside the root or with a wrong hash are refused without running zfs', async () => {
  const zfs = new FakeZfs();
  const agent = startAgent(zfs);
  agent.request(HELLO);
  assert.equal((await agent.next())?.kind, 'hello');
  const before = zfs.calls.length;
  const cases: Request[] = [
    { kind: 'store-settings', snapshot: 'backup/other@s', sha256: sha('{}'), chunks: ['{}'] },
    { kind: 'store-settings', snapshot: 'backup/qzb@s', sha256: sha('{}'), chunks: ['{}'] },
    { kind: 'read-settings', snapshot: 'tank/qubes/work@s' },
    { kind: 'store-settings', snapshot: 'backup/qzb/a@s', sha256: sha('{"x":1}'), chunks: ['{}'] },
  ];
  for (const c of cases) {
    agent.request(c);
    const r = await agent.next();
    assert.equal(r?.kind === 'error' && r.code, 'REQUEST_REFUSED', JSON.stringify(c));
  }
  assert.equal(zfs.calls.length, before);
  agent.close();
  assert.equal(await agent.session, 'closed');
});

test('a chunk over 8000 characters or with non-ASCII bytes is a bad message', async () => {
  for (const chunk of ['x'.repeat(MAX_SETTINGS_CHUNK + 1), 'caf\u00e9', 'a\nb']) {
    const agent = startAgent(new FakeZfs());
    agent.request(HELLO);
    await agent.next();
    // Raw msgpack: dom0's own encoder would refuse to send it.
    agent.write(encodeFrame(FrameType.CONTROL, pack({ kind: 'store-settings', snapshot: 'backup/qzb/a@s', sha256: sha(chunk), chunks: [chunk] })));
    const r = await agent.next();
    assert.equal(r?.kind === 'error' && r.code, 'PROTOCOL_BAD_MESSAGE');
    assert.equal(await agent.session, 'protocol-error');
  }
});

test('chunking: 8000-character pieces that join back to the same bytes and hash; ASCII only', () => {
  const text = 'a'.repeat(8000 * 2 + 5);
  const chunks = chunkSettings(Buffer.from(text));
  assert.deepEqual(chunks.map((c) => c.length), [8000, 8000, 5]);
  assert.equal(joinSettings(chunks).sha256, sha(text));
  assert.throws(() => chunkSettings(Buffer.from('café')), /printable ASCII/);
  assert.throws(() => chunkSettings(Buffer.from('x'.repeat(8000 * 120 + 1))), /more than 120 chunks/);
});
