import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** How often the background connection copies committed WAL frames into the database file. */
const INTERVAL_MS = 250;

// The worker's code. It is evaluated as a CommonJS script (so that it runs the same under tsx, vitest
// and compiled dist/) and loads better-sqlite3 from the path the main thread resolved.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 1000');
db.pragma('synchronous = NORMAL');
const checkpoint = () => { try { db.pragma('wal_checkpoint(PASSIVE)'); } catch { /* the next tick retries */ } };
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', () => { clearInterval(timer); checkpoint(); db.close(); parentPort.close(); });
`;

/**
 * Checkpoints on a worker thread with its own connection. SQLite's automatic checkpoint runs inside the
 * COMMIT that crosses the WAL size threshold, on the event loop, and syncs the WAL and the database file
 * there; a PASSIVE checkpoint from another connection never blocks the writer, and the writer starts the
 * WAL from the beginning again once a checkpoint has caught up, so the WAL stays small.
 */
export class Checkpointer {
  private readonly worker: Worker;
  private readonly exited: Promise<void>;

  constructor(file: string) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, driver, intervalMs: INTERVAL_MS } });
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    // A checkpointer that fails leaves the WAL growing, never the data wrong; it must not crash the gateway.
    this.worker.on('error', () => undefined);
    this.worker.unref();
  }

  async stop(): Promise<void> {
    // Unreferenced while idle so that it never keeps a process alive; referenced while stopping, or a
    // process with nothing else to do would exit before the worker and skip what follows close().
    this.worker.ref();
    this.worker.postMessage('stop');
    await this.exited;
  }
}
