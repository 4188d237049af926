// Builders for the error replies every handler uses: message text and stderr lines are made safe
// and bounded here, once.
import type { AgentErrorCode, ErrorReply } from '../shared/protocol/schemas/replies.ts';
import { toSafeText } from '../shared/protocol/schemas/common.ts';
import { MAX_STDERR_LINES } from '../shared/protocol/limits.ts';
import { firstLines, type ZfsOutput } from './zfs-runner.ts';

/** An in-band error reply with a safe, bounded message. */
export function errorReply(code: AgentErrorCode, message: string, stderr: string[] = []): ErrorReply {
  return { kind: 'error', code, message: toSafeText(message), stderr: stderr.slice(0, MAX_STDERR_LINES).map((l) => toSafeText(l)) };
}

/** The first stderr lines of a zfs command, made safe for the wire. */
export function safeStderr(output: ZfsOutput): string[] {
  return firstLines(output.stderr, MAX_STDERR_LINES).map((l) => toSafeText(l));
}

/** An error reply for a failed zfs command, naming it and carrying its first stderr lines. */
export function zfsFailure(what: string, output: ZfsOutput): ErrorReply {
  const how = output.exitCode === null ? `killed by ${output.signal ?? 'a signal'}` : `exit ${output.exitCode}`;
  return errorReply('ZFS_COMMAND_FAILED', `${what} failed (${how})`, safeStderr(output));
}
