// List state in the URL (`?page=2&limit=50&order=-name&search=jo&user_roles=3,4`), so that a
// list can be bookmarked, shared and walked with the back button.

export type FilterValue = string | number[];
export type Filters = Record<string, FilterValue>;
export type RouteQuery = Record<string, string | null | (string | null)[] | undefined>;

export interface ListState<F extends Filters> {
  page: number;
  limit: number;
  order: string;
  filters: F;
}

function first(v: RouteQuery[string]): string | undefined {
  if (Array.isArray(v)) return v[0] ?? undefined;
  return v ?? undefined;
}

function positiveInt(v: string | undefined, fallback: number, max = 10_000): number {
  const n = v === undefined ? NaN : Number.parseInt(v, 10);
  return Number.isFinite(n) && n >= 1 ? Math.min(n, max) : fallback;
}

export function parseListQuery<F extends Filters>(
  q: RouteQuery,
  defaults: { limit: number; order: string; filters: F },
): ListState<F> {
  const filters = { ...defaults.filters };
  for (const [k, def] of Object.entries(defaults.filters)) {
    const raw = first(q[k]);
    if (raw === undefined) continue;
    if (Array.isArray(def)) {
      (filters as Filters)[k] = raw
        .split(',')
        .map((s) => Number.parseInt(s, 10))
        .filter((n) => Number.isFinite(n));
    } else {
      (filters as Filters)[k] = raw;
    }
  }
  return {
    page: positiveInt(first(q.page), 1),
    limit: positiveInt(first(q.limit), defaults.limit, 500),
    order: first(q.order) ?? defaults.order,
    filters,
  };
}

/** The query for a state, leaving out defaults so that URLs stay short. */
export function toListQuery<F extends Filters>(
  s: ListState<F>,
  defaults: { limit: number; order: string; filters: F },
): Record<string, string> {
  const q: Record<string, string> = {};
  if (s.page !== 1) q.page = String(s.page);
  if (s.limit !== defaults.limit) q.limit = String(s.limit);
  if (s.order !== defaults.order) q.order = s.order;
  for (const [k, v] of Object.entries(s.filters)) {
    const text = Array.isArray(v) ? v.join(',') : v;
    if (text !== '') q[k] = text;
  }
  return q;
}
