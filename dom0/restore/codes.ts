// The finding codes of `restore`. Documented in dom0/FINDINGS.md; test/unit/commands/findings-doc.test.ts
// keeps the table and this catalogue in step.
import type { CodeInfo } from '../job/findings.ts';

/** Restore finding codes with their severity and meaning. */
export const RESTORE_CODES = {
  RESTORE_NOT_IN_BACKUP: { severity: 'error', meaning: 'the receiver holds no backup of a requested qube (with that label)' },
  RESTORE_AS_NEEDS_ONE: { severity: 'error', meaning: '`--as` with more or fewer than one qube' },
  RESTORE_QUBE_EXISTS: { severity: 'error', meaning: 'a qube of that name exists (and is not our own interrupted restore): never overwritten; use --as' },
  RESTORE_SETTINGS_ALTERED: { severity: 'error', meaning: "the receiver's settings copy is not the one recorded in dom0 (refused unless --accept-settings, and always when it is not even valid)" },
  RESTORE_SETTINGS_ACCEPTED: { severity: 'warning', meaning: 'altered settings used because of --accept-settings' },
  RESTORE_SETTINGS_UNUSABLE: { severity: 'error', meaning: 'the settings are not on the receiver, or not a valid document of this qube and label' },
  RESTORE_SETTINGS_UNRECORDED: { severity: 'warning', meaning: 'no record in dom0 to compare the settings with (no metadata): used as the backup qube returned them' },
  RESTORE_TEMPLATE_MISSING: { severity: 'error', meaning: 'the recorded template does not exist and is not restored too: restore it, or --template' },
  RESTORE_NETVM_MISSING: { severity: 'error', meaning: 'the recorded netvm does not exist and is not restored too: restore it, or --netvm (none: no network)' },
  RESTORE_PROPERTY_SKIPPED: { severity: 'warning', meaning: 'a property naming a qube that does not exist here (default_dispvm, …) is left at its default' },
  RESTORE_VOLUME_MISSING: { severity: 'error', meaning: 'a persistent volume of the settings is not on the receiver with that label' },
  RESTORE_GUID_MISMATCH: { severity: 'error', meaning: 'a volume snapshot on the receiver has another GUID than send recorded' },
  RESTORE_NO_VOLUMES: { severity: 'warning', meaning: 'the backup has no persistent volume of the qube: only its settings are restored' },
  RESTORE_CONTENT_UNVERIFIED: { severity: 'warning', meaning: 'no content hash recorded (snapshot --content-hash): the restored data is as trustworthy as the backup qube' },
  RESTORE_DEVICES_SKIPPED: { severity: 'info', meaning: 'device assignments are not applied without --devices' },
  RESTORE_DEVICE_NOT_APPLIED: { severity: 'warning', meaning: '--devices: an assignment that cannot be applied here (backend missing, a mode or value this release cannot take) or that qubesd refused: the qube is restored without it; the message gives the qvm-device command' },
  RESTORE_DEVICE_CONVERTED: { severity: 'info', meaning: '--devices: R4.2 assignments applied on R4.3 with mode required (a USB identity as the device id)' },
  RESTORE_CONTENT_MISMATCH: { severity: 'error', meaning: "an imported volume's SHA-256 differs from the recorded content hash: the qube stays tagged restore-in-progress" },
  RESTORE_SIZE_MISMATCH: { severity: 'error', meaning: 'a volume has another size after the import than recorded' },
  IMPORT_FAILED: { severity: 'error', meaning: "Qubes' import (admin.vm.volume.ImportWithSize) failed or stopped: the qube stays tagged; run restore again" },
  EXPORT_SIZE_MISMATCH: { severity: 'error', meaning: "the receiver announced another volsize than the volume's recorded size" },
  EXPORT_GUID_MISMATCH: { severity: 'error', meaning: 'the volume snapshot the receiver exports has another GUID than recorded' },
  RESTORE_NOTES_NOT_APPLIED: { severity: 'warning', meaning: "the qube's notes are not restored: dom0's qubesd has no notes calls (R4.2), or they exceed its 256000 bytes" },
  RESTORE_ZFS_RECEIVE: { severity: 'warning', meaning: "--zfs-receive: dom0's kernel parses the backup qube's zfs send streams (lineage kept in return)" },
  RESTORE_ZFS_RECEIVE_POOL: { severity: 'error', meaning: "--zfs-receive: a volume's pool does not use the zfs driver" },
  RESTORE_ZFS_RECEIVE_ENCRYPTED: { severity: 'error', meaning: '--zfs-receive: a volume is encrypted on the receiver (raw backup): restore it through the import path' },
  RESTORE_RECEIVE_FAILED: { severity: 'error', meaning: "--zfs-receive: dom0's zfs receive failed or stopped (partial state is kept; run restore again to resume)" },
  RESTORE_TEMP_EXISTS: { severity: 'error', meaning: '--zfs-receive: <vid>.qzb-restore or <vid>.qzb-replaced exists and is not what this restore left' },
  RESTORE_VOLUME_NOT_FRESH: { severity: 'error', meaning: "--zfs-receive: the qube's volume has snapshots the driver did not make: not replaced" },
  RESTORE_ASIDE_LEFT: { severity: 'warning', meaning: "--zfs-receive: the qube's empty volume, renamed aside, could not be destroyed" },
} as const satisfies Record<string, CodeInfo>;
