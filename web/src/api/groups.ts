// /api/groups/ and /api/group_sets/: groups of org units, and sets of groups.

import { api } from './client';
import { fetchPage, type PageParams } from './paging';

export interface VersionRef {
  id: number;
  number: number;
  data_source: { id: number; name: string };
}

export interface Group {
  id: number;
  name: string;
  source_ref: string | null;
  source_version: VersionRef;
  org_unit_count?: number;
  group_sets: { id: number; name: string }[];
  block_of_countries: boolean;
  created_at: number;
  updated_at: number;
}

export interface GroupSet {
  id: number;
  name: string;
  source_ref: string | null;
  group_belonging: string;
  source_version: VersionRef;
  group_ids: number[];
  groups?: { id: number; name: string }[];
  created_at: number;
  updated_at: number;
}

export interface GroupBody {
  name: string;
  source_ref: string | null;
}

export interface GroupSetBody {
  name: string;
  source_ref: string | null;
  group_belonging: string;
  source_version_id?: number;
  group_ids: number[];
}

export function listGroups(params: PageParams, f: { search: string; version: string }, signal?: AbortSignal) {
  return fetchPage<Group>('/api/groups/', 'groups', params, { search: f.search || undefined, version: f.version || undefined, light: undefined }, signal);
}

/** `[{id, name, label}]`, for pickers (every group of the account's versions, or one version). */
export const groupsDropdown = (version?: number | null) =>
  api.get<{ id: number; name: string; label: string }[]>('/api/groups/dropdown/', { query: { version: version ?? undefined } });

export const createGroup = (body: GroupBody) => api.post<Group>('/api/groups/', body);
export const updateGroup = (id: number, body: Partial<GroupBody>) => api.patch<Group>(`/api/groups/${id}/`, body);
export const deleteGroup = (id: number) => api.delete(`/api/groups/${id}/`);

export function listGroupSets(params: PageParams, f: { search: string }, signal?: AbortSignal) {
  return fetchPage<GroupSet>('/api/group_sets/', 'group_sets', params, { search: f.search || undefined, fields: ':all', ordering: params.order }, signal);
}
export const createGroupSet = (body: GroupSetBody) => api.post<GroupSet>('/api/group_sets/', body);
export const updateGroupSet = (id: number, body: Partial<GroupSetBody>) => api.patch<GroupSet>(`/api/group_sets/${id}/`, body);
export const deleteGroupSet = (id: number) => api.delete(`/api/group_sets/${id}/`);
