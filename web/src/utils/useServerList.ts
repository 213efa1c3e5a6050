// A server-paged list bound to the URL: reads page, size, order and filters from the query,
// fetches (cancelling the previous request), and changes the query when the user acts.

import { onBeforeUnmount, ref, shallowRef, watch } from 'vue';
import { useRoute, useRouter } from 'vue-router';
import { ApiError } from '../api/client';
import type { Page, PageParams } from '../api/paging';
import { parseListQuery, toListQuery, type Filters, type ListState, type RouteQuery } from './listQuery';

export interface ServerListOptions<T, F extends Filters> {
  fetch: (params: PageParams, filters: F, signal: AbortSignal) => Promise<Page<T>>;
  filters: F;
  limit?: number;
  order?: string;
}

export function useServerList<T, F extends Filters>(opts: ServerListOptions<T, F>) {
  const route = useRoute();
  const router = useRouter();
  const routeName = route.name;
  const defaults = { limit: opts.limit ?? 20, order: opts.order ?? '', filters: opts.filters };

  const state = ref(parseListQuery(route.query as RouteQuery, defaults)) as { value: ListState<F> };
  const rows = shallowRef<T[]>([]);
  const count = ref(0);
  const pages = ref(1);
  const loading = ref(false);
  const loaded = ref(false);
  const error = ref<unknown>(null);
  let controller: AbortController | null = null;

  async function load(): Promise<void> {
    controller?.abort();
    const c = new AbortController();
    controller = c;
    loading.value = true;
    error.value = null;
    const s = state.value;
    try {
      const page = await opts.fetch({ page: s.page, limit: s.limit, order: s.order || undefined }, s.filters, c.signal);
      if (c.signal.aborted) return;
      rows.value = page.items;
      count.value = page.count;
      pages.value = page.pages;
      loaded.value = true;
    } catch (e) {
      if (c.signal.aborted || (e instanceof DOMException && e.name === 'AbortError')) return;
      // A page beyond the last (rows deleted meanwhile): go back to the first.
      if (e instanceof ApiError && e.status === 404 && s.page > 1) {
        update({ page: 1 }, true);
        return;
      }
      error.value = e;
    } finally {
      if (controller === c) loading.value = false;
    }
  }

  function update(change: Partial<ListState<F>>, replace = false): void {
    const next = { ...state.value, ...change };
    const query = toListQuery(next, defaults);
    const nav = replace ? router.replace({ query }) : router.push({ query });
    void nav;
  }

  watch(
    () => route.query,
    (q) => {
      if (route.name !== routeName) return;
      state.value = parseListQuery(q as RouteQuery, defaults);
      void load();
    },
  );

  onBeforeUnmount(() => controller?.abort());
  void load();

  return {
    state,
    rows,
    count,
    pages,
    loading,
    loaded,
    error,
    reload: load,
    setPage: (page: number) => update({ page }),
    setLimit: (limit: number) => update({ limit, page: 1 }),
    setOrder: (order: string) => update({ order, page: 1 }),
    /** New filters start again from the first page; typing replaces the history entry. */
    setFilters: (filters: Partial<F>) => update({ filters: { ...state.value.filters, ...filters }, page: 1 }, true),
  };
}
