import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * The HMAC key the gateway signs its access tokens with. Only this process issues and checks them, so a
 * symmetric key kept beside the database is enough: no other party ever needs to verify a token.
 *
 * Files in the data dir (base64 of 32 random bytes, mode 0600):
 * - `token-signing.key`: the current key; tokens are signed with it. Created on first start.
 * - `token-signing.previous.key`: optional; tokens signed with it still verify, until they expire.
 *
 * Rotating the key without cutting off clients that hold a token: stop the gateway, rename
 * `token-signing.key` to `token-signing.previous.key`, start it again (a new current key is created).
 * Tokens issued before the restart verify until their own `exp`; the previous key is honoured only for
 * one token lifetime after start-up (see AccessTokens), so the file can be deleted at the next restart.
 * After a suspected compromise, delete the key instead of keeping it as previous: every issued token
 * then fails at once and clients simply fetch a new one.
 */
export const SIGNING_KEY_FILE = 'token-signing.key';
export const PREVIOUS_SIGNING_KEY_FILE = 'token-signing.previous.key';

const KEY_BYTES = 32;
/** Exactly 32 bytes in padded standard base64: 43 characters and one '='. */
const KEY_TEXT = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

function parseKey(file: string, text: string): Uint8Array {
  const trimmed = text.trim();
  if (!KEY_TEXT.test(trimmed)) {
    throw new Error(`signing key ${file} is malformed: expected ${KEY_BYTES} random bytes in base64 `
      + '(e.g. `openssl rand -base64 32`); delete it to have a new one generated (issued tokens stop working)');
  }
  return new Uint8Array(Buffer.from(trimmed, 'base64'));
}

function readKey(file: string): Uint8Array | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`signing key ${file} cannot be read: ${(e as Error).message.split('\n')[0]}`);
  }
  return parseKey(file, text);
}

/**
 * Writes a new key so that no reader ever sees a partial file and two processes starting at once agree:
 * the key goes to a private temporary file first, which is then hard-linked into place (link, unlike
 * rename, fails when the target exists, so the first writer wins and the other adopts its key).
 */
function createKey(file: string): Uint8Array {
  const key = randomBytes(KEY_BYTES);
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.writeSync(fd, `${key.toString('base64')}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.linkSync(tmp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const winner = readKey(file);
    if (winner) return winner;
    throw e;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  return new Uint8Array(key);
}

/** The current token-signing key from `<dataDir>/token-signing.key`, created (mode 0600) when missing. */
export function loadOrCreateSigningKey(dataDir: string): Uint8Array {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, SIGNING_KEY_FILE);
  return readKey(file) ?? createKey(file);
}

/** The key being rotated out, from `<dataDir>/token-signing.previous.key`, if there is one. */
export function loadPreviousSigningKey(dataDir: string): Uint8Array | undefined {
  return readKey(path.join(dataDir, PREVIOUS_SIGNING_KEY_FILE));
}
