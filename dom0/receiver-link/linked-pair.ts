// Test support: a ReceiverClient wired to an in-process agent session over two PassThrough
// streams, no qrexec and no child process. Protocol-order and validation tests inject a fake ZFS
// runner; the VM scripts inject the real one to drive real `zfs receive` in-process.
import { PassThrough } from 'node:stream';
import { ReceiverClient } from './client.ts';
import { serveSession, type SessionEnd } from '../../receiver/session.ts';
import type { AgentZfs } from '../../receiver/zfs-runner.ts';
import type { LinkTimeouts } from './timeouts.ts';

/** A client and the agent session it talks to. */
export interface LinkedPair {
  client: ReceiverClient;
  /** Resolves when the agent's session has ended. */
  agent: Promise<SessionEnd>;
  /** The raw streams, for tests that want to interfere. */
  toAgent: PassThrough;
  toClient: PassThrough;
}

/** Connects a client to an in-process agent using `zfs`; `log` receives the agent's log lines. */
export function createLinkedPair(zfs: AgentZfs, options: { log?: (line: string) => void; highWaterMark?: number; graceMs?: number; timeouts?: Partial<LinkTimeouts> } = {}): LinkedPair {
  const hwm = options.highWaterMark ?? 64 * 1024;
  const toAgent = new PassThrough({ highWaterMark: hwm });
  const toClient = new PassThrough({ highWaterMark: hwm });
  const agent = serveSession(toAgent, toClient, { zfs, version: 'test', log: options.log });
  const client = new ReceiverClient(toClient, toAgent, {
    ...options.timeouts,
    // Like the qrexec stop sequence: EOF first, then (after a grace) cut the input outright.
    stopTransport: async () => {
      const timer = setTimeout(() => toAgent.destroy(), options.graceMs ?? 1000);
      await agent;
      clearTimeout(timer);
    },
  });
  return { client, agent, toAgent, toClient };
}
