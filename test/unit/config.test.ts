import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

/** The message loadConfig threw for `env`, or a failure when it did not throw. */
function errorFor(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(Error);
    return (err as Error).message;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

/** The variable names an error message reports, one per "  NAME: reason" line. */
const namesIn = (message: string) =>
  message
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(':')[0]);

describe('configuration', () => {
  it('parses an empty environment into working single-machine defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      PORT: 8080,
      HOST: '0.0.0.0',
      QUORUM_ROLE: 'all',
      REDIS_URL: 'redis://127.0.0.1:6379',
      S3_BUCKET: 'quorum',
      S3_FORCE_PATH_STYLE: true,
      WORKER_CONCURRENCY: 1,
      MAX_IMAGE_SIZE: 512,
      WASM_FMA: true,
    });
    expect(config.S3_ENDPOINT).toBeUndefined();
    expect(config.API_KEYS).toEqual(new Map([['dev-key-change-me', 'default']]));
  });

  it('coerces numbers and booleans from strings', () => {
    const config = loadConfig({ PORT: '3000', S3_FORCE_PATH_STYLE: 'no', WORKER_CONCURRENCY: '4', WASM_FMA: 'false' });
    expect(config.PORT).toBe(3000);
    expect(config.WASM_FMA).toBe(false);
    expect(config.S3_FORCE_PATH_STYLE).toBe(false);
    expect(config.WORKER_CONCURRENCY).toBe(4);
  });

  it('parses several key:tenant pairs into a map, trimming spaces and keeping colons inside a key', () => {
    const { API_KEYS } = loadConfig({ API_KEYS: 'alpha-key-123:acme, beta:key:4567:team-2 ,,gamma-key-9:acme' });
    expect(API_KEYS).toEqual(
      new Map([
        ['alpha-key-123', 'acme'],
        ['beta:key:4567', 'team-2'],
        ['gamma-key-9', 'acme'],
      ]),
    );
  });

  it.each([
    ['a key shorter than 8 characters', 'short:acme'],
    ['an uppercase tenant', 'long-enough-key:Acme'],
    ['a tenant with a slash', 'long-enough-key:acme/evil'],
    ['a pair without a colon', 'long-enough-key'],
    ['an empty tenant', 'long-enough-key:'],
    ['one bad pair among good ones', 'long-enough-key:acme,short:acme'],
    ['an empty value', ''],
    ['only separators', ' , ,'],
  ])('rejects API_KEYS with %s', (_, value) => {
    expect(namesIn(errorFor({ API_KEYS: value }))).toEqual(['API_KEYS']);
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['PORT', '80.5'],
    ['QUORUM_ROLE', 'scheduler'],
  ])('rejects %s=%s', (name, value) => {
    expect(namesIn(errorFor({ [name]: value }))).toEqual([name]);
  });

  it('throws one error that lists every bad variable', () => {
    const message = errorFor({ PORT: 'eighty', QUORUM_ROLE: 'scheduler', API_KEYS: 'short:acme', HOST: 'fine' });
    expect(message).toMatch(/^invalid configuration/);
    expect(namesIn(message).sort()).toEqual(['API_KEYS', 'PORT', 'QUORUM_ROLE']);
  });

  it('does not echo a rejected API key in full', () => {
    const message = errorFor({ API_KEYS: 'secret-api-key-value:Bad' });
    expect(message).not.toContain('secret-api-key-value');
  });
});
