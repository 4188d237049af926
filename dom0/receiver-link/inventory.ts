// Builds a ReceiverInventory from the agent's batches, checking what the schemas cannot: every
// name inside the receive root, no duplicates, snapshots only of datasets already listed, running
// totals within the protocol limits (checked before storing), and the announced totals.
import type { DatasetInfo, InventoryBatch, InventoryEnd } from '../../shared/protocol/schemas/replies.ts';
import type { ReceiverDataset, ReceiverInventory } from './types.ts';
import { isWithinRoot, pointDatasetWithinRoot } from '../../shared/protocol/confine.ts';
import { MAX_INVENTORY_DATASETS, MAX_INVENTORY_SNAPSHOTS } from '../../shared/protocol/limits.ts';
import { ProtocolError, ProtocolErrorCode } from '../../shared/protocol/errors.ts';
import { InventoryBudget } from './inventory-budget.ts';

/** Accumulates inventory batches for one receive root. */
export class InventoryCollector {
  private readonly datasets = new Map<string, ReceiverDataset>();
  private readonly points = new Set<string>();
  private readonly budget = new InventoryBudget();

  constructor(private readonly root: string) {}

  /** Adds one batch; throws a ProtocolError on the first violation. */
  add(batch: InventoryBatch): void {
    this.budget.charge(batch);
    if (this.datasets.size + batch.datasets.length > MAX_INVENTORY_DATASETS) {
      throw new ProtocolError(ProtocolErrorCode.LIMIT_EXCEEDED, `the receiver listed more than ${MAX_INVENTORY_DATASETS} datasets`);
    }
    if (this.points.size + batch.snapshots.length > MAX_INVENTORY_SNAPSHOTS) {
      throw new ProtocolError(ProtocolErrorCode.LIMIT_EXCEEDED, `the receiver listed more than ${MAX_INVENTORY_SNAPSHOTS} snapshots and bookmarks`);
    }
    for (const d of batch.datasets) this.addDataset(d);
    for (const p of batch.snapshots) {
      const separator = p.type === 'snapshot' ? '@' : '#';
      const dataset = pointDatasetWithinRoot(p.name, separator, this.root);
      if (dataset === null) throw refused(`the receiver listed ${JSON.stringify(p.name)}, which is not inside the receive root ${this.root}`);
      const owner = this.datasets.get(dataset);
      if (!owner) throw bad(`the receiver listed ${JSON.stringify(p.name)} before (or without) its dataset`);
      if (this.points.has(p.name)) throw bad(`the receiver listed ${JSON.stringify(p.name)} twice`);
      this.points.add(p.name);
      const point = { name: p.name, label: p.name.slice(dataset.length + 1), guid: BigInt(p.guid), createtxg: BigInt(p.createtxg) };
      (p.type === 'snapshot' ? owner.snapshots : owner.bookmarks).push(point);
    }
  }

  /** Checks the announced totals and returns the inventory, snapshots sorted by createtxg. */
  finish(end: InventoryEnd): ReceiverInventory {
    if (end.datasets !== this.datasets.size || end.snapshots !== this.points.size) {
      throw bad(`the receiver announced ${end.datasets} datasets and ${end.snapshots} snapshots but sent ${this.datasets.size} and ${this.points.size}`);
    }
    const byTxg = (a: { createtxg: bigint }, b: { createtxg: bigint }): number => (a.createtxg < b.createtxg ? -1 : a.createtxg > b.createtxg ? 1 : 0);
    for (const d of this.datasets.values()) {
      d.snapshots.sort(byTxg);
      d.bookmarks.sort(byTxg);
    }
    return { root: this.root, datasets: this.datasets };
  }

  private addDataset(d: DatasetInfo): void {
    if (!isWithinRoot(d.name, this.root)) throw refused(`the receiver listed ${JSON.stringify(d.name)}, which is not inside the receive root ${this.root}`);
    if (this.datasets.has(d.name)) throw bad(`the receiver listed ${JSON.stringify(d.name)} twice`);
    if (d.origin !== null && pointDatasetWithinRoot(d.origin, '@', this.root) === null) {
      throw refused(`the receiver reported the origin ${JSON.stringify(d.origin)} of ${d.name}, which is not inside the receive root`);
    }
    this.datasets.set(d.name, {
      name: d.name,
      type: d.type,
      guid: BigInt(d.guid),
      createtxg: BigInt(d.createtxg),
      origin: d.origin,
      encryption: d.encryption,
      inconsistent: d.inconsistent,
      placeholder: d.placeholder,
      resumeToken: d.resumeToken,
      written: BigInt(d.written),
      snapshots: [],
      bookmarks: [],
    });
  }
}

function bad(message: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.BAD_MESSAGE, message);
}

function refused(message: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.NAME_REFUSED, message);
}
