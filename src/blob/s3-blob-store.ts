import type { Readable } from "node:stream";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { AteError, Code } from "../errors/index.ts";
import type { BlobInfo, BlobOptions, BlobStore } from "./blob-store.ts";
import { checkKey, joinKey } from "./keys.ts";

export interface S3Options {
  /** Custom endpoint (S3-compatible servers); default from AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL. */
  endpoint?: string;
  region?: string;
  /** Path-style addressing; default on whenever a custom endpoint is used. */
  forcePathStyle?: boolean;
  /** Parts uploaded at once for one object. Default 4. */
  queueSize?: number;
}

/**
 * One client per configuration for the process: every snapshot opens a store of its own, and a
 * fresh client would resolve credentials and open new connections (TCP, TLS) each time, on the
 * checkpoint's and the restore's critical path. Credentials stay the SDK's own (resolved and
 * refreshed by the client), so they are part of the key only as far as the environment names them.
 */
const clients = new Map<string, S3Client>();

function sharedClient(config: S3ClientConfig): S3Client {
  const key = JSON.stringify([
    config,
    process.env.AWS_ACCESS_KEY_ID ?? "",
    process.env.AWS_PROFILE ?? "",
  ]);
  let client = clients.get(key);
  if (!client) {
    client = new S3Client(config);
    clients.set(key, client);
  }
  return client;
}

/** s3://bucket/prefix, streamed with multipart uploads. */
export class S3BlobStore implements BlobStore {
  readonly uri: string;
  private readonly client: S3Client;

  constructor(
    private readonly bucket: string,
    private readonly prefix: string,
    private readonly options: S3Options = {},
  ) {
    this.uri = `s3://${bucket}${prefix ? `/${prefix}` : ""}`;
    const endpoint =
      options.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
    const config: S3ClientConfig = {
      region: options.region ?? process.env.AWS_REGION ?? "us-east-1",
      forcePathStyle: options.forcePathStyle ?? !!endpoint,
      ...(endpoint ? { endpoint } : {}),
    };
    this.client = sharedClient(config);
  }

  async put(key: string, body: Readable | Buffer, options: BlobOptions = {}): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.key(key), Body: body },
      queueSize: this.options.queueSize ?? 4,
    });
    const abort = () => void upload.abort();
    options.signal?.addEventListener("abort", abort, { once: true });
    try {
      await upload.done();
    } finally {
      options.signal?.removeEventListener("abort", abort);
    }
  }

  async get(key: string, options: BlobOptions = {}): Promise<Readable> {
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }),
        { abortSignal: options.signal },
      );
      return out.Body as Readable;
    } catch (err) {
      throw this.mapError(err, key);
    }
  }

  async stat(key: string, options: BlobOptions = {}): Promise<BlobInfo | undefined> {
    try {
      const out = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(key) }),
        { abortSignal: options.signal },
      );
      return { key, size: out.ContentLength ?? 0 };
    } catch (err) {
      if (this.mapError(err, key).code === Code.NotFound) return undefined;
      throw this.mapError(err, key);
    }
  }

  async list(prefix: string, options: BlobOptions = {}): Promise<BlobInfo[]> {
    const out: BlobInfo[] = [];
    const base = this.prefix ? `${this.prefix}/` : "";
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: base + prefix,
          ContinuationToken: token,
        }),
        { abortSignal: options.signal },
      );
      for (const o of page.Contents ?? [])
        if (o.Key)
          out.push({
            key: o.Key.slice(base.length),
            size: o.Size ?? 0,
            ...(o.LastModified ? { modifiedAt: o.LastModified.getTime() } : {}),
          });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string, options: BlobOptions = {}): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(key) }), {
      abortSignal: options.signal,
    });
  }

  private key(key: string): string {
    return joinKey(this.prefix, checkKey(key));
  }

  private mapError(err: unknown, key: string): AteError {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (e.name === "NoSuchKey" || e.name === "NotFound" || e.$metadata?.httpStatusCode === 404) {
      return new AteError(Code.NotFound, `blob ${this.uri}/${key} not found`);
    }
    return new AteError(Code.Unavailable, `s3 ${this.uri}/${key}: ${(err as Error).message}`, [], {
      cause: err,
    });
  }
}
