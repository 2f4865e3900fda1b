/**
 * Builds dist/main.js: the service (src/main.ts) and most of its dependencies in one ES module
 * (esbuild), so a start compiles one file instead of resolving and loading hundreds
 * (docs/PERFORMANCE.md, Start-up). Type-checking is `npm run typecheck`'s job (and `npm run build`'s).
 * Data (profiles/, mappings/, docs/, public/) is read at run time from the project root
 * (src/shared/project-root.ts), never bundled. pino is bundled: the service logs to stdout, and
 * pino's transports (worker files found beside its own modules) would not work from the bundle.
 */
import { rmSync } from 'node:fs';
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
    outfile: join(root, 'dist', 'main.js'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: EXTERNAL,
    sourcemap: 'linked',
    sourcesContent: false,
    logLevel: 'warning',
    // Bundled CommonJS packages call require() for Node's built-ins: give the module one.
    banner: { js: "import { createRequire as __esoCreateRequire } from 'node:module'; const require = __esoCreateRequire(import.meta.url);" },
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await build();
