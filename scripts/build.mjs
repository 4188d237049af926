// Builds the two shipped files: dist/qubes-zfs-backup.mjs (dom0) and
// dist/qubes-zfs-backup-receiver.mjs (receiver qube), each self-contained (no node_modules at run
// time), plus dist/SHA256SUMS. Same source gives the same bytes: no timestamps, no absolute paths.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile, chmod, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8'));
const outdirFlag = process.argv.indexOf('--outdir');
const dist = outdirFlag > 0 ? path.resolve(process.argv[outdirFlag + 1] ?? 'dist') : path.join(root, 'dist');

const entries = [
  { entry: 'dom0/cli.ts', out: 'qubes-zfs-backup.mjs' },
  { entry: 'receiver/main.ts', out: 'qubes-zfs-backup-receiver.mjs' },
];

// CommonJS dependencies (commander) call require() for Node built-ins; give the ESM bundle one.
const banner = [
  '#!/usr/bin/env node',
  `// qubes-zfs-backup ${pkg.version} — self-contained bundle (see README: verifying a release).`,
  "import { createRequire as __qzbCreateRequire } from 'node:module';",
  'const require = __qzbCreateRequire(import.meta.url);',
].join('\n');

// Replace only our own outputs: dist/metadata/ (the default metadata directory when the program runs
// from dist/) holds users' job state and must survive a rebuild.
await mkdir(dist, { recursive: true });
for (const f of [...entries.map((e) => e.out), 'SHA256SUMS']) await rm(path.join(dist, f), { force: true });
const sums = [];
for (const { entry, out } of entries) {
  const outfile = path.join(dist, out);
  await build({
    absWorkingDir: root,
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node18.18',
    banner: { js: banner },
    define: { __QZB_VERSION__: JSON.stringify(pkg.version) },
    // (shared/protocol/codec.ts imports msgpackr's pure-JS subpaths: no native extractor in dom0.)
    legalComments: 'eof',
    minify: false,
    sourcemap: false,
    logLevel: 'warning',
  });
  await chmod(outfile, 0o755);
  const bytes = await readFile(outfile);
  sums.push(`${createHash('sha256').update(bytes).digest('hex')}  ${out}`);
}
await writeFile(path.join(dist, 'SHA256SUMS'), sums.join('\n') + '\n');
console.log(sums.join('\n'));
