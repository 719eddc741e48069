import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { promisify } from 'node:util';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayForFile } from '../fixtures/secure-gateway.js';

const t = gatewayForFile([]);
let server: Server;
let origin: string;
beforeAll(async () => {
  server = t.gw.app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => { await new Promise((resolve) => server.close(resolve)); });

/** The page's DOM once its scripts have run, as Debian's headless chromium sees it. */
async function renderedDom(url: string): Promise<string> {
  const { stdout } = await promisify(execFile)('chromium', [
    '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--virtual-time-budget=20000', '--dump-dom', url,
  ], { timeout: 90_000, maxBuffer: 64 * 1024 * 1024 }).catch((e: NodeJS.ErrnoException) => {
    throw new Error(e.code === 'ENOENT' ? 'this test needs Debian\'s chromium on the PATH (apt-get install chromium; .ci/run installs it)' : e.message);
  });
  return stdout;
}

describe('JSON API reference page', () => {
  it('is served without a token, from files of its own, under a content security policy that allows nothing else', async () => {
    const page = await request(t.gw.app).get('/api/v1/docs');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toMatch(/default-src 'none'; script-src 'self';/);
    const sources = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(sources.every((s) => !/^(https?:)?\/\//.test(s))).toBe(true);
    for (const s of sources.filter((x) => x.startsWith('docs/'))) expect((await request(t.gw.app).get(`/api/v1/${s}`)).status).toBe(200);
  });

  it('renders every route of the OpenAPI document in a headless browser', async () => {
    const spec = (await request(t.gw.app).get('/api/v1/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    const dom = await renderedDom(`${origin}/api/v1/docs`);
    // Swagger UI renders each operation as an opblock naming its method and path.
    const shown = new Set([...dom.matchAll(/data-path="([^"]+)"/g)].map((m) => m[1]!));
    const routes = Object.keys(spec.paths);
    expect(routes.length).toBeGreaterThan(5);
    for (const route of routes) expect(shown, `${route} is not on the page`).toContain(route);
    expect(dom).toContain('Signpost plain-JSON API');
  }, 120_000);
});
