// Iaso's list envelope: `{count, <key>: [...], has_next, has_previous, page, pages, limit}`
// when `limit` is given. `fetchPage` turns it into one shape for the table component.

import { api, type Query } from './client';

export interface Page<T> {
  items: T[];
  count: number;
  page: number;
  pages: number;
  limit: number;
}

export interface PageParams {
  page: number;
  limit: number;
  order?: string;
}

export async function fetchPage<T>(
  path: string,
  key: string,
  params: PageParams,
  query: Query = {},
  signal?: AbortSignal,
): Promise<Page<T>> {
  const data = await api.get<Record<string, unknown>>(path, {
    query: { ...query, limit: params.limit, page: params.page, order: params.order },
    signal,
  });
  const items = (data[key] as T[] | undefined) ?? [];
  return {
    items,
    count: typeof data.count === 'number' ? data.count : items.length,
    page: typeof data.page === 'number' ? data.page : params.page,
    pages: typeof data.pages === 'number' ? data.pages : 1,
    limit: typeof data.limit === 'number' ? data.limit : params.limit,
  };
}
