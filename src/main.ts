import { pino } from 'pino';
import { loadEnv } from './config/env.js';
import { startGateway } from './gateway.js';

/** Start-up: environment → store → app → listen; SIGTERM drains in-flight requests and exits 0. */
async function main(): Promise<void> {
  let env;
  try {
    env = loadEnv(process.env);
  } catch (e) {
    process.stderr.write(`signpost: ${(e as Error).message}\n`);
    process.exit(1);
  }
  const logger = pino({ level: env.logLevel, base: { service: 'signpost' } });
  let gateway;
  try {
    gateway = await startGateway(env, logger);
  } catch (e) {
    process.stderr.write(`signpost: cannot start: ${(e as Error).message}\n`);
    process.exit(1);
  }
  logger.info({ url: gateway.url, dataDir: env.dataDir }, `listening on ${gateway.url}`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'draining in-flight requests');
    gateway.stop().then(() => {
      logger.info('stopped');
      process.exit(0);
    }, (e: unknown) => {
      process.stderr.write(`signpost: shutdown failed: ${(e as Error).message}\n`);
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

void main();
