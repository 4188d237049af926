// The ZFS half of the inventory (two `zfs list` calls; see dom0/zfs/list.ts).
export { listZfsInventory as collectZfs } from '../zfs/inventory.ts';
