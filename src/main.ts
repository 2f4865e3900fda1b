/** Reads config, starts the service, and shuts down gracefully on SIGTERM/SIGINT. */
import { ConfigError, configHelp, loadConfig } from './config/load.ts';
import { startServer } from './server.ts';

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
    process.exit(2);
  }
  throw e;
}

const running = await startServer(config);
let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    running.log.info({ signal }, 'draining and stopping');
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
