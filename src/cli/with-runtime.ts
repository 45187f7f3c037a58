import { loadConfig, type Config } from '../config.js';
import { createLogger } from '../http/logging.js';
import { openRuntime, type Runtime } from '../runtime.js';

/**
 * Opens the same database the server uses (DATABASE_URL, or the embedded one in
 * OMS_DATA_DIR, joined as a guest when a server is running on it) for one command.
 */
export async function withRuntime<T>(work: (runtime: Runtime, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const runtime = await openRuntime(config, createLogger('warn', process.stderr), 'cli');
  try {
    return await work(runtime, config);
  } finally {
    await runtime.database.close();
  }
}
