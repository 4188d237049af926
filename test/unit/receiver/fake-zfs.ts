// A fake ZFS for protocol-order and validation tests only: a tiny in-memory dataset table that
// answers the exact commands the agent runs. Real ZFS behaviour is verified in the VM.
import { PassThrough } from 'node:stream';
import type { AgentZfs, ReceiveProcess, ZfsOutput } from '../../../receiver/zfs-runner.ts';

/** One fake dataset. */
export interface FakeDataset {
  type: 'filesystem' | 'volume';
  guid: string;
  createtxg: string;
  origin?: string;
  token?: string;
  placeholder?: boolean;
  /** Bytes written since the newest snapshot (default 0). */
  written?: string;
  /** Where the placeholder marker comes from (default 'local' when placeholder is set). */
  markerSource?: string;
  /** `zfs userspace -o objused` output lines (default: one root directory, "1"). */
  objused?: string[];
  encryption?: string;
}

/** What a fake `zfs receive` does once its stdin has ended (or at once, if exitEarly). */
export interface FakeReceiveBehaviour {
  /** Exit code; 0 creates the snapshot. */
  exitCode?: number;
  stderr?: string;
  /** Leave this token on the dataset when failing. */
  token?: string;
  /** Exit as soon as this many bytes have arrived (without waiting for EOF). */
  exitAfterBytes?: number;
  /** Stop reading stdin entirely (to test backpressure). */
  stall?: boolean;
}

const ok = (stdout = ''): ZfsOutput => ({ exitCode: 0, signal: null, stdout, stderr: '' });
const fail = (stderr: string, exitCode = 1): ZfsOutput => ({ exitCode, signal: null, stdout: '', stderr });

/** A fake AgentZfs with an inspectable table and call log. */
export class FakeZfs implements AgentZfs {
  readonly datasets = new Map<string, FakeDataset>();
  readonly snapshots = new Map<string, { guid: string; createtxg: string }>();
  readonly calls: string[][] = [];
  readonly received: Buffer[] = [];
  receiveBehaviour: FakeReceiveBehaviour = {};
  features = 'feature@extensible_dataset\tactive\nfeature@large_blocks\tenabled\nfeature@bogus\tactive\n';
  private txg = 100n;

  constructor(root = 'backup/qzb') {
    this.datasets.set(root.split('/')[0]!, { type: 'filesystem', guid: '11', createtxg: '1' });
    if (root.includes('/')) this.datasets.set(root, { type: 'filesystem', guid: '12', createtxg: '2' });
  }

  /** Milliseconds each zfs() call takes (to widen races). */
  delayMs = 0;

  async zfs(args: string[]): Promise<ZfsOutput> {
    this.calls.push(['zfs', ...args]);
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    const [cmd, ...rest] = args;
    const last = rest[rest.length - 1] ?? '';
    if (cmd === 'version') return ok('zfs-2.3.2-1\nzfs-kmod-2.3.2-1\n');
    if (cmd === 'get') {
      const props = rest[rest.length - 2]!;
      const snap = this.snapshots.get(last);
      const ds = this.datasets.get(last);
      if (!snap && !ds) return fail(`cannot open '${last}': dataset does not exist\n`);
      if (props === 'guid') return ok(`${(snap ?? ds)!.guid}\n`);
      if (props === 'type') return ok(`${snap ? 'snapshot' : ds!.type}\n`);
      if (props === 'receive_resume_token') return ok(`${ds?.token ?? '-'}\n`);
      if (props === 'type,encryption,keystatus') return ok(`type\t${ds!.type}\nencryption\toff\nkeystatus\t-\n`);
      if (props === 'type,origin,encryption,inconsistent,receive_resume_token,org.qubes-zfs-backup:placeholder' && ds) {
        const marker = ds.placeholder ? `on\t${ds.markerSource ?? 'local'}` : '-\t-';
        return ok(`type\t${ds.type}\t-\norigin\t${ds.origin ?? '-'}\t-\nencryption\t${ds.encryption ?? 'off'}\tdefault\n` +
          `inconsistent\t${ds.token && !ds.placeholder ? '1' : '0'}\t-\nreceive_resume_token\t${ds.token ?? '-'}\t-\norg.qubes-zfs-backup:placeholder\t${marker}\n`);
      }
      return fail(`bad property list: ${props}\n`, 2);
    }
    if (cmd === 'userspace') {
      const ds = this.datasets.get(last);
      return ds ? ok((ds.objused ?? ['1']).map((l) => l + '\n').join('')) : fail(`cannot open '${last}': dataset does not exist\n`);
    }
    if (cmd === 'list' && rest.includes('-d')) {
      return ok([...this.snapshots.keys()].filter((n) => n.startsWith(last + '@')).map((n) => n + '\n').join(''));
    }
    if (cmd === 'list') {
      const root = last;
      if (!this.datasets.has(root)) return fail(`cannot open '${root}': dataset does not exist\n`);
      const under = (n: string): boolean => n === root || n.startsWith(root + '/') || n.startsWith(root + '@');
      if (rest.includes('filesystem,volume')) {
        const lines = [...this.datasets].filter(([n]) => under(n)).map(([n, d]) =>
          [n, d.type, d.guid, d.createtxg, d.origin ?? '-', 'off', d.token && !d.placeholder ? '1' : '0', d.placeholder ? 'on' : '-', d.token ?? '-', d.written ?? '0'].join('\t'));
        return ok(lines.map((l) => l + '\n').join(''));
      }
      const lines = [...this.snapshots].filter(([n]) => under(n.split('@')[0]!) ).map(([n, s]) => [n, 'snapshot', s.guid, s.createtxg].join('\t'));
      return ok(lines.map((l) => l + '\n').join(''));
    }
    if (cmd === 'create') {
      if (this.datasets.has(last)) return fail(`cannot create '${last}': dataset already exists\n`);
      this.datasets.set(last, { type: 'filesystem', guid: String(++this.txg * 7n), createtxg: String(this.txg), placeholder: true });
      return ok();
    }
    if (cmd === 'receive' && rest[0] === '-A') {
      const ds = this.datasets.get(last);
      if (!ds?.token) return fail(`'${last}' does not have any resumable receive state to abort\n`);
      delete ds.token;
      return ok();
    }
    return fail(`fake zfs: unsupported command ${args.join(' ')}\n`, 2);
  }

  async zpool(args: string[]): Promise<ZfsOutput> {
    this.calls.push(['zpool', ...args]);
    return ok(`size\t1000\n${this.features}`);
  }

  receive(args: string[]): ReceiveProcess {
    this.calls.push(['zfs', ...args]);
    const behaviour = this.receiveBehaviour;
    const target = args[args.length - 1]!;
    const [dataset] = target.split('@') as [string];
    const stdin = new PassThrough({ highWaterMark: 16 * 1024 });
    let bytes = 0;
    let resolveDone: (o: ZfsOutput) => void = () => {};
    const done = new Promise<ZfsOutput>((r) => (resolveDone = r));
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      const code = behaviour.exitCode ?? 0;
      if (code === 0) {
        if (!this.datasets.has(dataset)) this.datasets.set(dataset, { type: 'filesystem', guid: String(++this.txg * 13n), createtxg: String(this.txg) });
        const received = this.datasets.get(dataset)!;
        delete received.token;
        if (args.includes('org.qubes-zfs-backup:placeholder=off')) received.placeholder = false;
        this.snapshots.set(target, { guid: String(++this.txg * 17n), createtxg: String(this.txg) });
      } else if (behaviour.token) {
        const ds = this.datasets.get(dataset) ?? { type: 'filesystem', guid: '99', createtxg: '99' };
        ds.token = behaviour.token;
        this.datasets.set(dataset, ds);
      }
      stdin.destroy();
      resolveDone({ exitCode: code, signal: null, stdout: '', stderr: behaviour.stderr ?? '' });
    };
    if (!behaviour.stall) {
      stdin.on('data', (chunk: Buffer) => {
        this.received.push(chunk);
        bytes += chunk.length;
        if (behaviour.exitAfterBytes !== undefined && bytes >= behaviour.exitAfterBytes) finish();
      });
      stdin.on('end', finish);
    } else {
      stdin.on('finish', () => setTimeout(finish, 5));
    }
    // Like a real pipe: closing the write end is EOF for zfs.
    stdin.on('close', () => setTimeout(finish, 5));
    return { stdin, done };
  }

  /** All bytes received by fake `zfs receive` calls so far. */
  receivedBytes(): Buffer {
    return Buffer.concat(this.received);
  }
}
