/**
 * `npm start`: runs the built service, dist/main.js (the service bundled into one file and run with
 * V8's code cache, scripts/build.mjs), so a start loads one JavaScript file instead of compiling
 * TypeScript or resolving hundreds of modules. Builds it first when it is missing or older than src/,
 * the build scripts or the dependencies (package.json, package-lock.json); falls back to tsx where
 * esbuild is not installed.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'main.js');

const mtime = (p) => statSync(p, { throwIfNoEntry: false })?.mtimeMs ?? 0;

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : mtime(p));
  }
  return t;
}

const built = mtime(entry);
const inputs = ['scripts/build.mjs', 'scripts/bundle-loader.mjs', 'package.json', 'package-lock.json'].map((p) => join(root, p));
if (inputs.some((p) => mtime(p) > built) || newest(join(root, 'src')) > built) {
  let build;
  try {
    ({ build } = await import('./build.mjs'));
    await import('esbuild');
  } catch {
    // No bundler here: run the sources through tsx, as `npm run dev` does.
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src', 'main.ts'), ...process.argv.slice(2)], { stdio: 'inherit' });
    process.exit(r.status ?? 1);
  }
  try {
    await build();
  } catch {
    process.stderr.write('eso-bridge: the build failed (npm run build shows why)\n');
    process.exit(1);
  }
}
await import(pathToFileURL(entry).href);
