// Prepare the real-OpenZFS test VM after test/vm/provision.sh: build (or reuse) the cached
// initramfs for the kernel that has the DKMS-built zfs.ko, then boot the VM once to prove that
// ZFS loads. Run by `npm run vm:provision`.
//   node test/vm/prepare.mjs [--rebuild] [--no-boot]
// Exits non-zero, saying why, if the VM cannot be used.
import { readdir, stat, rm } from 'node:fs/promises';
import { join } from 'node:path';

const args = new Set(process.argv.slice(2));
for (const a of args) {
  if (!['--rebuild', '--no-boot'].includes(a)) {
    console.error(`prepare.mjs: unknown argument ${a}\nusage: node test/vm/prepare.mjs [--rebuild] [--no-boot]`);
    process.exit(2);
  }
}

// vm.ts is the single source of truth (kernel detection, cache naming); load it through tsx.
const { tsImport } = await import('tsx/esm/api');
const vm = await tsImport('./vm.ts', import.meta.url);

const avail = await vm.vmAvailable();
if (!avail.ok) {
  console.error(`prepare: test VM not usable: ${avail.why}`);
  process.exit(1);
}
const { kernel } = vm.findZfsKernel();
console.log(`prepare: kernel ${kernel.kver} (${kernel.vmlinuz}), zfs module ${kernel.zfsModule}`);
const t0 = Date.now();
const initrd = await vm.ensureInitramfs(kernel, { force: args.has('--rebuild'), log: (s) => console.log(s) });
console.log(`prepare: initramfs ${initrd} (${Date.now() - t0} ms)`);
const t1 = Date.now();
const vmlinux = await vm.ensureVmlinux(kernel);
console.log(vmlinux ? `prepare: vmlinux for PVH boot ${vmlinux} (${Date.now() - t1} ms)` : `prepare: no PVH vmlinux (booting ${kernel.vmlinuz} through the firmware)`);

// Drop initramfs/vmlinux files of older script versions or kernels (not touched for an hour).
const dir = vm.cacheDir();
for (const f of await readdir(dir)) {
  const p = join(dir, f);
  if (p === initrd || p === vmlinux || !/^(initramfs-.*\.cpio\.gz|vmlinux-[^/]*)(\.tmp\..*)?$/.test(f)) continue;
  try {
    if (Date.now() - (await stat(p)).mtimeMs > 3600_000) {
      await rm(p, { force: true });
      console.log(`prepare: removed stale ${p}`);
    }
  } catch {
    /* raced with someone else */
  }
}

if (!args.has('--no-boot')) {
  try {
    const r = await vm.runInVm({ command: ['zfs', 'version'], cwd: '/', timeoutMs: 180_000 });
    if (r.exitCode !== 0) {
      console.error(`prepare: 'zfs version' in the VM exited ${r.exitCode}: ${r.stderr}`);
      process.exit(1);
    }
    await rm(r.outDir, { recursive: true, force: true });
    console.log(`prepare: VM boots; ${r.stdout.trim().split('\n').join(', ')}; boot ${r.bootMs} ms, total ${r.totalMs} ms`);
  } catch (e) {
    console.error(`prepare: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
