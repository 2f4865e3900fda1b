/**
 * The project's root directory: the nearest directory above this module that holds package.json.
 * Data the service reads (profiles/, mappings/, docs/, public/) is found from here, never relative
 * to a module file, so the same code works from src/ (tsx, tests), dist/ and dist/'s one-file bundle.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const PROJECT_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));

/** A path under the project root, e.g. projectPath('profiles', 'r4-base'). */
export const projectPath = (...parts: string[]): string => join(PROJECT_ROOT, ...parts);

/** A file: URL under the project root; a directory's ends with '/', so new URL(name, it) works. */
export const projectUrl = (...parts: string[]): URL => pathToFileURL(join(PROJECT_ROOT, ...parts));
