/**
 * Runs one of the project's commands (src/main.ts, src/cli.ts, src/demo.ts) as the operator would,
 * in a child process with its own environment, and returns its exit code and output.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
const TSX = resolve(ROOT, 'node_modules/.bin/tsx');

export interface ToolResult { code: number | null; stdout: string; stderr: string }

/** `tool` is a path under src/ ('main.ts', 'cli.ts', 'demo.ts'). The environment is `env` over a minimal one (no inherited ESO_* or DATABASE_URL). */
export function runTool(tool: string, args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<ToolResult> {
  const base: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NO_COLOR: '1' };
  return new Promise((done, fail) => {
    const child = spawn(TSX, [resolve(ROOT, 'src', tool), ...args], { cwd: ROOT, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}
