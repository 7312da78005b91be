/**
 * Object storage over the S3 protocol (MinIO in infra/, AWS S3, or an S3-protocol server on loopback in tests).
 * A thin, typed wrapper: bytes, JSON validated by zod, streams (multipart upload for large bodies), listing and
 * prefix deletion. Missing objects are `null`, not exceptions.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { z } from 'zod';
import type { Config } from '../config.js';

export type StorageConfig = Pick<
  Config,
  'S3_ENDPOINT' | 'S3_REGION' | 'S3_BUCKET' | 'S3_ACCESS_KEY_ID' | 'S3_SECRET_ACCESS_KEY' | 'S3_FORCE_PATH_STYLE'
>;

export interface ListResult {
  keys: { key: string; size: number; lastModified?: Date }[];
  prefixes: string[];
  nextToken?: string;
}

export type Storage = ReturnType<typeof createStorage>;

const isMissing = (err: unknown) => {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
};

const isReset = (err: unknown) => {
  const e = err as { code?: string; message?: string };
  return e?.code === 'ECONNRESET' || e?.code === 'EPIPE' || e?.message === 'aborted';
};

/** Creates the storage client for one bucket. Opens no connection until first used. */
export function createStorage(config: StorageConfig) {
  const client = new S3Client({
    endpoint: config.S3_ENDPOINT,
    region: config.S3_REGION,
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
    credentials: { accessKeyId: config.S3_ACCESS_KEY_ID, secretAccessKey: config.S3_SECRET_ACCESS_KEY },
    // S3-compatible servers (MinIO releases, s3rver) differ in support for the SDK's default CRC checksums.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const Bucket = config.S3_BUCKET;

  async function getBody(key: string) {
    try {
      const out = await client.send(new GetObjectCommand({ Bucket, Key: key }));
      return out.Body as Readable;
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  return {
    bucket: Bucket,
    client,

    /** Creates the bucket when it does not exist (single-machine setups); no-op otherwise. */
    async ensureBucket(): Promise<void> {
      try {
        await client.send(new HeadBucketCommand({ Bucket }));
      } catch (err) {
        if (!isMissing(err)) throw err;
        await client.send(new CreateBucketCommand({ Bucket }));
      }
    },

    /** Throws when the bucket cannot be reached (used by /readyz). */
    async ping(): Promise<void> {
      await client.send(new HeadBucketCommand({ Bucket }));
    },

    async putBytes(key: string, body: Uint8Array, contentType = 'application/octet-stream'): Promise<void> {
      await client.send(new PutObjectCommand({ Bucket, Key: key, Body: body, ContentType: contentType }));
    },

    async putJson(key: string, value: unknown): Promise<void> {
      const body = Buffer.from(JSON.stringify(value));
      await client.send(new PutObjectCommand({ Bucket, Key: key, Body: body, ContentType: 'application/json' }));
    },

    /** Streams a body of unknown length with S3 multipart upload (parts of 8 MiB). */
    async putStream(key: string, body: Readable, contentType = 'application/octet-stream'): Promise<void> {
      const upload = new Upload({
        client,
        params: { Bucket, Key: key, Body: body, ContentType: contentType },
        partSize: 8 * 1024 * 1024,
        queueSize: 2,
      });
      await upload.done();
    },

    async putFile(key: string, path: string, contentType?: string): Promise<void> {
      await this.putStream(key, createReadStream(path), contentType);
    },

    /**
     * Reads a whole object; null when absent. A connection reset while the body streams (s3rver does this when
     * an object is replaced mid-read; any S3 endpoint can behind a flaky proxy) is retried a few times.
     */
    async getBytes(key: string): Promise<Buffer | null> {
      for (let attempt = 0; ; attempt++) {
        const body = await getBody(key);
        if (!body) return null;
        try {
          const chunks: Buffer[] = [];
          for await (const chunk of body) chunks.push(chunk as Buffer);
          return Buffer.concat(chunks);
        } catch (err) {
          if (attempt >= 3 || !isReset(err)) throw err;
          await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
        }
      }
    },

    /** Reads and validates a JSON object; null when absent. A stored object that fails the schema throws. */
    async getJson<S extends z.ZodType>(key: string, schema: S): Promise<z.infer<S> | null> {
      // S3 and MinIO replace objects atomically, but simpler S3-protocol servers (s3rver) can serve an object
      // mid-overwrite; a read that does not parse is retried a few times before it counts as corrupt.
      for (let attempt = 0; ; attempt++) {
        const bytes = await this.getBytes(key);
        if (!bytes) return null;
        let value: unknown;
        try {
          value = JSON.parse(bytes.toString('utf8'));
        } catch (err) {
          if (attempt < 4) {
            await new Promise((r) => setTimeout(r, 25 * (attempt + 1)));
            continue;
          }
          throw new Error(`object ${key} is not valid JSON: ${(err as Error).message}`);
        }
        return schema.parse(value);
      }
    },

    getStream: getBody,

    async downloadToFile(key: string, path: string): Promise<boolean> {
      const body = await getBody(key);
      if (!body) return false;
      await pipeline(body, createWriteStream(path));
      return true;
    },

    async exists(key: string): Promise<boolean> {
      try {
        await client.send(new HeadObjectCommand({ Bucket, Key: key }));
        return true;
      } catch (err) {
        if (isMissing(err)) return false;
        throw err;
      }
    },

    /** One page of keys under `prefix`; with a delimiter, common prefixes ("folders") come back separately. */
    async list(prefix: string, opts: { delimiter?: string; limit?: number; token?: string } = {}): Promise<ListResult> {
      const out = await client.send(
        new ListObjectsV2Command({
          Bucket,
          Prefix: prefix,
          Delimiter: opts.delimiter,
          MaxKeys: opts.limit ?? 1000,
          ContinuationToken: opts.token,
        }),
      );
      return {
        keys: (out.Contents ?? []).map((o) => ({ key: o.Key!, size: o.Size ?? 0, lastModified: o.LastModified })),
        prefixes: (out.CommonPrefixes ?? []).map((p) => p.Prefix!),
        nextToken: out.IsTruncated ? out.NextContinuationToken : undefined,
      };
    },

    async delete(key: string): Promise<void> {
      await client.send(new DeleteObjectCommand({ Bucket, Key: key }));
    },

    /** Deletes every object under `prefix`; returns how many were deleted. */
    async deletePrefix(prefix: string): Promise<number> {
      let deleted = 0;
      let token: string | undefined;
      do {
        const page = await this.list(prefix, { token });
        if (page.keys.length > 0) {
          await client.send(
            new DeleteObjectsCommand({
              Bucket,
              Delete: { Objects: page.keys.map((k) => ({ Key: k.key })), Quiet: true },
            }),
          );
          deleted += page.keys.length;
        }
        token = page.nextToken;
      } while (token);
      return deleted;
    },

    destroy(): void {
      client.destroy();
    },
  };
}
