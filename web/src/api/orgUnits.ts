// /api/orgunits/: search and list (Iaso's filters), map mode (`asLocation`), detail, changes,
// creation, the lazy tree, and file exports of a filter.

import { api, queryString, type Query } from './client';
import { fetchPage, type PageParams } from './paging';

export type ValidationStatus = 'NEW' | 'VALID' | 'REJECTED';
export const VALIDATION_STATUSES: readonly ValidationStatus[] = ['VALID', 'NEW', 'REJECTED'];

export interface GroupRef {
  id: number;
  name: string;
  source_ref?: string | null;
}

export interface ParentRef {
  id: number;
  name: string;
  parent: ParentRef | null;
  org_unit_type_name?: string | null;
}

/** An item of the paged list (Iaso's `OrgUnitSearchSerializer`). */
export interface OrgUnitListItem {
  id: number;
  name: string;
  parent_id: number | null;
  parent_name: string | null;
  parent: ParentRef | null;
  validation_status: ValidationStatus;
  source: string | null;
  source_id: number | null;
  source_ref: string | null;
  org_unit_type_name: string | null;
  org_unit_type_id: number | null;
  latitude: number | null;
  longitude: number | null;
  has_geo_json: boolean;
  created_at: number;
  updated_at: number;
  groups: GroupRef[];
  search_index?: number;
}

export interface FeatureCollection {
  type: 'FeatureCollection';
  features: { type: 'Feature'; geometry: { type: string; coordinates: unknown } | null; properties?: unknown }[];
}

/** Map mode (`asLocation`): one located unit. */
export interface OrgUnitLocation {
  id: number;
  name: string;
  parent_name: string | null;
  latitude: number | null;
  longitude: number | null;
  has_geo_json: boolean;
  org_unit_type: string | null;
  org_unit_type_id: number | null;
  org_unit_type_depth: number | null;
  geo_json: FeatureCollection | null;
  search_index?: number;
}

export interface OrgUnitTypeSmall {
  id: number;
  name: string;
  short_name: string;
  depth: number | null;
}

/** The detail (`as_dict_with_parents`). */
export interface OrgUnitDetail {
  id: number;
  name: string;
  code: string | null;
  source_ref: string | null;
  parent_id: number | null;
  parent: OrgUnitDetail | null;
  validation_status: ValidationStatus;
  org_unit_type_id: number | null;
  org_unit_type_name: string | null;
  org_unit_type: OrgUnitTypeSmall | null;
  aliases: string[] | null;
  latitude: number | null;
  longitude: number | null;
  altitude: number | null;
  has_geo_json: boolean;
  geo_json: FeatureCollection | null;
  catchment: FeatureCollection | null;
  groups: (GroupRef & { source_version?: { id: number; number: number } | null })[];
  opening_date: string | null;
  closed_date: string | null;
  source: string | null;
  source_id: number | null;
  version: number | null;
  version_id: number | null;
  creator: string | null;
  created_at: number;
  updated_at: number;
}

export interface TreeNode {
  id: number;
  name: string;
  validation_status: ValidationStatus;
  has_children: boolean;
  org_unit_type_id: number | null;
  org_unit_type_short_name: string | null;
}

/** The list filters as the dashboard keeps them (in the URL, and in saved searches). */
export interface OrgUnitFilters {
  [k: string]: string | number[];
  search: string;
  types: number[];
  status: string;
  source: string;
  version: string;
  groups: number[];
  parent: string;
  geography: string;
  openOn: string;
  openedOn: string;
  closedOn: string;
}

export const EMPTY_FILTERS: OrgUnitFilters = {
  search: '',
  types: [],
  status: 'VALID',
  source: '',
  version: '',
  groups: [],
  parent: '',
  geography: '',
  openOn: '',
  openedOn: '',
  closedOn: '',
};

/** `YYYY-MM-DD` (a date input) → `DD-MM-YYYY` (Iaso's org unit filters). */
export function dmy(iso: string): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
  return m ? `${m[3]}-${m[2]}-${m[1]}` : undefined;
}

/** Our filters → Iaso's query parameters of `GET /api/orgunits/`. */
export function filterQuery(f: OrgUnitFilters): Query {
  return {
    search: f.search || undefined,
    orgUnitTypeId: f.types,
    validation_status: f.status || 'VALID',
    source: f.version ? undefined : f.source || undefined,
    version: f.version || undefined,
    // Neither a source nor a version: the account's default version (as Iaso's dashboard does).
    defaultVersion: f.source || f.version ? undefined : true,
    group: f.groups,
    orgUnitParentId: f.parent || undefined,
    geography: f.geography || undefined,
    open_date: dmy(f.openOn),
    opening_date: dmy(f.openedOn),
    closed_date: dmy(f.closedOn),
  };
}

export function listOrgUnits(params: PageParams, f: OrgUnitFilters, signal?: AbortSignal) {
  return fetchPage<OrgUnitListItem>('/api/orgunits/', 'orgunits', params, filterQuery(f), signal);
}

/** Map mode: the first `limit` located units of the filter, inside `bbox` when given. */
export function mapOrgUnits(f: OrgUnitFilters, limit: number, bbox: [number, number, number, number] | null, signal?: AbortSignal) {
  return api.get<OrgUnitLocation[]>('/api/orgunits/', {
    query: { ...filterQuery(f), asLocation: true, limit, bbox: bbox ? bbox.map((x) => x.toFixed(5)) : undefined, order: 'id' },
    signal,
  });
}

export type ExportFormat = 'csv' | 'xlsx' | 'gpkg' | 'geojson';

/** The download address of the filter in a file format (`GET /api/orgunits/?csv=true&...`). */
export function exportUrl(f: OrgUnitFilters, format: ExportFormat, order?: string): string {
  return '/api/orgunits/' + queryString({ ...filterQuery(f), order: order || undefined, [format]: true });
}

export const getOrgUnit = (id: number, signal?: AbortSignal) => api.get<OrgUnitDetail>(`/api/orgunits/${id}/`, { signal });

export interface OrgUnitChanges {
  name?: string;
  org_unit_type_id?: number | null;
  validation_status?: ValidationStatus;
  parent_id?: number | null;
  source_ref?: string | null;
  code?: string | null;
  aliases?: string[];
  groups?: number[];
  opening_date?: string | null;
  closed_date?: string | null;
  latitude?: number | null;
  longitude?: number | null;
  altitude?: number | null;
  geo_json?: FeatureCollection | null;
}

export const updateOrgUnit = (id: number, body: OrgUnitChanges) => api.patch<OrgUnitDetail>(`/api/orgunits/${id}/`, body);

export const createOrgUnit = (body: OrgUnitChanges & { name: string }) =>
  api.post<OrgUnitDetail>('/api/orgunits/create_org_unit/', body);

export interface TreeOptions {
  version?: number | null;
  status?: string[];
}

function treeQuery(o: TreeOptions): Query {
  return { version: o.version ?? undefined, validation_status: o.status };
}

/** One level of the tree: the roots, or the children of `parent`. */
export const treeLevel = (parent: number | null, o: TreeOptions = {}, signal?: AbortSignal) =>
  api.get<TreeNode[]>('/api/orgunits/tree/', { query: { ...treeQuery(o), parent_id: parent ?? undefined, ordering: 'name' }, signal });

export async function treeSearch(search: string, o: TreeOptions = {}, limit = 20, signal?: AbortSignal) {
  const data = await api.get<{ count: number; results: TreeNode[] }>('/api/orgunits/tree/search/', {
    query: { ...treeQuery(o), search, limit },
    signal,
  });
  return data;
}

/** Ids from the root down to `unit` itself, from a detail answer. */
export function ancestry(unit: OrgUnitDetail): { id: number; name: string; type: string | null }[] {
  const chain: { id: number; name: string; type: string | null }[] = [];
  let u: OrgUnitDetail | null = unit;
  while (u) {
    chain.unshift({ id: u.id, name: u.name, type: u.org_unit_type_name ?? null });
    u = u.parent;
  }
  return chain;
}
