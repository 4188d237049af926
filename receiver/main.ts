// The receiver agent entry, run by the qrexec service qubes.ZfsBackupReceive inside the receiver qube.
import { VERSION } from '../shared/version.ts';

process.stderr.write(`qubes-zfs-backup-receiver ${VERSION}\n`);
