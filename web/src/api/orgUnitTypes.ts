// /api/v2/orgunittypes/: the levels of the pyramid (country, region, district, health facility...).

import { api } from './client';
import { fetchPage, type PageParams } from './paging';
import type { Project } from './projects';

export interface OrgUnitTypeRef {
  id: number;
  name: string;
  short_name: string;
  depth: number | null;
}

export interface OrgUnitType extends OrgUnitTypeRef {
  projects: Project[];
  sub_unit_types: OrgUnitTypeRef[];
  allow_creating_sub_unit_types: OrgUnitTypeRef[];
  units_count?: number;
  created_at: number;
  updated_at: number;
}

export interface OrgUnitTypeBody {
  name?: string;
  short_name?: string;
  depth?: number | null;
  project_ids?: number[];
  sub_unit_type_ids?: number[];
  allow_creating_sub_unit_type_ids?: number[];
}

export function listOrgUnitTypes(params: PageParams, search: string | undefined, signal?: AbortSignal) {
  return fetchPage<OrgUnitType>('/api/v2/orgunittypes/', 'orgUnitTypes', params, { search, with_units_count: true }, signal);
}

/** Every type of the account (for pickers). */
export async function allOrgUnitTypes(): Promise<OrgUnitType[]> {
  const data = await api.get<{ orgUnitTypes: OrgUnitType[] }>('/api/v2/orgunittypes/');
  return data.orgUnitTypes;
}

export const createOrgUnitType = (body: OrgUnitTypeBody) => api.post<OrgUnitType>('/api/v2/orgunittypes/', body);
export const updateOrgUnitType = (id: number, body: OrgUnitTypeBody) =>
  api.patch<OrgUnitType>(`/api/v2/orgunittypes/${id}/`, body);
export const deleteOrgUnitType = (id: number) => api.delete(`/api/v2/orgunittypes/${id}/`);
