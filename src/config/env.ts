import path from 'node:path';
import { z } from 'zod';

/** The process environment as DESIGN.md defines it, validated once at start-up. */
const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  SIGNPOST_DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  SIGNPOST_CONFIG: z.string().min(1).optional(),
  SIGNPOST_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** 'normal' trades durability on power loss for write speed; the default fsyncs every commit. */
  SIGNPOST_SQLITE_SYNC: z.enum(['full', 'normal']).default('full'),
  /**
   * Which proxies may name the client's address in X-Forwarded-For (express's "trust proxy": names
   * loopback, linklocal, uniquelocal, or addresses and CIDR ranges, comma-separated). That address is
   * what the audit trail records and the token endpoint rate-limits by.
   */
  SIGNPOST_TRUST_PROXY: z.string().regex(/^\s*(loopback|linklocal|uniquelocal|[0-9a-fA-F.:]+(\/\d{1,3})?)(\s*,\s*(loopback|linklocal|uniquelocal|[0-9a-fA-F.:]+(\/\d{1,3})?))*\s*$/,
    'must be loopback, linklocal, uniquelocal, or IP addresses and CIDR ranges, comma-separated').default('loopback'),
  /**
   * PostgreSQL: connections per instance, and the longest a statement may run. An instance runs its
   * batches one at a time, so it uses one connection at a time; the second covers a connection being
   * replaced.
   */
  SIGNPOST_PG_POOL: z.coerce.number().int().min(1).max(100).default(2),
  SIGNPOST_PG_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
});

export interface Env {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl?: string;
  configFile: string;
  baseUrl?: string;
  logLevel: string;
  sqliteSync: 'full' | 'normal';
  pgPool: number;
  pgStatementTimeoutMs: number;
  trustProxy: string;
}

/** The origin the gateway listens at, and its public one unless SIGNPOST_BASE_URL says otherwise. */
export function localOrigin(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Parses the environment; throws an Error whose message is one line naming the bad variable. */
export function loadEnv(source: NodeJS.ProcessEnv): Env {
  const blankless = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== ''));
  const parsed = envSchema.safeParse(blankless);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid environment: ${String(issue?.path[0] ?? '')}: ${issue?.message ?? 'invalid'}`);
  }
  const e = parsed.data;
  const dataDir = path.resolve(e.SIGNPOST_DATA_DIR);
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir,
    ...(e.DATABASE_URL ? { databaseUrl: e.DATABASE_URL } : {}),
    configFile: path.resolve(e.SIGNPOST_CONFIG ?? path.join(dataDir, 'config.json')),
    ...(e.SIGNPOST_BASE_URL ? { baseUrl: e.SIGNPOST_BASE_URL.replace(/\/+$/, '') } : {}),
    logLevel: e.LOG_LEVEL,
    sqliteSync: e.SIGNPOST_SQLITE_SYNC,
    pgPool: e.SIGNPOST_PG_POOL,
    pgStatementTimeoutMs: e.SIGNPOST_PG_STATEMENT_TIMEOUT_MS,
    trustProxy: e.SIGNPOST_TRUST_PROXY,
  };
}
