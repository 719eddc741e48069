import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** Runs the real entry point (src/main.ts through tsx) with the given environment. */
function startProcess(env: Record<string, string>) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'signpost-proc-'));
  dirs.push(dataDir);
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', SIGNPOST_DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, out: () => stdout, err: () => stderr };
}

async function waitFor<T>(probe: () => T | undefined, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the gateway process', () => {
  it('listens on a free port with PORT=0, logs it as JSON, serves /healthz and exits 0 on SIGTERM', async () => {
    const p = startProcess({ PORT: '0', HOST: '127.0.0.1' });
    const line = await waitFor(() => p.out().split('\n').find((l) => l.includes('listening')));
    const logged = JSON.parse(line) as { url: string; msg: string };
    expect(logged.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(logged.url.endsWith(':0')).toBe(false);
    const health = await fetch(`${logged.url}/healthz`);
    expect(await health.json()).toEqual({ status: 'ok' });
    // A request in flight when SIGTERM arrives is still answered.
    const inFlight = fetch(`${logged.url}/fhir/metadata`);
    await new Promise((r) => setTimeout(r, 5));
    p.child.kill('SIGTERM');
    expect((await inFlight).status).toBe(200);
    expect(await p.exited).toBe(0);
  });

  it('stops with one line naming the database, not its password, when DATABASE_URL cannot be reached', async () => {
    const p = startProcess({ PORT: '0', DATABASE_URL: 'postgres://signpost:s3cret@127.0.0.1:1/clinic' });
    expect(await p.exited).toBe(1);
    const lines = p.err().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/cannot open the PostgreSQL database clinic at 127\.0\.0\.1:1 \(DATABASE_URL\)/);
    expect(p.err() + p.out()).not.toContain('s3cret');
  });

  it('refuses a bad environment with one clear line on stderr and a non-zero exit', async () => {
    const p = startProcess({ PORT: 'eighty' });
    expect(await p.exited).toBe(1);
    const lines = p.err().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/PORT/);
    expect(p.err()).not.toMatch(/\bat .*\.ts:\d+/);
  });

  it('refuses an unusable data directory with one clear line', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'signpost-proc-')), 'not-a-dir');
    dirs.push(path.dirname(file));
    fs.writeFileSync(file, 'x');
    const p = startProcess({ PORT: '0', SIGNPOST_DATA_DIR: file });
    expect(await p.exited).toBe(1);
    expect(p.err().trim().split('\n')).toHaveLength(1);
    expect(p.err()).toMatch(/^signpost: cannot start/);
  });

  it('writes a demo config on first start, logging only its path, never a secret', async () => {
    const p = startProcess({ PORT: '0' });
    const line = await waitFor(() => p.out().split('\n').find((l) => l.includes('listening')));
    const { url } = JSON.parse(line) as { url: string };
    const wrote = p.out().split('\n').find((l) => l.includes('demo deployment config'));
    expect(wrote).toBeDefined();
    const { config, credentials } = JSON.parse(wrote!) as { config: string; credentials: string };
    for (const f of [config, credentials]) expect(fs.statSync(f).mode & 0o777).toBe(0o600);
    const creds = JSON.parse(fs.readFileSync(credentials, 'utf8')) as { clients: { clientId: string; secret: string }[] };
    // A demo client can get a token with its secret, and the secret never reaches the log.
    const gp = creds.clients.find((c) => c.clientId === 'demo-gp')!;
    const token = await fetch(`${url}/oauth2/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Basic ${Buffer.from(`demo-gp:${gp.secret}`).toString('base64')}` },
      body: 'grant_type=client_credentials',
    });
    expect(token.status).toBe(200);
    const accessToken = ((await token.json()) as { access_token: string }).access_token;
    await fetch(`${url}/fhir/Organization`, { headers: { Authorization: `Bearer ${accessToken}` } });
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    for (const c of creds.clients) expect(p.out()).not.toContain(c.secret);
    expect(p.out()).not.toContain(accessToken);
  });

  it('refuses a bad deployment config with one line naming the field', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signpost-proc-'));
    dirs.push(dir);
    const file = path.join(dir, 'config.json');
    fs.writeFileSync(file, JSON.stringify({ clients: [{ clientId: 'x', role: 'admin', organization: 'A81001', secretSha256: 'a'.repeat(64) }], organizations: [] }));
    const p = startProcess({ PORT: '0', SIGNPOST_CONFIG: file });
    expect(await p.exited).toBe(1);
    const lines = p.err().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/clients\[0\]\.role/);
  });
});
