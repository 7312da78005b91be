/**
 * Streams a multipart/form-data request to temporary files without holding the body in memory (Hono's parseBody
 * would buffer it). Limits: total bytes, number of files, named file fields, text field count and size. A limit
 * crossed mid-stream stops reading at once and answers 413; the temporary files are removed by the caller's
 * `cleanup()`, which is safe to call on every path.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import busboy from 'busboy';
import { BadRequest, TooLarge, UnsupportedMediaType } from '../errors.js';

export interface ReceivedFile {
  field: string;
  filename: string;
  path: string;
  bytes: number;
}

export interface Received {
  fields: Record<string, string>;
  files: ReceivedFile[];
  cleanup(): Promise<void>;
}

export interface MultipartLimits {
  maxBytes: number;
  maxFiles: number;
  fileFields: readonly string[];
  maxFields?: number;
  maxFieldBytes?: number;
}

/** Receives `req`'s multipart body into files under `tmpRoot`. */
export async function receiveMultipart(req: Request, tmpRoot: string, limits: MultipartLimits): Promise<Received> {
  const type = req.headers.get('content-type') ?? '';
  if (!type.toLowerCase().startsWith('multipart/form-data')) {
    throw new UnsupportedMediaType('Send the upload as multipart/form-data (a "file" field, or "images" and "labels").', {
      field: 'content-type',
    });
  }
  const declared = Number(req.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > limits.maxBytes + 64 * 1024) {
    throw new TooLarge(`The upload is ${declared} bytes; the limit is ${limits.maxBytes} bytes (MAX_UPLOAD_BYTES).`, {
      extra: { limit: limits.maxBytes },
    });
  }
  if (!req.body) throw new BadRequest('The request has no body.');

  const dir = await mkdtemp(join(tmpRoot, 'upload-'));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  const fields: Record<string, string> = {};
  const files: ReceivedFile[] = [];
  let total = 0;

  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: Object.fromEntries(req.headers),
      limits: {
        fileSize: limits.maxBytes,
        files: limits.maxFiles,
        fields: limits.maxFields ?? 20,
        fieldSize: limits.maxFieldBytes ?? 64 * 1024,
        parts: limits.maxFiles + (limits.maxFields ?? 20),
      },
    });
  } catch (err) {
    await cleanup();
    throw new BadRequest(`The multipart body cannot be read: ${(err as Error).message}.`);
  }

  const source = Readable.fromWeb(req.body as import('node:stream/web').ReadableStream);
  try {
    await new Promise<void>((resolve, reject) => {
      let failed = false;
      const writes: Promise<void>[] = [];
      const fail = (err: Error) => {
        if (failed) return;
        failed = true;
        source.unpipe(parser);
        source.destroy();
        reject(err);
      };
      parser.on('field', (name, value, info) => {
        if (info.valueTruncated) return fail(new TooLarge(`The field "${name}" is too long.`, { field: name }));
        fields[name] = value;
      });
      parser.on('file', (name, stream, info) => {
        if (!limits.fileFields.includes(name)) {
          stream.resume();
          return fail(
            new BadRequest(`Unexpected file field "${name}"; file fields are ${limits.fileFields.join(', ')}.`, { field: name }),
          );
        }
        const path = join(dir, `${files.length}-${name}`);
        const file: ReceivedFile = { field: name, filename: info.filename ?? name, path, bytes: 0 };
        files.push(file);
        const out = createWriteStream(path);
        stream.on('data', (chunk: Buffer) => {
          file.bytes += chunk.length;
          total += chunk.length;
          if (total > limits.maxBytes) {
            fail(new TooLarge(`The upload exceeds ${limits.maxBytes} bytes (MAX_UPLOAD_BYTES).`, { field: name }));
          }
        });
        stream.on('limit', () =>
          fail(new TooLarge(`The file "${name}" exceeds ${limits.maxBytes} bytes (MAX_UPLOAD_BYTES).`, { field: name })),
        );
        writes.push(
          new Promise<void>((res, rej) => {
            out.on('finish', res);
            out.on('error', rej);
          }),
        );
        stream.pipe(out);
      });
      parser.on('filesLimit', () => fail(new TooLarge(`At most ${limits.maxFiles} files per upload.`)));
      parser.on('fieldsLimit', () => fail(new TooLarge('Too many form fields.')));
      parser.on('partsLimit', () => fail(new TooLarge('Too many form parts.')));
      parser.on('error', (err: Error) => fail(new BadRequest(`The multipart body cannot be read: ${err.message}.`)));
      source.on('error', (err) => fail(new BadRequest(`The upload was interrupted: ${err.message}.`)));
      parser.on('close', () => {
        Promise.all(writes).then(() => {
          if (!failed) resolve();
        }, fail);
      });
      source.pipe(parser);
    });
  } catch (err) {
    await cleanup();
    throw err;
  }
  return { fields, files, cleanup };
}
