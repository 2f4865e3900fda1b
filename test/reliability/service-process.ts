/**
 * eso-bridge as a child process (`node --import tsx src/main.ts`), as it runs in production: the
 * reliability harnesses start it, kill it (SIGKILL: no drain, no close) and start it again on the
 * same data. The "eso-bridge listening" log line gives its HTTP URL and MLLP port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ServiceProcess {
  url: string;
  mllpPort?: number;
  pid: number;
  child: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** SIGKILL: the process dies at once, mid-write if it was writing. */
  kill(): Promise<void>;
  /** SIGTERM: drains and closes, as an orderly shutdown. */
  stop(): Promise<void>;
}

/** Starts the service with `env` on top of this process's environment; ephemeral ports on loopback. */
export function startService(env: Record<string, string>, opts: { timeoutMs?: number } = {}): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', MLLP_PORT: '0', MLLP_HOST: '127.0.0.1', ...env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr!.on('data', (d) => { if (stderr.length < 4000) stderr += String(d); });
  return new Promise((resolve, reject) => {
    let buf = '';
    let found = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the service did not start in time: ${stderr.slice(0, 500)}`));
    }, opts.timeoutMs ?? 30_000);
    // Logs are read to the end (a full pipe would block the child) but kept only until started.
    child.stdout!.on('data', (d) => {
      if (found) return;
      buf += String(d);
      const line = buf.split('\n').find((l) => l.includes('eso-bridge listening'));
      if (!line) return;
      found = true;
      clearTimeout(timer);
      const started = JSON.parse(line) as { url: string; mllpPort?: number };
      const signal = async (sig: NodeJS.Signals) => {
        if (child.exitCode === null && child.signalCode === null) child.kill(sig);
        await exited;
      };
      resolve({ url: started.url, mllpPort: started.mllpPort, pid: child.pid!, child, exited, kill: () => signal('SIGKILL'), stop: () => signal('SIGTERM') });
    });
    void exited.then((code) => {
      if (found) return;
      clearTimeout(timer);
      reject(new Error(`the service exited before it started (${code}): ${stderr.slice(0, 500)}`));
    });
  });
}
