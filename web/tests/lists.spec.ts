import { describe, expect, it } from 'vitest';
import { visibleWindow } from '../src/utils/virtual';
import { parseListQuery, toListQuery } from '../src/utils/listQuery';
import { safeNext } from '../src/router';

describe('visibleWindow', () => {
  it('renders only the rows in view plus a margin', () => {
    const w = visibleWindow(44 * 5000, 600, 44, 10_000, 8);
    expect(w.start).toBe(4992);
    expect(w.end - w.start).toBeLessThan(40);
    expect(w.padTop + (w.end - w.start) * 44 + w.padBottom).toBe(10_000 * 44);
  });

  it('clamps at both ends', () => {
    expect(visibleWindow(0, 600, 44, 10, 8)).toEqual({ start: 0, end: 10, padTop: 0, padBottom: 0 });
    const end = visibleWindow(1e9, 600, 44, 100, 8);
    expect(end.end).toBe(100);
    expect(visibleWindow(0, 600, 44, 0)).toEqual({ start: 0, end: 0, padTop: 0, padBottom: 0 });
  });
});

describe('list query', () => {
  const defaults = { limit: 20, order: 'user__username', filters: { search: '', user_roles: [] as number[] } };

  it('reads and writes page, size, order and filters', () => {
    const s = parseListQuery({ page: '3', limit: '50', order: '-id', search: 'jo', user_roles: '4,x,7' }, defaults);
    expect(s).toEqual({ page: 3, limit: 50, order: '-id', filters: { search: 'jo', user_roles: [4, 7] } });
    expect(toListQuery(s, defaults)).toEqual({ page: '3', limit: '50', order: '-id', search: 'jo', user_roles: '4,7' });
  });

  it('leaves defaults out and ignores nonsense', () => {
    const s = parseListQuery({ page: '-2', limit: 'many' }, defaults);
    expect(s.page).toBe(1);
    expect(s.limit).toBe(20);
    expect(toListQuery(s, defaults)).toEqual({});
  });
});

describe('safeNext', () => {
  it('follows same-site paths only', () => {
    expect(safeNext('/users?page=2')).toBe('/users?page=2');
    expect(safeNext('//evil.example')).toBe('/');
    expect(safeNext('https://evil.example')).toBe('/');
    expect(safeNext(undefined)).toBe('/');
  });
});
