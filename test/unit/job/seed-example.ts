// The seed's example job file (backup1.yaml), with its indentation restored.
export const SEED_EXAMPLE = `name: mybackup1
scope:
  target-snapshot: "@backup-2025-04-14"
  since: beginning
  progressive: no
  honour-origins: no
allowed-behaviours:
  snapshot-creation: yes
  patching: no
receiver:
  qube: backups-disp
  dataset: backuppool/backups/mydesktop
include-groups:
  - core-qubes
  - dom0
  - misc
forgo-groups:
  - system
void-groups: []

# group definitions
core-qubes:
  type: qubes
  members:
    - social
    - personal-email
    - financial-accts
    - vault
    - work
    - work-email
misc:
  type: qubes
  members:
    - video-editing
dom0:
  type: datasets
  members:
    - mainpool/dom0
system:
  type: qubes
  members:
    - fedora-41-xfce
    - fedora-41-minimal
    - debian-12-xfce
    - default-dvm
    - default-mgmt-dvm
    - sys-firewall
    - sys-net
    - sys-usb
`;
