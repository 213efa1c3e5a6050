// The HTTP client every page goes through: same-origin cookies (the session from POST /login/),
// the CSRF header on writes, JSON in and out, and API errors turned into `ApiError`.

export type FieldErrors = Record<string, string[]>;

/** An answer other than 2xx, or no answer at all (`status` 0). */
export class ApiError extends Error {
  readonly status: number;
  /** DRF's `{"detail": "..."}` sentence, when the server sent one. */
  readonly detail: string | null;
  /** DRF's `{"field": ["message", ...]}` errors, when the server sent them. */
  readonly fields: FieldErrors;
  /** For 429: seconds to wait, from `Retry-After`. */
  readonly retryAfter: number | null;

  constructor(status: number, detail: string | null, fields: FieldErrors = {}, retryAfter: number | null = null) {
    super(detail ?? `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.detail = detail;
    this.fields = fields;
    this.retryAfter = retryAfter;
  }

  /** Field errors not attached to a known form field (`non_field_errors` and the like). */
  otherFieldErrors(known: readonly string[]): string[] {
    return Object.entries(this.fields)
      .filter(([k]) => !known.includes(k))
      .flatMap(([k, msgs]) => msgs.map((m) => (k === 'non_field_errors' ? m : `${k}: ${m}`)));
  }
}

type Listener = () => void;
const unauthenticatedListeners = new Set<Listener>();

/** Called whenever an API call answers 401 (the session ended or was never there). */
export function onUnauthenticated(fn: Listener): () => void {
  unauthenticatedListeners.add(fn);
  return () => unauthenticatedListeners.delete(fn);
}

/** The `csrftoken` cookie set by POST /login/. */
export function csrfToken(cookies: string = document.cookie): string | null {
  for (const part of cookies.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === 'csrftoken') return decodeURIComponent(rest.join('='));
  }
  return null;
}

export type Query = Record<string, string | number | boolean | null | undefined | readonly (string | number)[]>;

/** `?a=1&b=x,y`, leaving out empty values; lists are comma-separated as Iaso expects. */
export function queryString(query: Query | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) {
      if (v.length) params.set(k, v.join(','));
    } else {
      params.set(k, String(v));
    }
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  signal?: AbortSignal;
  /** Do not announce a 401 (the login call itself, the first session probe). */
  quiet401?: boolean;
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  let body: BodyInit | undefined;
  if (opts.body instanceof FormData) {
    body = opts.body;
  } else if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  if (!SAFE.has(method)) {
    const token = csrfToken();
    if (token) headers['X-CSRFToken'] = token;
  }
  let res: Response;
  try {
    res = await fetch(path + queryString(opts.query), {
      method,
      headers,
      body,
      credentials: 'same-origin',
      signal: opts.signal,
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, null);
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (res.ok) return data as T;
  if (res.status === 401 && !opts.quiet401) unauthenticatedListeners.forEach((fn) => fn());
  throw toApiError(res.status, data, res.headers.get('Retry-After'));
}

export function toApiError(status: number, data: unknown, retryAfter: string | null = null): ApiError {
  let detail: string | null = null;
  const fields: FieldErrors = {};
  if (data && typeof data === 'object' && !Array.isArray(data)) {
    for (const [k, v] of Object.entries(data as Record<string, unknown>)) {
      if (k === 'detail' && typeof v === 'string') detail = v;
      else if (k === 'code') continue;
      else if (Array.isArray(v)) fields[k] = v.map(String);
      else if (typeof v === 'string') fields[k] = [v];
    }
  } else if (Array.isArray(data)) {
    // Iaso's org unit writes answer `[{errorKey: field, errorMessage: text}]`.
    for (const item of data) {
      if (item && typeof item === 'object' && 'errorKey' in item) {
        const { errorKey, errorMessage } = item as { errorKey: unknown; errorMessage: unknown };
        (fields[String(errorKey)] ??= []).push(String(errorMessage));
      } else {
        (fields.non_field_errors ??= []).push(String(item));
      }
    }
  } else if (typeof data === 'string' && data) {
    // Some Iaso endpoints answer a bare JSON string (e.g. "this type is still used").
    detail = data;
  }
  const wait = retryAfter ? Number.parseInt(retryAfter, 10) : NaN;
  return new ApiError(status, detail, fields, Number.isFinite(wait) ? wait : null);
}

export const api = {
  get: <T>(path: string, opts?: RequestOptions) => request<T>('GET', path, opts),
  post: <T>(path: string, body?: unknown, opts?: RequestOptions) => request<T>('POST', path, { ...opts, body }),
  patch: <T>(path: string, body?: unknown, opts?: RequestOptions) => request<T>('PATCH', path, { ...opts, body }),
  put: <T>(path: string, body?: unknown, opts?: RequestOptions) => request<T>('PUT', path, { ...opts, body }),
  delete: <T = void>(path: string, opts?: RequestOptions) => request<T>('DELETE', path, opts),
};
