// The qrexec child: argv, allow-listed environment, the close → SIGTERM → SIGKILL stop sequence,
// and a real agent process behind a local launcher (fake zfs script) to prove the stdio wiring.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { PassThrough } from 'node:stream';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectReceiver, receiverCommand, receiverEnv } from '../../../dom0/receiver-link/spawn.ts';
import { PreparedPipe } from '../../../dom0/receiver-link/stdin-fifo.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

test('argv: qrexec-client -d QUBE root:QUBESRPC qubes.ZfsBackupReceive dom0; QZB_QREXEC_CLIENT overrides', () => {
  assert.deepEqual(receiverCommand('backup-vm', {}), { file: '/usr/lib/qubes/qrexec-client', args: ['-d', 'backup-vm', 'root:QUBESRPC qubes.ZfsBackupReceive dom0'] });
  assert.equal(receiverCommand('b', { QZB_QREXEC_CLIENT: '/x/launcher' }).file, '/x/launcher');
  for (const bad of ['', 'dom0', '-d', 'a b', 'a;b', '1abc', 'x'.repeat(32), 'back\nup', '@anyvm']) {
    assert.throws(() => receiverCommand(bad, {}), { code: 'INVALID_QUBE_NAME' }, bad);
  }
});

test('environment: PATH, LC_ALL=C and QZB_* only', () => {
  const env = receiverEnv({ PATH: '/bin', HOME: '/root', SSH_AUTH_SOCK: '/s', LANG: 'de_DE', QZB_ZFS: '/z', DISPLAY: ':0', LC_ALL: 'de_DE' });
  assert.deepEqual(env, { PATH: '/bin', LC_ALL: 'C', QZB_ZFS: '/z' });
});

test('stop sequence: a child that ignores EOF and SIGTERM is killed with SIGKILL', async () => {
  const link = connectReceiver('backup-vm', { env: { PATH: process.env.PATH, QZB_QREXEC_CLIENT: path.join(here, 'stubborn-qrexec-client.sh') }, graceMs: 200, termMs: 200 });
  const started = Date.now();
  await link.client.close();
  assert.equal(await link.exited, null, 'killed by a signal');
  assert.ok(Date.now() - started < 5000);
});

test('the qrexec call reads a pipe: the one made ahead when it is ready, else one made then', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'qzb-spawn-test-'));
  const launcher = path.join(dir, 'qrexec-client');
  writeFileSync(launcher, '#!/bin/sh\n[ -p /dev/stdin ] && echo "stdin: $(readlink /proc/self/fd/0)" >&2\n');
  chmodSync(launcher, 0o755);
  const env = { PATH: process.env.PATH, QZB_QREXEC_CLIENT: launcher };
  try {
    for (const when of ['ready', 'not yet', 'none'] as const) {
      const prepared = when === 'none' ? undefined : new PreparedPipe();
      if (when === 'ready') await prepared!.settled;
      const link = connectReceiver('backup-vm', { env, ...(prepared ? { prepared } : {}) });
      assert.equal(prepared?.take() ?? null, null, 'taken (or closed when it arrives)');
      assert.equal(await link.exited, 0);
      await link.client.close();
      assert.ok(link.stderrTail().some((l) => /^stdin: .*qzb-link-.*\/stdin \(deleted\)$/.test(l)), `${when}: ${link.stderrTail().join('\n')}`);
      await prepared?.settled;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a real agent process behind the launcher: hello and inventory over its stdio; clean exit on close', async () => {
  const log = '/tmp/qzb-fake-zfs.log';
  rmSync(log, { force: true });
  const commands: string[] = [];
  const link = connectReceiver('backup-vm', {
    env: {
      PATH: process.env.PATH, HOME: '/root', SECRET_TOKEN: 'must-not-leak',
      QZB_QREXEC_CLIENT: path.join(here, '../receiver/local-qrexec-client.sh'),
      QZB_ZFS: path.join(here, 'fake-zfs.sh'), QZB_ZPOOL: path.join(here, 'fake-zfs.sh'),
    },
    onCommand: (line) => commands.push(line),
  });
  const hello = await link.client.hello('backup/qzb');
  assert.equal(hello.receiveRoot.exists, true);
  assert.equal(hello.features.get('extensible_dataset'), 'active');
  const inv = await link.client.inventory();
  assert.deepEqual([...inv.datasets.keys()], ['backup/qzb']);
  await link.client.close();
  assert.equal(await link.exited, 0);
  assert.match(commands[0]!, /local-qrexec-client\.sh -d backup-vm 'root:QUBESRPC qubes\.ZfsBackupReceive dom0'$/);
  assert.ok(link.stderrTail().some((l) => l.includes('session ended: closed')), link.stderrTail().join('\n'));
  const seen = readFileSync(log, 'utf8');
  assert.ok(!seen.includes('SECRET_TOKEN') && !seen.includes('HOME'), 'zfs sees neither dom0 secrets nor HOME');
  assert.match(seen, /^LC_ALL PATH $/m, seen);
});

test('SIGTERM to the agent mid-receive: it closes zfs stdin, waits for zfs, and exits 0', async () => {
  const link = connectReceiver('backup-vm', {
    env: { PATH: process.env.PATH, QZB_QREXEC_CLIENT: path.join(here, '../receiver/local-qrexec-client.sh'), QZB_ZFS: path.join(here, 'fake-zfs.sh'), QZB_ZPOOL: path.join(here, 'fake-zfs.sh') },
  });
  await link.client.hello('backup/qzb');
  const source = new PassThrough();
  let sent = 0n;
  const pending = link.client.receive({ dataset: 'backup/qzb/a/b', snapshot: 's', type: 'filesystem', stream: 'full', origin: null, raw: false, resume: false }, source, { onProgress: (b) => (sent = b) }).catch((e: unknown) => e);
  source.write(Buffer.alloc(300_000, 1));
  while (sent < 300_000n) await new Promise((r) => setTimeout(r, 10));
  process.kill(link.pid!, 'SIGTERM');
  const outcome = await pending;
  assert.ok(outcome instanceof Error, String(outcome));
  assert.equal(await link.exited, 0);
  const tail = link.stderrTail().join('\n');
  assert.match(tail, /SIGTERM: stopping/, tail);
  assert.match(tail, /closing the stream so ZFS keeps resumable state|the input stream broke/);
  assert.match(tail, /session ended: disconnected/);
  await link.client.close();
});

test('a qrexec client that cannot run or exits at once: the error says why', async () => {
  const missing = connectReceiver('backup-vm', { env: { PATH: process.env.PATH, QZB_QREXEC_CLIENT: '/nonexistent/qrexec-client' } });
  await assert.rejects(missing.client.hello('backup/qzb'), (e: Error & { code?: string }) => e.code === 'PROTOCOL_PEER_CLOSED' && /cannot run \/nonexistent\/qrexec-client/.test(e.message));
  await missing.client.close();
  const refused = connectReceiver('backup-vm', { env: { PATH: process.env.PATH, QZB_QREXEC_CLIENT: path.join(here, 'refusing-qrexec-client.sh') } });
  await assert.rejects(refused.client.hello('backup/qzb'), (e: Error & { code?: string }) => e.code === 'PROTOCOL_PEER_CLOSED' && /exited with status 126: Request refused/.test(e.message));
  await refused.client.close();
  const halted = connectReceiver('backup-vm', { env: { PATH: process.env.PATH, QZB_QREXEC_CLIENT: path.join(here, 'unreachable-qrexec-client.sh') } });
  await assert.rejects(halted.client.hello('backup/qzb'), (e: Error & { code?: string }) => e.code === 'PROTOCOL_PEER_CLOSED'
    && /receiver qube backup-vm could not be reached \(is it running\? start it with qvm-start backup-vm/.test(e.message) && /exited with status 125/.test(e.message));
  await halted.client.close();
});
