/** eso-bridge as a child process for the bench: config from the environment, port back over IPC. */
import { loadConfig } from '../src/config/load.ts';
import { startServer } from '../src/server.ts';

const running = await startServer(loadConfig({ ...process.env, PORT: '0', LOG_LEVEL: 'silent', MLLP_ENABLED: 'false' }));
process.send?.({ port: Number(new URL(running.url).port) });
process.on('SIGTERM', () => { void running.close().then(() => process.exit(0)); });
