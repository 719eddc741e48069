import { pino } from 'pino';
import { loadEnv } from '../src/config/env.js';
import { indexEntries } from '../src/fhir/index-values.js';
import { createApp } from '../src/http/app.js';
import { openStore } from '../src/store/open-store.js';
import { BASE_URL, coreAppOptions } from '../test/fixtures/gateway.js';

/**
 * Child process: the FHIR core alone, as the FHIR-mechanics tests run it (test/fixtures/gateway.ts:
 * every request runs as one fixed caller, with no token, no access policy and no audit), served over
 * HTTP from the seeded store. Compiled with the gateway in one tsc run (tsconfig.build.json here), so
 * it runs the same compiled src/ as the gateway scenarios. Reads PORT, HOST, SIGNPOST_DATA_DIR,
 * DATABASE_URL, SIGNPOST_SQLITE_SYNC ('full' by default) and LOG_LEVEL like the gateway, and opens the
 * store the gateway would.
 */
const env = loadEnv(process.env);
const store = await openStore(env, (r) => indexEntries(r, BASE_URL));
// The gateway's logger settings, so logging costs both servers the same.
const app = createApp(coreAppOptions(store, pino({ level: env.logLevel, base: { service: 'signpost-core' } })));
const server = app.listen(env.port, env.host);
process.on('SIGTERM', () => {
  server.close(() => void store.close().then(() => process.exit(0), (e: unknown) => {
    process.stderr.write(`core server: closing the store failed: ${(e as Error).message}\n`);
    process.exit(1);
  }));
  server.closeIdleConnections();
});
