import { describe, expect, it } from 'vitest';
import { EMPTY_FILTERS, dmy, exportUrl, filterQuery } from '../src/api/orgUnits';
import { toApiError } from '../src/api/client';
import { deleteSearch, loadSearches, saveSearch } from '../src/utils/savedSearches';
import { queryString } from '../src/api/client';

describe('org unit filters', () => {
  it('become Iaso query parameters', () => {
    const q = filterQuery({ ...EMPTY_FILTERS, search: 'kin', types: [3, 4], groups: [7], parent: '12', openOn: '2024-03-05', version: '9', source: '2' });
    expect(queryString(q)).toBe('?search=kin&orgUnitTypeId=3%2C4&validation_status=VALID&version=9&group=7&orgUnitParentId=12&open_date=05-03-2024');
  });
  it('ask every status with "all"', () => {
    expect(filterQuery({ ...EMPTY_FILTERS, status: 'all' }).validation_status).toBe('all');
  });
  it('a source without a version means its default version', () => {
    expect(filterQuery({ ...EMPTY_FILTERS, source: '2' }).source).toBe('2');
  });
  it('export the filter in a file format', () => {
    expect(exportUrl({ ...EMPTY_FILTERS, search: 'a' }, 'csv', 'name')).toBe('/api/orgunits/?search=a&validation_status=VALID&defaultVersion=true&order=name&csv=true');
  });
  it('convert dates', () => {
    expect(dmy('2024-12-31')).toBe('31-12-2024');
    expect(dmy('31/12/2024')).toBeUndefined();
  });
});

describe('org unit write errors', () => {
  it("Iaso's [{errorKey, errorMessage}] become field errors", () => {
    const e = toApiError(400, [{ errorKey: 'name', errorMessage: 'Too long' }, { errorKey: 'name', errorMessage: 'Bad' }, 'plain']);
    expect(e.fields).toEqual({ name: ['Too long', 'Bad'], non_field_errors: ['plain'] });
  });
});

describe('saved searches', () => {
  function memory(): Storage {
    const m = new Map<string, string>();
    return {
      getItem: (k: string) => m.get(k) ?? null,
      setItem: (k: string, v: string) => void m.set(k, v),
      removeItem: (k: string) => void m.delete(k),
      clear: () => m.clear(),
      key: () => null,
      get length() {
        return m.size;
      },
    };
  }
  it('are kept per user and account, sorted, replaced by name', () => {
    const s = memory();
    saveSearch(1, 10, { name: 'b', query: { search: 'x' }, savedAt: 1 }, s);
    saveSearch(1, 10, { name: 'a', query: { types: '3' }, savedAt: 2 }, s);
    saveSearch(1, 10, { name: 'b', query: { search: 'y' }, savedAt: 3 }, s);
    expect(loadSearches(1, 10, s).map((x) => [x.name, x.query])).toEqual([
      ['a', { types: '3' }],
      ['b', { search: 'y' }],
    ]);
    expect(loadSearches(1, 11, s)).toEqual([]);
    expect(loadSearches(2, 10, s)).toEqual([]);
    expect(deleteSearch(1, 10, 'a', s).map((x) => x.name)).toEqual(['b']);
  });
  it('survive broken storage', () => {
    const s = memory();
    s.setItem('iaso.orgunits.searches.1.1', '{not json');
    expect(loadSearches(1, 1, s)).toEqual([]);
  });
});
