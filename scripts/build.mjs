/**
 * Builds dist/: the service (src/main.ts) and most of its dependencies in one file, dist/service.cjs
 * (esbuild), and dist/main.js, which runs it with V8's code cache (scripts/bundle-loader.mjs). A start
 * then compiles one file, or nothing the last run compiled, instead of resolving and loading hundreds
 * (docs/PERFORMANCE.md, Start-up). Type-checking is `npm run typecheck`'s job (and `npm run build`'s).
 * Data (profiles/, mappings/, docs/, public/) is read at run time from the project root
 * (src/shared/project-root.ts), never bundled. pino is bundled: the service logs to stdout, and
 * pino's transports (worker files found beside its own modules) would not work from the bundle.
 */
import { copyFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Left to Node's require at run time, from node_modules. */
const EXTERNAL = [
  'better-sqlite3', // a native addon
  'pg-native', // pg's optional native driver, required only if asked for
  'iconv-lite', // ~0.5 MB of encoding tables it requires only when a body is not UTF-8
  'mime-db', // a large JSON file: JSON.parse reads it faster than V8 compiles it as a literal
];

export async function build() {
  const { build: esbuild } = await import('esbuild');
  rmSync(join(root, 'dist'), { recursive: true, force: true });
  await esbuild({
    entryPoints: [join(root, 'src', 'main.ts')],
    outfile: join(root, 'dist', 'service.cjs'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: EXTERNAL,
    sourcemap: 'linked',
    sourcesContent: false,
    logLevel: 'warning',
    // CommonJS has no import.meta: its uses (the project root, createRequire) get the bundle's URL.
    define: { 'import.meta.url': '__esoModuleUrl' },
    banner: { js: "const __esoModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  });
  copyFileSync(join(root, 'scripts', 'bundle-loader.mjs'), join(root, 'dist', 'main.js'));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await build();
