import fs from 'node:fs';
import path from 'node:path';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { Env } from './config/env.js';
import { indexEntries } from './fhir/index-values.js';
import { createApp } from './http/app.js';
import { SqliteStore } from './store/sqlite/sqlite-store.js';
import type { Store } from './store/store.js';

export interface Gateway {
  server: Server;
  store: Store;
  url: string;
  stop(): Promise<void>;
}

function packageVersion(): string {
  const file = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'package.json');
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
}

/** Opens the store, builds the app and listens: everything `npm start` does, callable from tests and benchmarks. */
export async function startGateway(env: Env, logger: Logger): Promise<Gateway> {
  if (env.databaseUrl) throw new Error('DATABASE_URL is set, but this build has only the embedded SQLite store; unset DATABASE_URL');
  // The base URL depends on the port actually bound (PORT=0), so the app reads it through this holder.
  const context = { baseUrl: env.baseUrl ?? '', store: undefined as unknown as Store };
  const store = await SqliteStore.open({
    file: path.join(env.dataDir, 'signpost.sqlite'),
    indexer: (r) => indexEntries(r, context.baseUrl),
    synchronous: env.sqliteSync,
  });
  context.store = store;
  const info = { baseUrl: '', version: packageVersion(), startedAt: new Date().toISOString() };
  const app = createApp({ context, info, logger });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(env.port, env.host, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : env.port;
  const url = `http://${env.host.includes(':') ? `[${env.host}]` : env.host}:${port}`;
  context.baseUrl = env.baseUrl ?? url;
  info.baseUrl = context.baseUrl;
  return {
    server, store, url,
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await store.close();
    },
  };
}
