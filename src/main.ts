/** Reads config, starts the service, and shuts down gracefully on SIGTERM/SIGINT. */
import { ConfigError, configHelp, loadConfig } from './config/load.ts';
import type { Config } from './config/schema.ts';
import { EXIT, explainStartFailure } from './config/start-failure.ts';
import { startServer, type RunningServer } from './server.ts';

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(configHelp());
  process.exit(0);
}

let config;
try {
  config = loadConfig();
} catch (e) {
  if (e instanceof ConfigError) {
    process.stderr.write(`${e.message}\n\nRun with --help to list every setting.\n`);
    process.exit(EXIT.config);
  }
  throw e;
}

// No top-level await: scripts/build.mjs bundles this file as CommonJS, to run it with V8's code cache.
async function run(config: Config): Promise<void> {
  // A refused start is one line naming what to change (config/start-failure.ts), never a stack trace.
  let running: RunningServer;
  try {
    running = await startServer(config);
  } catch (e) {
    const failure = explainStartFailure(e, config);
    process.stderr.write(`eso-bridge did not start: ${failure.message}\n`);
    if (config.logLevel === 'debug' || config.logLevel === 'trace') process.stderr.write(`${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(failure.exitCode);
  }
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      running.log.info({ signal }, 'draining and stopping');
      running.close().then(
        () => process.exit(0),
        () => process.exit(EXIT.runtime),
      );
    });
  }
}

void run(config);
