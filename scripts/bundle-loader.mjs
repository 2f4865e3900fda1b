/**
 * dist/main.js (scripts/build.mjs copies this file there): runs dist/service.cjs, the bundled
 * service, with V8's code cache, so a start neither resolves modules nor compiles again what the
 * last run compiled. Node 20 has no compile cache for ES modules (module.enableCompileCache is
 * Node 22), hence a CommonJS bundle run through vm.Script.
 * The cache is written when a run without a usable one exits cleanly. V8 checks only the source's
 * length, so the cache is named by the bundle's size and mtime (a build also empties dist/).
 * Where dist/ is not writable the service runs the same, uncached.
 */
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

const dir = dirname(fileURLToPath(import.meta.url));
const file = join(dir, 'service.cjs');
const { size, mtimeMs } = statSync(file);
const cacheFile = join(dir, `service.${size}.${Math.trunc(mtimeMs)}.cache`);

let cachedData;
try {
  cachedData = readFileSync(cacheFile);
} catch {
  // first run of this build
}
// CommonJS's module wrapper, on the source's first line so stack traces keep their line numbers.
const script = new Script(`(function (exports, require, module, __filename, __dirname) {${readFileSync(file, 'utf8')}\n})`, { filename: file, cachedData });
if (!cachedData || script.cachedDataRejected) {
  process.once('exit', (code) => {
    if (code !== 0) return;
    const tmp = `${cacheFile}.${process.pid}`;
    try {
      writeFileSync(tmp, script.createCachedData());
      renameSync(tmp, cacheFile);
    } catch {
      // dist/ is read-only here: run uncached
    }
  });
}
const module = { exports: {} };
script.runInThisContext()(module.exports, createRequire(file), module, file, dir);
