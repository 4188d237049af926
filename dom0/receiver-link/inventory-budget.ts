// What one inventory may cost dom0: a cap on batch messages (empty ones are refused outright, so a
// flood of them fails at the first) and a byte budget over everything the collector keeps. Each
// batch is charged before any of it is stored, so the budget bounds memory, not just counts.
import type { InventoryBatch } from '../../shared/protocol/schemas/replies.ts';
import {
  INVENTORY_DATASET_OVERHEAD, INVENTORY_POINT_OVERHEAD, MAX_INVENTORY_BYTES, MAX_INVENTORY_MESSAGES,
} from '../../shared/protocol/limits.ts';
import { ProtocolError, ProtocolErrorCode } from '../../shared/protocol/errors.ts';

// Any character above U+00FF makes V8 store a whole string at two bytes per character.
const WIDE = /[\u0100-\uffff]/;

/** Accounted bytes of a kept string. */
function textCost(text: string | null): number {
  if (text === null) return 0;
  return WIDE.test(text) ? 2 * text.length : text.length;
}

/** Charges the batches of one inventory against MAX_INVENTORY_MESSAGES and MAX_INVENTORY_BYTES. */
export class InventoryBudget {
  private messages = 0;
  private bytes = 0;

  /** Accounted bytes so far. */
  get used(): number {
    return this.bytes;
  }

  /** Charges `batch`; throws PROTOCOL_BAD_MESSAGE (empty) or PROTOCOL_LIMIT_EXCEEDED. */
  charge(batch: InventoryBatch): void {
    if (batch.datasets.length === 0 && batch.snapshots.length === 0) {
      throw new ProtocolError(ProtocolErrorCode.BAD_MESSAGE, 'the receiver sent an empty inventory batch');
    }
    if (++this.messages > MAX_INVENTORY_MESSAGES) {
      throw new ProtocolError(ProtocolErrorCode.LIMIT_EXCEEDED, `the receiver sent more than ${MAX_INVENTORY_MESSAGES} inventory batches`);
    }
    let cost = 0;
    for (const d of batch.datasets) {
      cost += INVENTORY_DATASET_OVERHEAD + textCost(d.name) + textCost(d.origin) + textCost(d.encryption) + textCost(d.resumeToken);
    }
    for (const p of batch.snapshots) cost += INVENTORY_POINT_OVERHEAD + textCost(p.name);
    this.bytes += cost;
    if (this.bytes > MAX_INVENTORY_BYTES) {
      throw new ProtocolError(ProtocolErrorCode.LIMIT_EXCEEDED, `the receiver's inventory exceeds dom0's budget of ${MAX_INVENTORY_BYTES / (1024 * 1024)} MiB (names, resume tokens and per-entry costs)`);
    }
  }
}
