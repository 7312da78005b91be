/**
 * The domain's error values. Anything thrown from a route, service or job that a user can fix is one of these;
 * src/api/problem.ts turns them into application/problem+json. `type` is a stable slug clients may match on.
 */
export interface ProblemFields {
  /** The request field at fault, where there is one (`file`, `images`, `split`, …). */
  field?: string;
  /** Extra machine-readable facts (limits, offending entry names). */
  extra?: Record<string, unknown>;
  /** A more specific stable slug than the class's default (`one-class`, `not-an-archive`, …). */
  type?: string;
}

export class AppError extends Error {
  readonly status: number;
  readonly type: string;
  readonly title: string;
  readonly field?: string;
  readonly extra?: Record<string, unknown>;

  constructor(status: number, type: string, title: string, detail: string, fields: ProblemFields = {}) {
    super(detail);
    this.name = new.target.name;
    this.status = status;
    this.type = type;
    this.title = title;
    this.field = fields.field;
    this.extra = fields.extra;
  }
}

/** 400: the request is malformed or its content is unusable. */
export class BadRequest extends AppError {
  constructor(detail: string, fields: ProblemFields = {}) {
    super(400, fields.type ?? 'bad-request', 'Bad request', detail, fields);
  }
}

/** 401: missing or unknown API key. */
export class Unauthorized extends AppError {
  constructor(detail = 'Send an API key as "Authorization: Bearer <key>".') {
    super(401, 'unauthorized', 'Unauthorized', detail);
  }
}

/** 404: no such resource for this tenant (other tenants' resources are reported the same way). */
export class NotFound extends AppError {
  constructor(detail: string, fields: ProblemFields = {}) {
    super(404, fields.type ?? 'not-found', 'Not found', detail, fields);
  }
}

/** 409: the resource exists but is in the wrong state for this request. */
export class Conflict extends AppError {
  constructor(detail: string, fields: ProblemFields = {}) {
    super(409, fields.type ?? 'conflict', 'Conflict', detail, fields);
  }
}

/** 413: a size or count limit was exceeded. */
export class TooLarge extends AppError {
  constructor(detail: string, fields: ProblemFields = {}) {
    super(413, fields.type ?? 'too-large', 'Payload too large', detail, fields);
  }
}

/** 415: the body's media type is not one this route reads. */
export class UnsupportedMediaType extends AppError {
  constructor(detail: string, fields: ProblemFields = {}) {
    super(415, fields.type ?? 'unsupported-media-type', 'Unsupported media type', detail, fields);
  }
}

/** 422: the input parsed but cannot make a valid resource (one class only, mismatched IDX counts, …). */
export class Unprocessable extends AppError {
  constructor(detail: string, fields: ProblemFields = {}) {
    super(422, fields.type ?? 'unprocessable', 'Unprocessable content', detail, fields);
  }
}

/** 429: the model's queue is full; `retryAfterSeconds` is the estimated time until it drains. */
export class Overloaded extends AppError {
  readonly retryAfterSeconds: number;

  constructor(detail: string, retryAfterSeconds: number, fields: ProblemFields = {}) {
    super(429, fields.type ?? 'overloaded', 'Too many requests', detail, {
      ...fields,
      extra: { ...fields.extra, retryAfterSeconds },
    });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** 503: a dependency (Redis, object storage) is unreachable. */
export class Unavailable extends AppError {
  constructor(detail: string, fields: ProblemFields = {}) {
    super(503, fields.type ?? 'unavailable', 'Service unavailable', detail, fields);
  }
}
