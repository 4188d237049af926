// The two listing commands behind the ZFS inventory and their pure parsers. One recursive listing
// of filesystems/volumes and one of snapshots/bookmarks, whatever the number of datasets; `-H -p`
// output split on tabs with an exact field count (names may contain spaces, never tabs).
import { QzbError } from '../../shared/errors.ts';
import type { ZfsBookmark, ZfsDataset, ZfsInventory, ZfsSnapshot } from '../inventory/types.ts';

/** Properties of the dataset listing, in column order. */
export const DATASET_PROPERTIES = [
  'name', 'type', 'guid', 'createtxg', 'origin', 'encryption', 'receive_resume_token', 'org.qubes:dirty',
] as const;

/** Properties of the snapshot/bookmark listing, in column order. */
export const SNAPSHOT_PROPERTIES = ['name', 'guid', 'createtxg', 'creation'] as const;

// argv (without the binary) of the filesystem/volume listing.
export function datasetListArgs(): string[] {
  return ['list', '-H', '-p', '-t', 'filesystem,volume', '-o', DATASET_PROPERTIES.join(',')];
}

// argv of the snapshot/bookmark listing.
export function snapshotListArgs(): string[] {
  return ['list', '-H', '-p', '-t', 'snapshot,bookmark', '-o', SNAPSHOT_PROPERTIES.join(',')];
}

// argv that lists only the named snapshots (to read the GUIDs of snapshots just created).
export function namedSnapshotListArgs(names: readonly string[]): string[] {
  return ['list', '-H', '-p', '-t', 'snapshot', '-o', SNAPSHOT_PROPERTIES.join(','), ...names];
}

/** A line of `zfs list` output that does not have the shape we asked for. */
export class ZfsParseError extends QzbError {
  constructor(what: string, lineNumber: number, line: string) {
    super('ZFS_OUTPUT_UNPARSABLE', `unexpected \`zfs list\` output (${what}) on line ${lineNumber}: ${JSON.stringify(line.slice(0, 200))}`, {
      hint: 'This zfs version may print something this tool does not know. Run the command with --verbose and report the output.',
    });
  }
}

function splitLines(stdout: string): string[] {
  return stdout.split('\n').filter((l) => l.length > 0);
}

function fields(line: string, count: number, lineNumber: number): string[] {
  const parts = line.split('\t');
  // The last column may be a user property whose value could contain a tab: keep it whole.
  if (parts.length > count) parts.splice(count - 1, parts.length, parts.slice(count - 1).join('\t'));
  if (parts.length !== count) throw new ZfsParseError(`expected ${count} tab-separated fields, got ${parts.length}`, lineNumber, line);
  return parts;
}

function bigintField(value: string, what: string, lineNumber: number, line: string): bigint {
  if (!/^[0-9]+$/.test(value)) throw new ZfsParseError(`${what} is not a number`, lineNumber, line);
  return BigInt(value);
}

function nullIfDash(value: string): string | null {
  return value === '-' || value === '' ? null : value;
}

// Parses the filesystem/volume listing into datasets with empty snapshot lists.
export function parseDatasetList(stdout: string): ZfsDataset[] {
  return splitLines(stdout).map((line, i) => {
    const n = i + 1;
    const [name, type, guid, createtxg, origin, encryption, token, dirty] = fields(line, DATASET_PROPERTIES.length, n) as [
      string, string, string, string, string, string, string, string,
    ];
    if (type !== 'filesystem' && type !== 'volume') throw new ZfsParseError(`type ${JSON.stringify(type)}`, n, line);
    return {
      name,
      type,
      guid: bigintField(guid, 'guid', n, line),
      createtxg: bigintField(createtxg, 'createtxg', n, line),
      origin: nullIfDash(origin),
      encrypted: encryption !== 'off' && encryption !== '-',
      receiveResumeToken: nullIfDash(token),
      qubesDirty: dirty === 'on' ? 'on' : dirty === 'off' ? 'off' : null,
      snapshots: [],
      bookmarks: [],
    };
  });
}

// The snapshot/bookmark listing, split by kind.
export interface SnapshotListing {
  snapshots: ZfsSnapshot[];
  bookmarks: ZfsBookmark[];
}

// Parses the snapshot/bookmark listing (a name with '@' is a snapshot, with '#' a bookmark).
export function parseSnapshotList(stdout: string): SnapshotListing {
  const out: SnapshotListing = { snapshots: [], bookmarks: [] };
  splitLines(stdout).forEach((line, i) => {
    const n = i + 1;
    const [name, guid, createtxg, creation] = fields(line, SNAPSHOT_PROPERTIES.length, n) as [string, string, string, string];
    const g = bigintField(guid, 'guid', n, line);
    const t = bigintField(createtxg, 'createtxg', n, line);
    if (name.includes('@')) {
      out.snapshots.push({ name, guid: g, createtxg: t, creation: bigintField(creation, 'creation', n, line) });
    } else if (name.includes('#')) {
      out.bookmarks.push({ name, guid: g, createtxg: t });
    } else {
      throw new ZfsParseError('a name that is neither a snapshot nor a bookmark', n, line);
    }
  });
  return out;
}

function byTxg(a: { createtxg: bigint; name: string }, b: { createtxg: bigint; name: string }): number {
  if (a.createtxg !== b.createtxg) return a.createtxg < b.createtxg ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

// Joins both listings: datasets sorted by name, each with its snapshots/bookmarks by createtxg.
export function assembleInventory(datasets: ZfsDataset[], listing: SnapshotListing): ZfsInventory {
  const byName = new Map(datasets.map((d) => [d.name, d]));
  for (const s of listing.snapshots) byName.get(s.name.slice(0, s.name.indexOf('@')))?.snapshots.push(s);
  for (const b of listing.bookmarks) byName.get(b.name.slice(0, b.name.indexOf('#')))?.bookmarks.push(b);
  for (const d of datasets) {
    d.snapshots.sort(byTxg);
    d.bookmarks.sort(byTxg);
  }
  return { datasets: [...datasets].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) };
}
