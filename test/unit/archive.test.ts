import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGzip, gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectArchiveKind, extractArchive, listArchive, type ArchiveKind, type ArchiveLimits } from '../../src/data/archive.js';
import { BadRequest, TooLarge, UnsupportedMediaType } from '../../src/errors.js';
import { makeTar, makeZip, type ZipInput } from '../fixtures/zip.js';

const MiB = 1024 * 1024;
const LIMITS: ArchiveLimits = { maxEntries: 100, maxEntryBytes: 5 * MiB, maxTotalBytes: 10 * MiB, maxCompressionRatio: 100 };

let dir: string;
let png: Buffer;
let jpg: Buffer;
let counter = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'quorum-archive-'));
  png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#f00' } }).png().toBuffer();
  jpg = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#00f' } }).jpeg().toBuffer();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes bytes to a fresh file in the test folder and returns its path. */
async function save(bytes: Uint8Array): Promise<string> {
  const file = join(dir, `upload-${++counter}`);
  await writeFile(file, bytes);
  return file;
}

/** A fresh, empty extraction folder inside its own parent, so writes outside it can be seen. */
async function freshDest(): Promise<{ parent: string; dest: string }> {
  const parent = join(dir, `extract-${++counter}`);
  await mkdir(parent);
  return { parent, dest: join(parent, 'dest') };
}

type Problem = Error & { status?: number; type?: string; extra?: Record<string, unknown> };
async function rejection(p: Promise<unknown>): Promise<Problem> {
  try {
    await p;
  } catch (err) {
    return err as Problem;
  }
  throw new Error('expected a rejection');
}

type Files = { name: string; data: Uint8Array }[];
async function build(kind: ArchiveKind, files: Files): Promise<Buffer> {
  return kind === 'zip' ? makeZip(files) : makeTar(files, kind === 'tar.gz');
}

/** Gzips a tar with `mib` MiB of zeros after it: inflates huge, yet no entry declares the size. */
async function gzipWithTrailingZeros(archive: Buffer, mib: number): Promise<Buffer> {
  const gz = createGzip({ level: 1 });
  const out: Buffer[] = [];
  gz.on('data', (c: Buffer) => out.push(c));
  const done = new Promise((resolve) => gz.on('end', resolve));
  gz.write(archive);
  const zeros = Buffer.alloc(MiB);
  for (let i = 0; i < mib; i++) if (!gz.write(zeros)) await new Promise((resolve) => gz.once('drain', resolve));
  gz.end();
  await done;
  return Buffer.concat(out);
}

const KINDS: ArchiveKind[] = ['zip', 'tar.gz', 'tar'];
const good = (): Files => [
  { name: 'cat/001.png', data: png },
  { name: 'cat/002.jpg', data: jpg },
  { name: 'dog/001.png', data: png },
];
const junk = (): Files => [
  { name: '__MACOSX/cat/._001.png', data: Buffer.from('resource fork') },
  { name: 'cat/.DS_Store', data: Buffer.from('finder') },
  { name: 'dog/Thumbs.db', data: Buffer.from('thumbs') },
  { name: 'dog/desktop.ini', data: Buffer.from('[.ShellClassInfo]') },
];

describe('detectArchiveKind', () => {
  it('recognises zip, empty zip, gzip and ustar tar by their magic', async () => {
    expect(detectArchiveKind(makeZip([{ name: 'a', data: png }]))).toBe('zip');
    expect(detectArchiveKind(makeZip([]))).toBe('zip');
    expect(detectArchiveKind(gzipSync(Buffer.from('x')))).toBe('tar.gz');
    expect(detectArchiveKind(await makeTar([{ name: 'a', data: png }], false))).toBe('tar');
  });

  it('returns null for images and random bytes', () => {
    expect(detectArchiveKind(png)).toBeNull();
    expect(detectArchiveKind(Buffer.from('hello'))).toBeNull();
    expect(detectArchiveKind(new Uint8Array())).toBeNull();
  });
});

describe.each(KINDS)('a good %s of class folders', (kind) => {
  it('lists the files, skipping folders and ignoring OS junk', async () => {
    const file = await save(await build(kind, [...good(), ...junk()]));
    const listing = await listArchive(file, LIMITS);
    expect(listing.kind).toBe(kind);
    expect(listing.entries).toEqual([
      { path: 'cat/001.png', size: png.length },
      { path: 'cat/002.jpg', size: jpg.length },
      { path: 'dog/001.png', size: png.length },
    ]);
    expect(listing.ignored.sort()).toEqual(junk().map((j) => j.name).sort());
  });

  it('extracts the files byte for byte, and no junk', async () => {
    const file = await save(await build(kind, [...good(), ...junk()]));
    const { dest } = await freshDest();
    const entries = await extractArchive(file, dest, LIMITS);
    expect(entries.map((e) => e.path)).toEqual(['cat/001.png', 'cat/002.jpg', 'dog/001.png']);
    for (const f of good()) expect(await readFile(join(dest, f.name))).toEqual(Buffer.from(f.data));
    expect(readdirSync(dest).sort()).toEqual(['cat', 'dog']);
    expect(readdirSync(join(dest, 'cat'))).toEqual(['001.png', '002.jpg']);
  });

  it.each([
    ['../x.png', 'climbs out'],
    ['cat/../../x.png', 'climbs out'],
    ['..\\x.png', 'climbs out'],
    ['/etc/x.png', 'absolute path'],
    ['C:\\x.png', 'absolute path'],
    ['\\\\server\\share\\x.png', 'absolute path'],
  ])('rejects the unsafe name %s before writing anything', async (name, why) => {
    const file = await save(await build(kind, [...good(), { name, data: png }]));
    const err = await rejection(listArchive(file, LIMITS));
    expect(err).toBeInstanceOf(BadRequest);
    expect(err.status).toBe(400);
    expect(err.type).toBe('unsafe-entry-name');
    expect(err.message).toContain(why);
    expect(err.extra).toMatchObject({ entry: name });

    const { parent, dest } = await freshDest();
    expect((await rejection(extractArchive(file, dest, LIMITS))).type).toBe('unsafe-entry-name');
    expect(readdirSync(parent)).toEqual(['dest']);
    expect(existsSync(join(dir, 'x.png'))).toBe(false);
  });

  it('rejects a symbolic link', async () => {
    const archive =
      kind === 'zip'
        ? makeZip([...good(), { name: 'cat/link.png', data: Buffer.from('/etc/passwd'), unixMode: 0o120777 }])
        : await makeTar([...good(), { name: 'cat/link.png', type: 'symlink', linkname: '/etc/passwd' }], kind === 'tar.gz');
    const err = await rejection(listArchive(await save(archive), LIMITS));
    expect(err).toBeInstanceOf(BadRequest);
    expect(err.type).toBe('unsafe-entry');
    expect(err.message).toContain('`cat/link.png` is a symlink');
  });

  it('rejects more files than maxEntries', async () => {
    const files = Array.from({ length: 11 }, (_, i) => ({ name: `c${i % 2}/${i}.png`, data: png }));
    const err = await rejection(listArchive(await save(await build(kind, files)), { ...LIMITS, maxEntries: 10 }));
    expect(err).toBeInstanceOf(TooLarge);
    expect(err.status).toBe(413);
    expect(err.type).toBe('too-many-entries');
    expect(err.message).toContain('more than 10 files');
    expect(err.extra).toMatchObject({ limit: 10 });
  });

  it('rejects a file over maxEntryBytes, naming it', async () => {
    const file = await save(await build(kind, [...good(), { name: 'dog/big.png', data: new Uint8Array(3000).fill(7) }]));
    const err = await rejection(listArchive(file, { ...LIMITS, maxEntryBytes: 2000 }));
    expect(err).toBeInstanceOf(TooLarge);
    expect(err.type).toBe('entry-too-large');
    expect(err.message).toContain('`dog/big.png` is larger than 2000 bytes');
  });

  it('rejects files that add up to more than maxTotalBytes', async () => {
    const files = Array.from({ length: 6 }, (_, i) => ({ name: `c${i % 2}/${i}.png`, data: new Uint8Array(1000).fill(i) }));
    const err = await rejection(listArchive(await save(await build(kind, files)), { ...LIMITS, maxTotalBytes: 5000 }));
    expect(err).toBeInstanceOf(TooLarge);
    expect(err.type).toBe('archive-too-large');
    expect(err.message).toContain('more than 5000 bytes');
  });

  it('rejects the same path twice', async () => {
    const file = await save(await build(kind, [...good(), { name: './cat/001.png', data: png }]));
    const err = await rejection(listArchive(file, LIMITS));
    expect(err).toBeInstanceOf(BadRequest);
    expect(err.type).toBe('duplicate-entry');
    expect(err.message).toContain('`cat/001.png`');
  });

  it('rejects a truncated archive as corrupt', async () => {
    const big = Array.from({ length: 4 }, (_, i) => ({ name: `c${i % 2}/${i}.bin`, data: Uint8Array.from({ length: 20000 }, (_, j) => (j * 7919 + i) % 251) }));
    const archive = await build(kind, big);
    const err = await rejection(extractArchive(await save(archive.subarray(0, Math.floor(archive.length * 0.6))), (await freshDest()).dest, LIMITS));
    expect(err).toBeInstanceOf(BadRequest);
    expect(err.type).toBe('corrupt-archive');
    expect(err.message).toContain('re-create it');
  });
});

describe('archives that are not archives', () => {
  it.each([
    ['random bytes', Buffer.from(Array.from({ length: 2000 }, (_, i) => (i * 31 + 7) % 256))],
    ['a PNG image', null],
    ['an empty file', Buffer.alloc(0)],
  ])('rejects %s as unsupported media, listing the accepted formats', async (_, bytes) => {
    const err = await rejection(listArchive(await save(bytes ?? png), LIMITS));
    expect(err).toBeInstanceOf(UnsupportedMediaType);
    expect(err.status).toBe(415);
    expect(err.type).toBe('not-an-archive');
    expect(err.message).toContain('.zip, .tar.gz (.tgz) or .tar');
  });

  it('rejects a gzip file with no tar inside', async () => {
    const err = await rejection(listArchive(await save(gzipSync(Buffer.alloc(5000, 3))), LIMITS));
    expect(err).toBeInstanceOf(UnsupportedMediaType);
    expect(err.type).toBe('not-an-archive');
    expect(err.message).toContain('holds no tar archive');
  });

  it('lists an empty zip as holding no files', async () => {
    expect(await listArchive(await save(makeZip([])), LIMITS)).toEqual({ kind: 'zip', entries: [], ignored: [] });
  });
});

describe('zip names', () => {
  const list = async (name: string) => listArchive(await save(makeZip([{ name, data: png }])), LIMITS);

  it('reads backslashes as folder separators', async () => {
    expect((await list('cat\\001.png')).entries).toEqual([{ path: 'cat/001.png', size: png.length }]);
  });

  it('rejects NUL bytes and names over 1024 characters', async () => {
    expect((await rejection(list('cat/a\0.png'))).message).toContain('NUL byte');
    const long = await rejection(list(`cat/${'x'.repeat(1100)}.png`));
    expect(long.type).toBe('unsafe-entry-name');
    expect(long.message).toContain('longer than 1024');
  });

  it('rejects a file where another entry needs a folder', async () => {
    const zip = makeZip([
      { name: 'cat', data: png },
      { name: 'cat/001.png', data: png },
    ]);
    expect((await rejection(listArchive(await save(zip), LIMITS))).type).toBe('duplicate-entry');
  });
});

describe('zip bombs', () => {
  it('rejects at listing an entry that honestly declares a huge compression ratio', async () => {
    const zip = makeZip([...good(), { name: 'dog/zeros.png', data: new Uint8Array(20 * MiB) }]);
    const limits = { ...LIMITS, maxEntryBytes: 50 * MiB, maxTotalBytes: 50 * MiB };
    const err = await rejection(listArchive(await save(zip), limits));
    expect(err).toBeInstanceOf(TooLarge);
    expect(err.type).toBe('compression-ratio');
    expect(err.message).toContain('looks like a zip bomb');
    expect(err.message).toContain('`dog/zeros.png`');
  });

  it('lets small files compress as well as they like', async () => {
    const zip = makeZip([...good(), { name: 'dog/blank.png', data: new Uint8Array(512 * 1024) }]);
    expect((await listArchive(await save(zip), LIMITS)).entries).toHaveLength(4);
  });

  it('stops extracting an entry whose real size exceeds its declared size, writing nothing outside', async () => {
    const lying: ZipInput = { name: 'dog/liar.png', data: new Uint8Array(4 * MiB).fill(1), declaredSize: 100 };
    const file = await save(makeZip([...good(), lying]));
    expect((await listArchive(file, LIMITS)).entries).toContainEqual({ path: 'dog/liar.png', size: 100 });

    const { parent, dest } = await freshDest();
    const err = await rejection(extractArchive(file, dest, LIMITS));
    expect(err).toBeInstanceOf(BadRequest);
    expect(err.type).toBe('corrupt-archive');
    expect(err.message).toContain('`dog/liar.png`');
    expect((await stat(join(dest, 'dog/liar.png'))).size).toBeLessThanOrEqual(100);
    expect(readdirSync(parent)).toEqual(['dest']);
  });

  it('rejects a stored entry whose sizes disagree as corrupt', async () => {
    const zip = makeZip([...good(), { name: 'dog/x.png', data: png, method: 'store', declaredSize: 10 }]);
    expect((await rejection(listArchive(await save(zip), LIMITS))).type).toBe('corrupt-archive');
  });
});

describe('gzip bombs', () => {
  it('rejects a 200 MiB entry in a tar.gz from its header, before inflating it', async () => {
    const bomb = await makeTar([...good(), { name: 'dog/zeros.png', data: new Uint8Array(200 * MiB) }], true);
    const file = await save(bomb);
    const err = await rejection(extractArchive(file, (await freshDest()).dest, { ...LIMITS, maxEntryBytes: 500 * MiB }));
    expect(err).toBeInstanceOf(TooLarge);
    expect(err.type).toBe('archive-too-large');
  }, 30_000);

  it('stops inflating zeros hidden after the last entry at the limit', async () => {
    const file = await save(await gzipWithTrailingZeros(await makeTar(good(), false), 1024));
    const err = await rejection(listArchive(file, LIMITS));
    expect(err).toBeInstanceOf(TooLarge);
    expect(err.type).toBe('archive-too-large');
    expect(err.message).toContain('decompresses to more than');
  }, 30_000);
});

describe('resource hygiene', () => {
  it('leaves no file descriptors open after failures', async () => {
    const fds = () => readdirSync('/proc/self/fd').length;
    const cases = [
      makeZip([{ name: '../x.png', data: png }]),
      makeZip(good()).subarray(0, 200),
      makeZip([...good(), { name: 'dog/liar.png', data: new Uint8Array(MiB), declaredSize: 10 }]),
      await makeTar([...good(), { name: 'a/b', type: 'symlink', linkname: '/' }], true),
      (await makeTar(good(), true)).subarray(0, 300),
    ];
    const files = await Promise.all(cases.map(save));
    const before = fds();
    for (const file of files) {
      await rejection(extractArchive(file, (await freshDest()).dest, LIMITS));
      await listArchive(file, LIMITS).catch(() => undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(fds()).toBeLessThanOrEqual(before);
  });
});
