// Named filter sets of the org unit list, kept in this browser (localStorage) per user and
// account: neither Iaso nor this server has an API for them (docs/decisions/0600).

export interface SavedSearch {
  name: string;
  /** The list's query (filters, order, page size), as in the URL. */
  query: Record<string, string>;
  savedAt: number;
}

const PREFIX = 'iaso.orgunits.searches';

function key(userId: number, accountId: number): string {
  return `${PREFIX}.${userId}.${accountId}`;
}

export function loadSearches(userId: number, accountId: number, storage: Storage = localStorage): SavedSearch[] {
  try {
    const raw = storage.getItem(key(userId, accountId));
    const parsed: unknown = raw ? JSON.parse(raw) : [];
    if (!Array.isArray(parsed)) return [];
    return parsed.filter(
      (s): s is SavedSearch => !!s && typeof s === 'object' && typeof (s as SavedSearch).name === 'string' && typeof (s as SavedSearch).query === 'object',
    );
  } catch {
    return [];
  }
}

/** Saves (or replaces, by name) a search; the list stays sorted by name. */
export function saveSearch(userId: number, accountId: number, search: SavedSearch, storage: Storage = localStorage): SavedSearch[] {
  const list = loadSearches(userId, accountId, storage).filter((s) => s.name !== search.name);
  list.push(search);
  list.sort((a, b) => a.name.localeCompare(b.name));
  storage.setItem(key(userId, accountId), JSON.stringify(list));
  return list;
}

export function deleteSearch(userId: number, accountId: number, name: string, storage: Storage = localStorage): SavedSearch[] {
  const list = loadSearches(userId, accountId, storage).filter((s) => s.name !== name);
  storage.setItem(key(userId, accountId), JSON.stringify(list));
  return list;
}
