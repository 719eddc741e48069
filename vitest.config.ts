import { defineConfig } from 'vitest/config';

/**
 * Two projects: every test on the default store (SQLite), and the API suite again on PostgreSQL
 * (test/fixtures/test-store.ts), so that both stores serve the same HTTP behaviour. The PostgreSQL
 * store's own contract runs in the first (test/store/postgres.test.ts). Tests of the process, the
 * browser page and the bench's scripts do not depend on the store and run once.
 */
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'sqlite', include: ['test/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'postgres',
          include: ['test/api/**/*.test.ts'],
          exclude: ['test/api/json-api-docs.test.ts', 'test/api/process.test.ts', 'test/api/security-headers.test.ts'],
          env: { SIGNPOST_TEST_STORE: 'postgres' },
        },
      },
    ],
  },
});
