// A volume's new data through Qubes' own import path, as qubesadmin does it for a streamed payload
// (QubesLocal.qubesd_call with payload_stream): run /etc/qubes-rpc/admin.vm.volume.ImportWithSize
// VOLUME with QREXEC_REMOTE_DOMAIN=dom0 and QREXEC_REQUESTED_TARGET=QUBE, its stdin the size in
// bytes and a newline, then exactly that many bytes; its stdout is a qubesd reply ("0\0" on
// success). The script asks qubesd (internal.vm.volume.ImportBegin) for the path the storage driver
// prepared, writes the bytes there with `dd conv=sparse`, and ends the import (ImportEnd), which
// makes the driver swap the new data in. dom0 never interprets the bytes: only the qube does.
import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import { QzbError } from '../../shared/errors.ts';
import { quoteArgv } from '../../shared/shell.ts';
import { decodeReply, MAX_ADMIN_REPLY_BYTES } from '../qubes/client.ts';

/** Where qubesadmin finds the qrexec service scripts (qubesadmin.config.QREXEC_SERVICES_DIR). */
export const DEFAULT_QUBES_RPC_DIR = '/etc/qubes-rpc';

/** A running import: write exactly `size` bytes to `stdin`, end it, await `done`. */
export interface VolumeImport {
  stdin: Writable;
  /** Resolves when the import succeeded (qubesd's reply "0\0"); throws a QzbError otherwise. */
  done: Promise<void>;
  /** Kills the script (an abandoned import: qubesd's ImportEnd never says ok, the driver cleans up). */
  kill(): void;
}

/** Starts `admin.vm.volume.ImportWithSize` for `qube:volume` with `size` bytes to follow. */
export function startImportWithSize(qube: string, volume: string, size: bigint, options: { rpcDir?: string; env?: NodeJS.ProcessEnv; onCommand?: (line: string) => void } = {}): VolumeImport {
  if (!/^[A-Za-z0-9_.-]+$/.test(qube) || !/^[a-z0-9_-]+$/.test(volume)) throw new QzbError('INTERNAL', `invalid import target ${JSON.stringify(`${qube}:${volume}`)}`);
  const env = options.env ?? process.env;
  const script = `${options.rpcDir ?? (env.QZB_QUBES_RPC_DIR || DEFAULT_QUBES_RPC_DIR)}/admin.vm.volume.ImportWithSize`;
  options.onCommand?.(`(echo ${size}; <data>) | ${quoteArgv(['env', 'QREXEC_REMOTE_DOMAIN=dom0', `QREXEC_REQUESTED_TARGET=${qube}`, script, volume])}`);
  const child = spawn(script, [volume], {
    env: { PATH: env.PATH || '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C', QREXEC_REMOTE_DOMAIN: 'dom0', QREXEC_REQUESTED_TARGET: qube },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  let outBytes = 0;
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    outBytes += d.length;
    if (outBytes <= MAX_ADMIN_REPLY_BYTES) out.push(d);
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (t: string) => {
    if (err.length < 4096) err += t;
  });
  child.stdin.on('error', () => {});
  child.stdin.write(`${size}\n`);
  const done = new Promise<void>((resolve, reject) => {
    child.once('error', (e) => reject(new QzbError('IMPORT_FAILED', `cannot run ${script}: ${e.message}`, { hint: 'This runs in dom0 only, as root (the script is part of qubes-core-dom0).' })));
    child.once('close', (code, signal) => {
      try {
        decodeReply(Buffer.concat(out), 'admin.vm.volume.ImportWithSize', qube);
        if (code !== 0) throw new Error(`exit ${code ?? signal}`);
        resolve();
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        reject(new QzbError('IMPORT_FAILED', `the import into ${qube}:${volume} failed: ${why}${err.trim() ? ` (${err.trim().split('\n').slice(-2).join(' / ')})` : ''}`, { cause: e }));
      }
    });
  });
  done.catch(() => {});
  return { stdin: child.stdin, done, kill: () => child.kill('SIGTERM') };
}
