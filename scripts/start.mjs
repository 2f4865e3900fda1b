/**
 * `npm start`: runs the compiled service (dist/), so a start loads JavaScript instead of compiling
 * TypeScript. Builds dist/ first (`npm run build`) when it is missing or older than any file in
 * src/; falls back to tsx where the compiler is not installed (e.g. `npm ci --omit=dev`).
 * dist/ mirrors src/ one level below the project root, so paths like new URL('../../profiles/',
 * import.meta.url) resolve the same from both.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'main.js');

function newest(dir) {
  let t = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    t = Math.max(t, s.isDirectory() ? newest(p) : s.mtimeMs);
  }
  return t;
}

const stale = !existsSync(entry) || newest(join(root, 'src')) > statSync(entry).mtimeMs;
if (stale) {
  const tsc = join(root, 'node_modules', '.bin', 'tsc');
  if (existsSync(tsc)) {
    // Emit only (--noCheck): type-checking is `npm run typecheck`'s job, not every start's.
    const r = spawnSync(tsc, ['-p', join(root, 'tsconfig.build.json'), '--noCheck'], { stdio: 'inherit' });
    if (r.status !== 0) {
      process.stderr.write('eso-bridge: the build failed (npm run build shows why)\n');
      process.exit(r.status ?? 1);
    }
  } else {
    // No compiler here: run the sources through tsx, as `npm run dev` does.
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src', 'main.ts'), ...process.argv.slice(2)], { stdio: 'inherit' });
    process.exit(r.status ?? 1);
  }
}
await import(pathToFileURL(entry).href);
