/** Process entry: parse the environment, start the roles, shut down cleanly on SIGTERM/SIGINT (jobs finish first). */
import { loadConfig, type Config } from './config.js';
import { start } from './start.js';

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  console.error((err as Error).message);
  process.exit(2);
}
const stop = await start(config);
let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    void stop().then(() => process.exit(0));
  });
}
