// The receiver as the send planner sees it, built from the agent's validated hello and inventory
// replies (names already confined to the receive root by the link).
import type { ReceiverHello, ReceiverInventory } from '../receiver-link/types.ts';
import type { ReceiverDatasetView, ReceiverView } from './types.ts';

// Combines hello and inventory into the planner's view.
export function receiverView(root: string, hello: ReceiverHello, inventory: ReceiverInventory): ReceiverView {
  const datasets = new Map<string, ReceiverDatasetView>();
  for (const d of inventory.datasets.values()) {
    datasets.set(d.name, {
      name: d.name,
      type: d.type,
      encryption: d.encryption,
      inconsistent: d.inconsistent,
      placeholder: d.placeholder,
      resumeToken: d.resumeToken,
      written: (d as { written?: bigint }).written ?? 0n,
      snapshots: d.snapshots.map((s) => ({ label: s.label, guid: s.guid })),
    });
  }
  return {
    root,
    rootExists: hello.receiveRoot.exists,
    rootType: hello.receiveRoot.type,
    rootEncryption: hello.receiveRoot.encryption,
    rootKeyStatus: hello.receiveRoot.keyStatus,
    features: hello.features,
    datasets,
  };
}

// The receiving datasets whose resume tokens a plan of these targets may use (only those are decoded).
export function tokensToDecode(root: string, datasets: Iterable<string>, view: ReceiverView): Map<string, string> {
  const out = new Map<string, string>();
  for (const ds of datasets) {
    const receiving = `${root}/${ds}`;
    const token = view.datasets.get(receiving)?.resumeToken;
    if (token) out.set(receiving, token);
  }
  return out;
}
