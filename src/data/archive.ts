/**
 * Safe reading of uploaded dataset archives (zip, tar.gz, tar). Every entry name and type is checked before anything
 * is written; sizes are capped once as declared and again as the bytes really flow, so a bomb is stopped at the limit
 * rather than after inflating; every stream and file handle is closed on every path, success or failure.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import yauzl from 'yauzl';
import { AppError, BadRequest, TooLarge, UnsupportedMediaType } from '../errors.js';

/** Caps applied to one archive; sizes are uncompressed bytes. */
export interface ArchiveLimits {
  maxEntries: number;
  maxEntryBytes: number;
  maxTotalBytes: number;
  maxCompressionRatio: number;
}

/** A regular file kept from an archive: its normalised relative POSIX path and uncompressed size. */
export interface ArchiveEntry {
  path: string;
  size: number;
}

/** The archive formats an upload may use. */
export type ArchiveKind = 'zip' | 'tar.gz' | 'tar';

type EntryType = 'file' | 'directory' | 'symlink' | 'hard link' | 'device or FIFO' | 'unsupported';
type Body = AsyncIterable<Buffer>;

const ACCEPTED = 'Upload a .zip, .tar.gz (.tgz) or .tar archive of class folders, or MNIST-style IDX files.';
const MAX_NAME_LENGTH = 1024;
// Small files compress absurdly well when they are mostly padding; the ratio only matters once the size does.
const RATIO_FLOOR_BYTES = 1024 * 1024;
// Tar spends bytes outside entry data: a 512-byte header, padding to 512, long-name and pax records.
const TAR_OVERHEAD_PER_RECORD = 4096;
const TAR_OVERHEAD_SLACK = 1024 * 1024;
const JUNK_BASENAMES = new Set(['thumbs.db', 'desktop.ini']);
const S_IFMT = 0o170000;
const UNIX_TYPES: Record<number, EntryType> = { 0o100000: 'file', 0o040000: 'directory', 0o120000: 'symlink' };

/** Recognises an archive from its first bytes (512 are enough); null when it is none of the accepted kinds. */
export function detectArchiveKind(head: Uint8Array): ArchiveKind | null {
  if (head[0] === 0x50 && head[1] === 0x4b && ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6))) {
    return 'zip';
  }
  if (head[0] === 0x1f && head[1] === 0x8b) return 'tar.gz';
  if (head.length >= 262 && Buffer.from(head.subarray(257, 262)).toString('latin1') === 'ustar') return 'tar';
  return null;
}

/** Lists an archive's files without writing anything, rejecting unsafe names, links and anything over the limits. */
export async function listArchive(
  file: string,
  limits: ArchiveLimits,
): Promise<{ kind: ArchiveKind; entries: ArchiveEntry[]; ignored: string[] }> {
  const kind = await sniff(file);
  const tally = new Tally(limits);
  if (kind === 'zip') {
    await withZip(file, (zip) => scanZip(zip, tally, limits));
  } else {
    await walkTar(file, kind === 'tar.gz', tally, limits, async (name, body) => {
      for await (const _ of tally.measure(name, body));
    });
  }
  return { kind, entries: tally.kept, ignored: tally.ignored };
}

/** Writes an archive's kept files under destDir (created if missing); on error destDir may hold some files, which the caller removes. */
export async function extractArchive(file: string, destDir: string, limits: ArchiveLimits): Promise<ArchiveEntry[]> {
  const kind = await sniff(file);
  const root = path.resolve(destDir);
  await mkdir(root, { recursive: true });
  const tally = new Tally(limits);
  // The body is opened only once its folder exists: a zip entry starts inflating as soon as it is opened, and an
  // error it raised before pipeline() listened would be unhandled.
  const write = async (name: string, openBody: () => Body | Promise<Body>): Promise<void> => {
    const target = insideRoot(root, name);
    await mkdir(path.dirname(target), { recursive: true });
    // 'wx' refuses to follow or overwrite anything already at the target.
    await pipeline(await openBody(), (src: Body) => tally.measure(name, src), createWriteStream(target, { flags: 'wx' }));
  };
  if (kind === 'zip') {
    await withZip(file, async (zip) => {
      // The central directory is read in full first, so a bad entry late in it rejects the upload before any write.
      for (const { path: name, entry } of await scanZip(zip, tally, limits)) {
        try {
          await write(name, () => zip.openReadStreamPromise(entry));
        } catch (err) {
          throw asArchiveError(err, name);
        }
      }
    });
  } else {
    await walkTar(file, kind === 'tar.gz', tally, limits, async (name, body, kept) => {
      if (kept) await write(name, () => body);
      else for await (const _ of tally.measure(name, body));
    });
  }
  return tally.kept;
}

/** Bookkeeping of one archive's entries against its limits: what is kept, ignored, and how many bytes flowed. */
class Tally {
  readonly kept: ArchiveEntry[] = [];
  readonly ignored: string[] = [];
  private others = 0;
  private declaredBytes = 0;
  private realBytes = 0;
  private readonly files = new Set<string>();
  private readonly folders = new Set<string>();

  constructor(private readonly limits: ArchiveLimits) {}

  /** Checks one entry; returns its path when it is a file to keep, null for folders and OS junk. */
  admit(raw: string, type: EntryType, declaredSize: number, linkname?: string | null): string | null {
    const name = safePath(raw);
    if (type !== 'file' && type !== 'directory') {
      const target = linkname ? ` (to ${show(linkname)})` : '';
      throw new BadRequest(
        `Archive entry ${show(raw)} is a ${type}${target}; archives may hold only regular files and folders. ` +
          'Replace links with the files they point to and upload again.',
        { type: 'unsafe-entry', extra: { entry: raw, entryType: type } },
      );
    }
    if (type === 'directory' || name === '' || isJunk(name)) {
      if (type === 'file' && name !== '') this.ignored.push(name);
      // Folders and junk cost nothing to skip in a zip, but a crafted archive could still hold millions of them.
      if (++this.others > 2 * this.limits.maxEntries) {
        const max = 2 * this.limits.maxEntries;
        throw tooLarge(`The archive holds more than ${max} folders and ignored files, the limit.`, 'too-many-entries', max);
      }
      return null;
    }
    if (this.kept.length >= this.limits.maxEntries) {
      throw tooLarge(`The archive holds more than ${this.limits.maxEntries} files, the limit; upload fewer images.`, 'too-many-entries', this.limits.maxEntries);
    }
    this.checkEntrySize(name, declaredSize);
    this.declaredBytes += declaredSize;
    this.checkTotal(this.declaredBytes);
    this.claim(name);
    this.kept.push({ path: name, size: declaredSize });
    return name;
  }

  /** Passes an entry's bytes through, counting them against the per-entry and total limits as they arrive. */
  async *measure(name: string, body: Body): AsyncGenerator<Buffer> {
    let size = 0;
    for await (const chunk of body) {
      size += chunk.length;
      this.realBytes += chunk.length;
      this.checkEntrySize(name, size);
      this.checkTotal(this.realBytes);
      yield chunk;
    }
  }

  private checkEntrySize(name: string, size: number): void {
    if (size > this.limits.maxEntryBytes) {
      throw tooLarge(
        `Archive entry ${show(name)} is larger than ${bytes(this.limits.maxEntryBytes)} uncompressed, ` +
          'the limit for one file; remove or shrink it.',
        'entry-too-large',
        this.limits.maxEntryBytes,
        name,
      );
    }
  }

  private checkTotal(total: number): void {
    if (total > this.limits.maxTotalBytes) {
      throw tooLarge(
        `The archive's files add up to more than ${bytes(this.limits.maxTotalBytes)} uncompressed, the limit; upload fewer or smaller images.`,
        'archive-too-large',
        this.limits.maxTotalBytes,
      );
    }
  }

  // Two entries with one path, or a file where another entry needs a folder, would make extraction depend on order.
  private claim(name: string): void {
    const parents = name.split('/').slice(0, -1).map((_, i, segs) => segs.slice(0, i + 1).join('/'));
    const clash = this.files.has(name) || this.folders.has(name) ? name : parents.find((p) => this.files.has(p));
    if (clash !== undefined) {
      throw new BadRequest(`The archive holds ${show(clash)} twice (as two files, or as a file and a folder); keep one.`, {
        type: 'duplicate-entry',
        extra: { entry: clash },
      });
    }
    this.files.add(name);
    parents.forEach((p) => this.folders.add(p));
  }
}

/** Normalises an entry name to a relative POSIX path ('' for a bare `./`), or throws when it could escape. */
function safePath(raw: string): string {
  const unsafe = (why: string): BadRequest =>
    new BadRequest(`Archive entry ${show(raw)} ${why}; archives may hold only relative paths inside the archive.`, {
      type: 'unsafe-entry-name',
      extra: { entry: raw.slice(0, 200) },
    });
  if (raw.includes('\0')) throw unsafe('contains a NUL byte');
  if (raw.length > MAX_NAME_LENGTH) throw unsafe(`is longer than ${MAX_NAME_LENGTH} characters`);
  // Windows tools write backslashes as separators, so they are treated as such (and so cannot smuggle a `..`).
  const name = raw.replaceAll('\\', '/');
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) throw unsafe('is an absolute path');
  const segments = name.split('/');
  if (segments.includes('..')) throw unsafe('climbs out of its folder with `..`');
  return segments.filter((s) => s !== '' && s !== '.').join('/');
}

function isJunk(name: string): boolean {
  const segments = name.split('/');
  const base = segments[segments.length - 1].toLowerCase();
  return segments[0] === '__MACOSX' || segments.some((s) => s.startsWith('.')) || JUNK_BASENAMES.has(base);
}

function insideRoot(root: string, name: string): string {
  const target = path.resolve(root, ...name.split('/'));
  const rel = path.relative(root, target);
  if (rel === '' || rel.split(path.sep)[0] === '..' || path.isAbsolute(rel)) {
    throw new BadRequest(`Archive entry ${show(name)} would be written outside the dataset folder.`, {
      type: 'unsafe-entry-name',
      extra: { entry: name },
    });
  }
  return target;
}

async function sniff(file: string): Promise<ArchiveKind> {
  const handle = await open(file, 'r');
  let head: Uint8Array;
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(512), 0, 512, 0);
    head = buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  const kind = detectArchiveKind(head);
  if (kind === null) {
    throw new UnsupportedMediaType(`The upload is not a zip, tar.gz or tar archive. ${ACCEPTED}`, {
      field: 'file',
      type: 'not-an-archive',
    });
  }
  return kind;
}

async function withZip<T>(file: string, use: (zip: yauzl.ZipFile) => Promise<T>): Promise<T> {
  let zip: yauzl.ZipFile;
  try {
    // decodeStrings off: yauzl would reject unsafe names with its own wording; safePath does it with ours.
    zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true });
  } catch (err) {
    throw asArchiveError(err);
  }
  // A failure to close the file descriptor is re-emitted here; with no listener it would crash the process.
  zip.on('error', () => {});
  try {
    return await use(zip);
  } catch (err) {
    throw asArchiveError(err);
  } finally {
    zip.close();
  }
}

async function scanZip(zip: yauzl.ZipFile, tally: Tally, limits: ArchiveLimits): Promise<{ path: string; entry: yauzl.Entry }[]> {
  const kept: { path: string; entry: yauzl.Entry }[] = [];
  for await (const entry of zip.eachEntry()) {
    const raw = yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, true);
    const name = tally.admit(raw, zipEntryType(entry, raw), entry.uncompressedSize);
    if (name === null) continue;
    if (entry.isEncrypted()) {
      throw new BadRequest(`Archive entry ${show(name)} is password-protected; create the archive without a password.`, {
        type: 'encrypted-entry',
        extra: { entry: name },
      });
    }
    if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
      throw new BadRequest(
        `Archive entry ${show(name)} uses compression method ${entry.compressionMethod}; ` +
          're-create the archive with standard deflate compression (the default of zip tools).',
        { type: 'unsupported-compression', extra: { entry: name, method: entry.compressionMethod } },
      );
    }
    const ratio = entry.uncompressedSize / Math.max(entry.compressedSize, 1);
    if (entry.uncompressedSize > RATIO_FLOOR_BYTES && ratio > limits.maxCompressionRatio) {
      throw tooLarge(
        `Archive entry ${show(name)} inflates ${Math.round(ratio)}-fold, which looks like a zip bomb; ` +
          `the limit is ${limits.maxCompressionRatio}-fold.`,
        'compression-ratio',
        limits.maxCompressionRatio,
        name,
      );
    }
    kept.push({ path: name, entry });
  }
  return kept;
}

function zipEntryType(entry: yauzl.Entry, raw: string): EntryType {
  if (raw.endsWith('/') || raw.endsWith('\\')) return 'directory';
  // Only Unix (3) and macOS (19) hosts put a file mode in the high half of the external attributes.
  const host = entry.versionMadeBy >> 8;
  const mode = (entry.externalFileAttributes >>> 16) & S_IFMT;
  if ((host !== 3 && host !== 19) || mode === 0) return 'file';
  return UNIX_TYPES[mode] ?? 'device or FIFO';
}

function tarEntryType(type: tar.Header['type'] | null): EntryType {
  switch (type) {
    case 'file':
    case 'contiguous-file':
      return 'file';
    case 'directory':
      return 'directory';
    case 'symlink':
      return 'symlink';
    case 'link':
      return 'hard link';
    case 'character-device':
    case 'block-device':
    case 'fifo':
      return 'device or FIFO';
    default:
      return 'unsupported';
  }
}

/** Streams a tar (gunzipping it first if asked) and hands each entry's body to visit, which must consume it. */
async function walkTar(
  file: string,
  gzipped: boolean,
  tally: Tally,
  { maxEntries, maxTotalBytes }: ArchiveLimits,
  visit: (name: string, body: Body, kept: boolean) => Promise<void>,
): Promise<void> {
  // Counting what the gunzip emits stops a gzip bomb even where no entry declares it, e.g. zeros after the last entry.
  const inflatedLimit = maxTotalBytes + 3 * maxEntries * TAR_OVERHEAD_PER_RECORD + TAR_OVERHEAD_SLACK;
  const capInflated = async function* (src: Body): AsyncGenerator<Buffer> {
    let total = 0;
    for await (const chunk of src) {
      total += chunk.length;
      if (total > inflatedLimit) {
        throw tooLarge(`The archive decompresses to more than ${bytes(inflatedLimit)}, the limit.`, 'archive-too-large', inflatedLimit);
      }
      yield chunk;
    }
  };
  const extract = tar.extract();
  const source = createReadStream(file);
  const feed = (gzipped ? pipeline(source, createGunzip(), capInflated, extract) : pipeline(source, capInflated, extract)).then(
    () => undefined,
    (err: unknown) => err,
  );
  let seen = 0;
  let failure: unknown;
  try {
    for await (const entry of extract) {
      seen += 1;
      const { name, type, size, linkname } = entry.header;
      const kept = tally.admit(name, tarEntryType(type), size ?? 0, linkname);
      // streamx types its chunks as unknown; tar-stream pushes Buffers.
      await visit(kept ?? name, entry as AsyncIterable<unknown> as Body, kept !== null);
    }
  } catch (err) {
    failure = err;
  }
  // Leaving the loop early destroys the extractor; waiting for the feed means the file is closed before we return.
  const feedFailure = await feed;
  // Both sides usually see the same error; where they differ, ours (an AppError) explains more than an abort.
  const err = [failure, feedFailure].find((e) => e instanceof AppError) ?? failure ?? feedFailure;
  if (err === undefined) return;
  const zlibError = typeof (err as { code?: unknown }).code === 'string' && (err as { code: string }).code.startsWith('Z_');
  if (gzipped && seen === 0 && !(err instanceof AppError) && !zlibError && !isIoError(err)) {
    throw new UnsupportedMediaType(`The upload is gzip-compressed but holds no tar archive. ${ACCEPTED}`, {
      field: 'file',
      type: 'not-an-archive',
    });
  }
  throw asArchiveError(err);
}

/** Passes our own errors and server-side I/O failures through; anything else the reader threw means a damaged upload. */
function asArchiveError(err: unknown, entry?: string): unknown {
  if (err instanceof AppError || isIoError(err)) return err;
  const reason = err instanceof Error ? err.message : String(err);
  const where = entry === undefined ? '' : ` at ${show(entry)}`;
  return new BadRequest(`The archive is corrupt or truncated${where} (${reason}); re-create it and upload it again.`, {
    field: 'file',
    type: 'corrupt-archive',
    extra: { reason, entry },
  });
}

function isIoError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'syscall' in err;
}

function tooLarge(detail: string, type: string, limit: number, entry?: string): TooLarge {
  return new TooLarge(detail, { field: 'file', type, extra: { limit, ...(entry === undefined ? {} : { entry }) } });
}

function show(name: string): string {
  return JSON.stringify(name.length > 200 ? `${name.slice(0, 200)}…` : name).replace(/^"|"$/g, '`');
}

function bytes(n: number): string {
  return n < 1024 * 1024 ? `${n} bytes` : `${+(n / (1024 * 1024)).toFixed(1)} MiB`;
}
