import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, csrfToken, onUnauthenticated, queryString, request, toApiError } from '../src/api/client';

afterEach(() => {
  vi.unstubAllGlobals();
});

function stubFetch(status: number, body: unknown, headers: Record<string, string> = {}) {
  const fn = vi.fn(async () => new Response(body === undefined ? null : JSON.stringify(body), { status, headers }));
  vi.stubGlobal('fetch', fn);
  return fn;
}

describe('helpers', () => {
  it('reads the csrftoken cookie', () => {
    expect(csrfToken('a=1; csrftoken=abc%3D; b=2')).toBe('abc=');
    expect(csrfToken('a=1')).toBeNull();
  });

  it('builds Iaso-style queries', () => {
    expect(queryString({ search: 'jo', user_roles: [3, 4], empty: '', none: undefined, page: 2 })).toBe(
      '?search=jo&user_roles=3%2C4&page=2',
    );
    expect(queryString({ projects: [] })).toBe('');
  });

  it('turns DRF errors into ApiError', () => {
    const e = toApiError(400, { user_name: ['Taken.'], non_field_errors: ['Bad.'] });
    expect(e.fields).toEqual({ user_name: ['Taken.'], non_field_errors: ['Bad.'] });
    expect(e.otherFieldErrors(['user_name'])).toEqual(['Bad.']);
    const d = toApiError(403, { detail: 'Nope.' });
    expect(d.detail).toBe('Nope.');
    expect(toApiError(429, { detail: 'Wait.' }, '12').retryAfter).toBe(12);
  });
});

describe('request', () => {
  it('sends the CSRF header on writes only', async () => {
    document.cookie = 'csrftoken=tok123';
    const fetch = stubFetch(200, { ok: true });
    await request('GET', '/api/x/');
    await request('POST', '/api/x/', { body: { a: 1 } });
    const [, getInit] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    const [, postInit] = fetch.mock.calls[1] as unknown as [string, RequestInit];
    expect((getInit.headers as Record<string, string>)['X-CSRFToken']).toBeUndefined();
    expect((postInit.headers as Record<string, string>)['X-CSRFToken']).toBe('tok123');
    expect((postInit.headers as Record<string, string>)['Content-Type']).toBe('application/json');
    expect(postInit.body).toBe('{"a":1}');
    expect(postInit.credentials).toBe('same-origin');
  });

  it('announces a 401 unless asked not to', async () => {
    const seen = vi.fn();
    const off = onUnauthenticated(seen);
    stubFetch(401, { detail: 'Authentication credentials were not provided.' });
    await expect(request('GET', '/api/x/')).rejects.toBeInstanceOf(ApiError);
    expect(seen).toHaveBeenCalledTimes(1);
    await expect(request('GET', '/api/x/', { quiet401: true })).rejects.toMatchObject({ status: 401 });
    expect(seen).toHaveBeenCalledTimes(1);
    off();
  });

  it('answers 204 with undefined and a network failure with status 0', async () => {
    stubFetch(204, undefined);
    await expect(request('DELETE', '/api/x/1/')).resolves.toBeUndefined();
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))));
    await expect(request('GET', '/api/x/')).rejects.toMatchObject({ status: 0 });
  });
});
