// The agent's own stdin reader (FdInput) and the on-demand frame reader over it: a read is issued
// only when a frame is wanted, so after a request frame nothing more has been taken from the
// descriptor (idle) and it can be handed to an unframed zfs receive; close() ends a pending read.
// A FIFO opened read-write stands in for the qrexec channel (a real descriptor, blocking).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync, constants } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FdInput } from '../../../receiver/fd-input.ts';
import { readFrames } from '../../../shared/protocol/stream-io.ts';
import { encodeFrame, FrameType } from '../../../shared/protocol/frame.ts';

function fifo(): { fd: number; done: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qzb-fd-input-'));
  const file = path.join(dir, 'channel');
  execFileSync('mkfifo', [file]);
  // O_RDWR: Linux opens a FIFO so without waiting for a peer; the same fd serves both ends here.
  const fd = openSync(file, constants.O_RDWR);
  return { fd, done: () => { closeSync(fd); rmSync(dir, { recursive: true, force: true }); } };
}

test('frames are read on demand: after a request frame nothing more was read, and the rest stays on the descriptor', async () => {
  const { fd, done } = fifo();
  try {
    const frames = readFrames(new FdInput(fd, true));
    writeSync(fd, encodeFrame(FrameType.CONTROL, Buffer.from('hello')));
    const first = await frames.next();
    assert.equal(first.done, false);
    assert.equal(first.value.payload.toString(), 'hello');
    assert.equal(frames.idle(), true, 'no read pending, nothing buffered');
    // Bytes written now are still there for another reader (here: a plain read of the fd).
    writeSync(fd, Buffer.from('RAW-STREAM'));
    const out = Buffer.alloc(32);
    const n = readSync(fd, out, 0, 32, null);
    assert.equal(out.subarray(0, n).toString(), 'RAW-STREAM');
    // Then frames again on the same descriptor.
    writeSync(fd, encodeFrame(FrameType.CONTROL, Buffer.from('next')));
    const second = await frames.next();
    assert.equal(second.value?.payload.toString(), 'next');
    const pending = frames.next();
    assert.equal(frames.idle(), false, 'a read is pending');
    writeSync(fd, Buffer.concat([encodeFrame(FrameType.CONTROL, Buffer.from('a')), encodeFrame(FrameType.CONTROL, Buffer.from('b'))]));
    assert.equal((await pending).value?.payload.toString(), 'a');
    assert.equal(frames.idle(), false, 'a decoded frame is still queued');
    assert.equal((await frames.next()).value?.payload.toString(), 'b');
    assert.equal(frames.idle(), true);
  } finally {
    done();
  }
});

test('close() ends a pending read as a premature close (a signal), not as a clean EOF', async () => {
  const { fd, done } = fifo();
  try {
    const input = new FdInput(fd, true);
    const frames = readFrames(input);
    const pending = frames.next();
    input.close();
    await assert.rejects(pending, (e: { code?: string }) => e.code === 'ERR_STREAM_PREMATURE_CLOSE');
    assert.equal(input.closed.aborted, true);
  } finally {
    // The abandoned read is still blocked on the FIFO: give it a byte so the thread is freed.
    writeSync(fd, Buffer.from('x'));
    done();
  }
});
